//! What both store engines share about their single writer thread: the
//! jobs it takes (each write answered through an acknowledgement of its
//! own), the handle that queues them and joins the thread when the store
//! closes, and how the thread takes its queue in groups. Every write goes
//! through one thread so that a group shares one commit.

use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nimbus_core::BoxFuture;
use tokio::sync::oneshot;

use crate::{Result, StoreError, TxnFn, WriteBatch};

/// How the writer tells one caller what became of its write.
pub type Ack = oneshot::Sender<Result<()>>;

/// How many queued jobs one group takes at most (bounds commit latency).
pub const MAX_GROUP: usize = 512;

/// One job for the writer thread.
pub enum Job {
    Write(WriteBatch, Ack),
    Transact(TxnFn, Ack),
    /// Commit what is queued before it, then stop.
    Close,
}

pub struct WriterThread {
    /// None once the store is closing: later writes are refused.
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl WriterThread {
    /// Start the thread `name`, running `run` over the queued jobs.
    pub fn spawn(name: &str, run: impl FnOnce(mpsc::Receiver<Job>) + Send + 'static) -> Result<Self> {
        let (queue, jobs) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(name.into())
            .spawn(move || run(jobs))
            .map_err(|e| StoreError(format!("cannot start the store writer: {e}")))?;
        Ok(WriterThread { queue: Mutex::new(Some(queue)), thread: Mutex::new(Some(thread)) })
    }

    /// Apply `batch` atomically; resolves once the writer says it is durable.
    pub fn write(&self, batch: WriteBatch) -> BoxFuture<'static, Result<()>> {
        if batch.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.submit(|ack| Job::Write(batch, ack))
    }

    /// Run `txn` on the writer and apply its batch; resolves as `write` does.
    pub fn transact(&self, txn: TxnFn) -> BoxFuture<'static, Result<()>> {
        self.submit(|ack| Job::Transact(txn, ack))
    }

    fn submit(&self, make: impl FnOnce(Ack) -> Job) -> BoxFuture<'static, Result<()>> {
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

    /// Send `Job::Close` (the writer commits what was queued before it,
    /// then stops) and wait for the thread to end. Later writes are refused.
    pub fn stop(&self) {
        if let Some(queue) = lock(&self.queue).take() {
            let _ = queue.send(Job::Close);
        }
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
    }
}

/// `first` and whatever else is queued now, up to `MAX_GROUP` jobs; and
/// whether the group ends with the store closing.
pub fn take_group(first: Job, jobs: &mpsc::Receiver<Job>) -> (Vec<Job>, bool) {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
    let closing = group.iter().any(|job| matches!(job, Job::Close));
    (group, closing)
}

/// The next message on `rx`: polled for `spin`, yielding the CPU to any
/// other runnable thread meanwhile, then waited for. `None` once every
/// sender is gone. Polling first spares the wake-up of a sleeping thread
/// (tens of microseconds when its vCPU halted) when the message is near.
pub fn recv_polling<T>(rx: &mpsc::Receiver<T>, spin: Duration) -> Option<T> {
    let started = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if started.elapsed() < spin => thread::yield_now(),
            Err(mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

/// Answer every write of `group` with `cause`.
pub fn fail_all(group: Vec<Job>, cause: StoreError) {
    for job in group {
        if let Job::Write(_, ack) | Job::Transact(_, ack) = job {
            let _ = ack.send(Err(cause.clone()));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
