//! Spin before park: an acceptor keeps polling its sockets for a short
//! while instead of sleeping in epoll, right after an answer that left it
//! with nothing in flight, and while its one request in flight waits on
//! another thread or process.
//!
//! On a VM, a thread that blocks lets its vCPU halt, and waking a halted
//! vCPU costs tens of microseconds, more than a GetItem takes to serve. A
//! client on one connection sends its next request a few tens of
//! microseconds after the answer, so an acceptor that keeps polling that
//! long takes it without a wake-up; likewise a Lambda runtime's answer or
//! the store's acknowledgement of a write, when the single request waits on
//! one. With two or more requests in flight it never spins: the acceptor is
//! woken by work anyway, and the cores are needed by whatever the requests
//! wait on (many runtime processes at once). An idle server stays idle:
//! spinning ends after `SPIN` or `SPIN_WAITING`. While spinning it yields
//! the CPU to any other runnable thread (the store writer, a client on the
//! same core), so it mostly uses time the core would have spent halted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long after an answer an acceptor keeps polling: a client's wake-up
/// plus signing its next request, with room to spare (50 µs missed most
/// requests whenever the client's own vCPU had halted).
const SPIN: Duration = Duration::from_micros(100);

/// How long an acceptor keeps polling while its one request in flight waits
/// on another thread or process (a Lambda runtime's answer, the store's log
/// write): their answers then need no wake-up of this vCPU either.
const SPIN_WAITING: Duration = Duration::from_micros(300);

/// When one acceptor last answered a request, shared by its connections and its spinner.
pub(crate) struct Activity {
    origin: Instant,
    /// Nanoseconds after `origin` of the latest answer that left none in flight.
    latest: AtomicU64,
    /// Nanoseconds after `origin` when the acceptor last went from no request
    /// in flight to one.
    busy_since: AtomicU64,
    /// Requests being served.
    in_flight: AtomicUsize,
    answered: Notify,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            origin: Instant::now(),
            latest: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            answered: Notify::new(),
        })
    }

    /// A request arrived; it counts as in flight until the guard drops
    /// (answered, or abandoned by a client that hung up).
    pub(crate) fn serving(self: &Arc<Self>) -> Serving {
        if self.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            self.busy_since.store(self.elapsed_ns(), Ordering::Relaxed);
            self.answered.notify_one();
        }
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
        let now = self.elapsed_ns();
        match self.in_flight.load(Ordering::Relaxed) {
            0 => now.saturating_sub(self.latest.load(Ordering::Relaxed)) < SPIN.as_nanos() as u64,
            // The one request in flight is awaiting something (this task
            // runs only when the acceptor's thread is not busy with it).
            1 => now.saturating_sub(self.busy_since.load(Ordering::Relaxed)) < SPIN_WAITING.as_nanos() as u64,
            _ => false,
        }
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
