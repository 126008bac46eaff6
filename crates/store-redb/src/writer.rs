//! The writer thread: group commit through the redo log.
//!
//! Every write is queued here. The writer takes everything queued (up to
//! `MAX_GROUP`) and, for the group:
//!
//! 1. applies the batches and transaction bodies inside one open redb write
//!    transaction (bodies read through it, so each sees the writes before
//!    it), collecting the ops that were applied into one log record;
//! 2. writes that record to the log, durable when the write returns;
//! 3. only then commits the redb transaction with `Durability::None` (no
//!    fsync), which makes the group visible to readers, and acknowledges.
//!
//! Readers thus never see a write a crash could still lose. When a record
//! no longer fits in the log, the group's transaction is committed with
//! `Durability::Immediate` instead (a checkpoint: redb itself now holds
//! every group durably) and the log starts a new lap at its beginning.
//!
//! The committing state (`Writer`: log, sequence, epoch) sits behind a
//! mutex: whoever holds it commits. That is normally the writer thread,
//! which drains the queue; but while writes come one at a time (the last
//! group had one job), a caller that finds nothing queued and the state
//! free commits its own write as a group of one on its own thread
//! (`commit_inline`). A lone writer (one connection) then skips two
//! cross-thread wake-ups per write, each tens of microseconds on a VM whose
//! idle vCPU has halted. Concurrent writers go through the queue and share
//! a log write: a caller committing inline would hold up the other tasks of
//! its runtime thread and split them into smaller groups.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use nimbus_store::{Result, StoreError, TxnFn, WriteBatch};
use redb::{Database, Durability};
use tokio::sync::oneshot;

use crate::files::err;
use crate::log_file::LogFile;
use crate::log_format::{Op, RecordBuilder};
use crate::recovery::checkpoint;
use crate::tables::{self, LogState};
use crate::views::WriteView;

/// How many queued writes one group takes at most (bounds commit latency).
const MAX_GROUP: usize = 512;

pub type Ack = oneshot::Sender<Result<()>>;

pub enum Job {
    Write(WriteBatch, Ack),
    Transact(TxnFn, Ack),
    /// Commit what is queued before it, checkpoint, then stop the writer.
    Close,
}

/// What the store's handle and the writer thread share.
pub struct Shared {
    writer: Mutex<Writer>,
    /// Jobs sent to the writer thread and not yet taken from its queue.
    queued: AtomicUsize,
    /// How many jobs the last group committed.
    last_group: AtomicUsize,
}

impl Shared {
    pub fn new(writer: Writer) -> Arc<Shared> {
        Arc::new(Shared { writer: Mutex::new(writer), queued: AtomicUsize::new(0), last_group: AtomicUsize::new(1) })
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit `job` on the calling thread if writes come one at a time,
    /// nothing is queued and no commit is running; otherwise hand it back to
    /// be queued.
    pub fn commit_inline(&self, job: Job) -> Option<Job> {
        if self.last_group.load(Ordering::Relaxed) > 1 || self.queued.load(Ordering::Acquire) > 0 {
            return Some(job);
        }
        match self.writer.try_lock() {
            Ok(mut writer) => {
                writer.commit_group(vec![job]);
                None
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                poisoned.into_inner().commit_group(vec![job]);
                None
            }
            Err(std::sync::TryLockError::WouldBlock) => Some(job),
        }
    }

    /// Count a job about to be sent to the writer thread.
    pub fn enqueued(&self) {
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// The writer thread: commit whatever is queued, group by group, until
    /// the store closes.
    pub fn run(&self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            self.queued.fetch_sub(group.len(), Ordering::AcqRel);
            self.last_group.store(group.len(), Ordering::Relaxed);
            let closing = group.iter().any(|job| matches!(job, Job::Close));
            let mut writer = self.lock();
            writer.commit_group(group);
            if closing {
                if let Err(e) = writer.close() {
                    tracing::error!(error = %e, "store: the closing checkpoint failed; the log still holds the writes");
                }
                return;
            }
        }
    }
}

pub struct Writer {
    db: Arc<Database>,
    log: LogFile,
    state: LogState,
    record: RecordBuilder,
    /// Set when the log and redb may disagree, or once closed; every later
    /// write fails.
    broken: Option<StoreError>,
}

impl Writer {
    pub fn new(db: Arc<Database>, log: LogFile, state: LogState) -> Writer {
        Writer { db, log, state, record: RecordBuilder::default(), broken: None }
    }

    fn commit_group(&mut self, group: Vec<Job>) {
        if let Some(broken) = &self.broken {
            return fail_all(group, broken.clone());
        }
        let txn = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(e) => return fail_all(group, err(e)),
        };
        let seq = self.state.applied_seq + 1;
        self.record.start(self.state.epoch, seq);
        let mut applied_any = false;
        // Outcome of each job before commit; Ok ones are acknowledged after it.
        let mut outcomes: Vec<(Ack, Result<()>)> = Vec::with_capacity(group.len());
        for job in group {
            let (batch, done) = match job {
                Job::Write(batch, done) => (Ok(batch), done),
                Job::Transact(body, done) => (run_body(&txn, body), done),
                Job::Close => continue,
            };
            match batch {
                Ok(batch) => {
                    for op in batch.ops.iter().map(Op::from) {
                        if let Err(e) = tables::apply(&txn, op) {
                            // A half-applied batch cannot be undone inside
                            // redb's transaction: abort the whole group.
                            outcomes.push((done, Err(e.clone())));
                            let _ = txn.abort();
                            return fail_outcomes(outcomes, e);
                        }
                        self.record.push(op);
                        applied_any = true;
                    }
                    outcomes.push((done, Ok(())));
                }
                Err(e) => outcomes.push((done, Err(e))),
            }
        }
        if !applied_any {
            let _ = txn.abort();
            return acknowledge(outcomes, &Ok(()));
        }
        let committed = self.commit(txn, seq);
        if let Err(e) = &committed {
            tracing::error!(error = %e, "store: a group commit failed; refusing further writes");
            self.broken = Some(e.clone());
        }
        acknowledge(outcomes, &committed);
    }

    /// Make the applied group durable (log record, or checkpoint when the
    /// log is full), then visible.
    fn commit(&mut self, mut txn: redb::WriteTransaction, seq: u64) -> Result<()> {
        let record = self.record.finish();
        if !self.log.fits(record.len()) {
            self.state = checkpoint(txn, seq)?;
            self.log.restart();
            return Ok(());
        }
        tables::set_applied(&txn, seq)?;
        self.log.append(record)?;
        txn.set_durability(Durability::None).map_err(err)?;
        txn.commit().map_err(err)?;
        self.state.applied_seq = seq;
        Ok(())
    }

    /// Checkpoint so that redb alone holds everything (the log is not needed
    /// to reopen quickly).
    fn close(&mut self) -> Result<()> {
        if self.broken.is_some() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(err)?;
        self.state = checkpoint(txn, self.state.applied_seq)?;
        // A caller that raced `close` to an inline commit fails instead.
        self.broken = Some(StoreError("the store is closed".into()));
        Ok(())
    }
}

/// Run a transaction body against the open write transaction. A body that
/// panics fails its own caller, not the writer thread (which every later
/// write needs); it has only read.
fn run_body(txn: &redb::WriteTransaction, body: TxnFn) -> Result<WriteBatch> {
    let view = WriteView { txn };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&view)))
        .unwrap_or_else(|panic| Err(StoreError(format!("transaction body panicked: {}", panic_message(&panic)))))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(msg), _) => msg,
        (_, Some(msg)) => msg,
        _ => "(no message)",
    }
}

/// Tell each caller its outcome: its own error, or the group's.
fn acknowledge(outcomes: Vec<(Ack, Result<()>)>, committed: &Result<()>) {
    for (done, outcome) in outcomes {
        let result = match (committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Ok(())) => Err(e.clone()),
            (Err(_), Err(own)) => Err(own),
        };
        let _ = done.send(result);
    }
}

fn fail_outcomes(outcomes: Vec<(Ack, Result<()>)>, cause: StoreError) {
    for (done, _) in outcomes {
        let _ = done.send(Err(cause.clone()));
    }
}

fn fail_all(group: Vec<Job>, cause: StoreError) {
    for job in group {
        if let Job::Write(_, done) | Job::Transact(_, done) = job {
            let _ = done.send(Err(cause.clone()));
        }
    }
}
