//! The threads that serve the environments' Runtime APIs.
//!
//! Single-threaded runtimes of their own, one per core, rather than the
//! services' work-stealing one: a warm invocation then touches exactly one
//! Nimbus thread besides the caller's (event out to the runtime, answer
//! back), instead of a worker that wakes another worker to steal the task,
//! each wake-up a futex and, on a VM whose idle vCPUs halt, an expensive
//! one. Environments are spread over the threads as they start, so many
//! busy environments still get every core (and a fair share of CPU next to
//! their runtime processes).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The threads' runtimes; they stop when this is dropped.
pub struct IoThreads {
    handles: Vec<Handle>,
    next: AtomicUsize,
    _stop: Vec<oneshot::Sender<()>>,
}

impl IoThreads {
    pub fn start() -> std::io::Result<IoThreads> {
        let count = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (mut handles, mut stops) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new().name(format!("nimbus-lambda-io-{i}")).spawn(move || {
                let _ = runtime.block_on(stopped);
            })?;
        }
        Ok(IoThreads { handles, next: AtomicUsize::new(0), _stop: stops })
    }

    /// The thread a new environment's Runtime API is served on.
    pub fn pick(&self) -> &Handle {
        &self.handles[self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len()]
    }
}
