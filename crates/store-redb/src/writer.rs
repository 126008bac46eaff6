//! The writer thread: group commit through the redo log.
//!
//! Every write is queued here. The writer takes everything queued (up to
//! `nimbus_store::MAX_GROUP`) and, for the group:
//!
//! 1. applies the batches and transaction bodies inside one open redb write
//!    transaction (bodies read through it, so each sees the writes before
//!    it), collecting the ops that were applied into one log record;
//! 2. writes that record to the log, durable when the write returns;
//! 3. marks the group pending for readers (`Reads::commit_pending`: a read
//!    that starts now waits for step 5) and acknowledges it: the group is
//!    durable, and the answers travel while the writer goes on;
//! 4. commits the redb transaction with `Durability::None` (no fsync),
//! 5. and makes the group visible (`Reads::committed`).
//!
//! Readers thus never see a write a crash could still lose, a read that
//! starts after an acknowledgement sees the write, and redb's commit (20-30
//! µs) is off the acknowledgement's path: a client on one connection is
//! still reading its answer when the commit is done. If that commit fails,
//! the acknowledged group is still in the log (reopening the store replays
//! it), but this process cannot show it: every later read and write fails
//! (`Reads::fail`) rather than serve data without it. When a record
//! no longer fits in the log, the group's transaction is committed with
//! `Durability::Immediate` instead (a checkpoint: redb itself now holds
//! every group durably) and the log starts a new lap at its beginning.

use std::sync::mpsc;
use std::time::Duration;

use nimbus_store::{fail_all, recv_polling, take_group, Ack, Job, Result, StoreError, TxnFn, WriteBatch};
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
    /// The shared read snapshot, dropped after every commit; reads wait
    /// while an acknowledged group awaits its commit.
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
        while let Some(first) = recv_polling(&rx, SPIN) {
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
        match self.make_durable(txn, seq) {
            Ok(uncommitted) => {
                acknowledge(outcomes, &Ok(()));
                if let Some(txn) = uncommitted {
                    self.publish(txn);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store: a group commit failed; refusing further writes");
                self.broken = Some(e.clone());
                acknowledge(outcomes, &Err(e));
            }
        }
    }

    /// Make the applied group durable: its log record, leaving the redb
    /// transaction to `publish` after the acknowledgement; or, when the log
    /// is full, a checkpoint (committed and visible at once: `None`).
    fn make_durable(&mut self, txn: redb::WriteTransaction, seq: u64) -> Result<Option<redb::WriteTransaction>> {
        let record = self.record.finish();
        if !self.log.fits(record.len()) {
            self.state = checkpoint(txn, seq)?;
            self.reads.committed();
            self.log.restart();
            return Ok(None);
        }
        tables::set_applied(&txn, seq)?;
        self.log.append(record)?;
        self.reads.commit_pending();
        self.state.applied_seq = seq;
        Ok(Some(txn))
    }

    /// Commit an acknowledged group to redb (no fsync: the log holds it)
    /// and show it to readers.
    fn publish(&mut self, mut txn: redb::WriteTransaction) {
        let committed = txn.set_durability(Durability::None).map_err(err).and_then(|()| txn.commit().map_err(err));
        match committed {
            Ok(()) => self.reads.committed(),
            Err(e) => {
                tracing::error!(error = %e, "store: committing an acknowledged group failed; it is in the log and comes back when the store reopens; refusing reads and writes until then");
                self.reads.fail(e.clone());
                self.broken = Some(e);
            }
        }
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

impl Drop for Writer {
    /// A writer that stops between an acknowledgement and its commit
    /// (a panic in redb) must not leave reads waiting for that commit.
    fn drop(&mut self) {
        if self.reads.is_pending() {
            self.reads.fail(StoreError("the store's writer stopped before committing an acknowledged write".into()));
        }
    }
}

/// How long the writer keeps polling its queue after a group before it
/// sleeps: a client on one connection sends its next write a few tens of
/// microseconds after the acknowledgement, and waking a sleeping thread on a
/// halted vCPU costs about as much (the edge's acceptors spin for the same
/// reason, crates/edge/src/spin.rs).
const SPIN: Duration = Duration::from_micros(100);

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use nimbus_store::{ReadView, Store, WriteBatch};

    use crate::log_file::test_hooks::{SlowLog, SLOW_LOG};
    use crate::{log_path, RedbStore};

    fn slow_log(hook: Option<SlowLog>) {
        *SLOW_LOG.lock().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    /// Reads must not see a group until its log record is durable, even
    /// when no read snapshot was open before the group (a guard for any
    /// change that moves redb's commit ahead of the log write).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_is_invisible_until_its_log_record_is_durable() {
        let dir = std::env::temp_dir().join(format!("nimbus-writer-visibility-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("store.redb");
        let store = RedbStore::open(&path).unwrap();
        let (started, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let delay = Duration::from_millis(50);
        slow_log(Some(SlowLog { path: log_path(&path), delay, started: started.clone(), written: written.clone() }));
        let write = |key: u8| {
            let store = store.clone();
            let mut batch = WriteBatch::new();
            batch.put("t", [key], *b"v");
            tokio::spawn(async move { store.write(batch).await })
        };
        let mut checked = 0;
        for round in 0..4u8 {
            // A write no read follows: the writer drops the shared snapshot
            // after it, so none is open when the next group commits.
            write(2 * round).await.unwrap().unwrap();
            let key = 2 * round + 1;
            let started_before = started.load(Ordering::SeqCst);
            let durable_before = written.load(Ordering::SeqCst);
            let pending = write(key);
            while started.load(Ordering::SeqCst) == started_before {
                std::thread::yield_now();
            }
            // redb's commit happens meanwhile; the record is not durable yet.
            std::thread::sleep(delay / 5);
            let seen = store.get("t", &[key]).unwrap();
            if written.load(Ordering::SeqCst) == durable_before {
                assert_eq!(seen, None, "round {round}: a read saw a write before its log record was durable");
                checked += 1;
            }
            pending.await.unwrap().unwrap();
            assert!(store.get("t", &[key]).unwrap().is_some(), "an acknowledged write is visible");
        }
        assert!(checked > 0, "no read landed while a log write was on its way");
        slow_log(None);
        store.close().unwrap();
        drop(store);
        // Everything acknowledged is there after reopening.
        let store = RedbStore::open(&path).unwrap();
        for key in 0..8u8 {
            assert_eq!(store.get("t", &[key]).unwrap().as_deref(), Some(&b"v"[..]));
        }
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
