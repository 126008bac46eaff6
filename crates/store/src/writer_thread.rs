//! The handle a store engine keeps on its single writer thread: the queue
//! its writes travel on, each answered through an acknowledgement of its
//! own, and the thread to join when the store closes. Both engines send
//! every write through one thread so that they can commit in groups.

use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;

use nimbus_core::BoxFuture;
use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// How the writer tells one caller what became of its write.
pub type Ack = oneshot::Sender<Result<()>>;

pub struct WriterThread<Job> {
    /// None once the store is closing: later writes are refused.
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl<Job: Send + 'static> WriterThread<Job> {
    /// Start the thread `name`, running `run` over the queued jobs.
    pub fn spawn(name: &str, run: impl FnOnce(mpsc::Receiver<Job>) + Send + 'static) -> Result<Self> {
        let (queue, jobs) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(name.into())
            .spawn(move || run(jobs))
            .map_err(|e| StoreError(format!("cannot start the store writer: {e}")))?;
        Ok(WriterThread { queue: Mutex::new(Some(queue)), thread: Mutex::new(Some(thread)) })
    }

    /// Queue the job `make` builds around its acknowledgement; resolves
    /// with what the writer answers.
    pub fn submit(&self, make: impl FnOnce(Ack) -> Job) -> BoxFuture<'static, Result<()>> {
        let (ack, answer) = oneshot::channel();
        let queued = match &*lock(&self.queue) {
            Some(queue) => queue.send(make(ack)).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !queued {
                return Err(StoreError("the store is closed".into()));
            }
            answer.await.unwrap_or_else(|_| Err(StoreError("the store writer stopped".into())))
        })
    }

    /// Send `close` (the writer commits what was queued before it, then
    /// stops) and wait for the thread to end. Later writes are refused.
    pub fn stop(&self, close: Job) {
        if let Some(queue) = lock(&self.queue).take() {
            let _ = queue.send(close);
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
