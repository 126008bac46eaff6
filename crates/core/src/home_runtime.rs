//! The runtime that owns the current thread, when it runs one of its own.
//!
//! The edge's acceptor threads each run a single-threaded runtime but poll
//! request handlers inside the services' runtime context, so that what a
//! handler spawns or times outlives the acceptor. I/O that lives only while
//! one request waits on it is another matter: registered with the services'
//! reactor, its readiness would wake a services worker, which then wakes the
//! acceptor: two cross-thread wake-ups where registering with the acceptor's
//! own reactor needs none. This is where such I/O finds that reactor.

use std::cell::RefCell;

use tokio::runtime::Handle;

thread_local! {
    static HOME: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Declare `handle` the runtime this thread runs (called once per thread).
pub fn set(handle: Handle) {
    HOME.with(|home| *home.borrow_mut() = Some(handle));
}

/// The runtime this thread runs, if it declared one.
pub fn get() -> Option<Handle> {
    HOME.with(|home| home.borrow().clone())
}
