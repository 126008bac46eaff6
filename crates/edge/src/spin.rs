//! Spin before park: an acceptor that has just answered a request keeps
//! polling its sockets for a short while instead of sleeping in epoll, when
//! it has nothing else in flight.
//!
//! On a VM, a thread that blocks lets its vCPU halt, and waking a halted
//! vCPU for the next request costs tens of microseconds, more than a GetItem
//! takes to serve. A client on one connection sends its next request a few
//! tens of microseconds after the answer, so an acceptor that keeps polling
//! that long takes it without a wake-up. It spins only right after an
//! answer that left it with no request in flight, and stops when one
//! arrives: an idle server stays idle, and a request waiting on something
//! else (an fsync, a Lambda runtime process) costs no extra CPU, which
//! matters when that something else needs the same cores. While spinning it
//! yields the CPU to any other runnable thread (the store writer, a client
//! on the same core), so it mostly uses time the core would have spent halted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long after an answer an acceptor keeps polling: a client's wake-up
/// plus signing its next request, with room to spare (50 µs missed most
/// requests whenever the client's own vCPU had halted).
const SPIN: Duration = Duration::from_micros(100);

/// When one acceptor last answered a request, shared by its connections and its spinner.
pub(crate) struct Activity {
    origin: Instant,
    /// Nanoseconds after `origin` of the latest answer that left none in flight.
    latest: AtomicU64,
    /// Requests being served.
    in_flight: AtomicUsize,
    answered: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            origin: Instant::now(),
            latest: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            answered: Notify::new(),
        })
    }

    /// A request arrived; it counts as in flight until the guard drops
    /// (answered, or abandoned by a client that hung up).
    pub(crate) fn serving(self: &Arc<Self>) -> Serving {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Serving(self.clone())
    }

    /// A request is done: if it was the last in flight, keep polling for the next one.
    fn answered(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.latest.store(self.elapsed_ns(), Ordering::Relaxed);
            self.answered.notify_one();
        }
    }

    /// Idle since an answer moments ago: the next request is likely on its way.
    fn worth_spinning(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && self.elapsed_ns().saturating_sub(self.latest.load(Ordering::Relaxed)) < SPIN.as_nanos() as u64
    }

    fn elapsed_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// The spinner task of one current-thread runtime. A task that yields
    /// is polled again only after the runtime has checked its sockets
    /// without blocking (tokio's current-thread scheduler never parks while
    /// a yielded task waits), so yielding in a loop is spinning on epoll.
    pub(crate) async fn spin(self: Arc<Self>) {
        loop {
            self.answered.notified().await;
            while self.worth_spinning() {
                // Let any other runnable thread on this core go first.
                std::thread::yield_now();
                tokio::task::yield_now().await;
            }
        }
    }
}

/// One request in flight on an acceptor.
pub(crate) struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.answered();
    }
}
