//! The writer thread: group commit through the redo log.
//!
//! Every write is queued here. The writer takes everything queued (up to
//! `nimbus_store::MAX_GROUP`) and, for the group:
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

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nimbus_store::{fail_all, take_group, Ack, Job, Result, StoreError, TxnFn, WriteBatch};
use redb::{Database, Durability};

use crate::files::err;
use crate::log_file::LogFile;
use crate::log_format::{Op, RecordBuilder};
use crate::reads::Reads;
use crate::recovery::checkpoint;
use crate::tables::{self, LogState};
use crate::views::WriteView;

pub struct Writer {
    db: std::sync::Arc<Database>,
    /// The shared read snapshot, dropped after every commit before anyone is
    /// acknowledged, so a read after an acknowledged write sees it.
    reads: std::sync::Arc<Reads>,
    log: LogFile,
    state: LogState,
    record: RecordBuilder,
    /// Set when the log and redb may disagree; every later write fails.
    broken: Option<StoreError>,
}

impl Writer {
    pub fn new(db: std::sync::Arc<Database>, reads: std::sync::Arc<Reads>, log: LogFile, state: LogState) -> Writer {
        Writer { db, reads, log, state, record: RecordBuilder::default(), broken: None }
    }

    pub fn run(mut self, rx: mpsc::Receiver<Job>) {
        while let Some(first) = next_job(&rx) {
            let (group, closing) = take_group(first, &rx);
            self.commit_group(group);
            if closing {
                if let Err(e) = self.close() {
                    tracing::error!(error = %e, "store: the closing checkpoint failed; the log still holds the writes");
                }
                return;
            }
        }
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
            self.reads.committed();
            self.log.restart();
            return Ok(());
        }
        tables::set_applied(&txn, seq)?;
        self.log.append(record)?;
        txn.set_durability(Durability::None).map_err(err)?;
        txn.commit().map_err(err)?;
        self.reads.committed();
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
        self.reads.committed();
        Ok(())
    }
}

/// How long the writer keeps polling its queue after a group before it
/// sleeps: a client on one connection sends its next write a few tens of
/// microseconds after the acknowledgement, and waking a sleeping thread on a
/// halted vCPU costs about as much (the edge's acceptors spin for the same
/// reason, crates/edge/src/spin.rs).
const SPIN: Duration = Duration::from_micros(100);

/// The next queued job: polled for `SPIN`, yielding the CPU to any other
/// runnable thread meanwhile, then waited for. `None` once every sender is gone.
fn next_job(rx: &mpsc::Receiver<Job>) -> Option<Job> {
    let started = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if started.elapsed() < SPIN => std::thread::yield_now(),
            Err(mpsc::TryRecvError::Empty) => return rx.recv().ok(),
        }
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
