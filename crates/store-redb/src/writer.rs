//! The writer thread: group commit through the redo log.
//!
//! Every write is queued here. The writer takes everything queued (up to
//! `nimbus_store::MAX_GROUP`) and, for the group:
//!
//! 1. applies the batches and transaction bodies inside the open redb write
//!    transaction (bodies read through it, so each sees the writes before
//!    it), collecting the ops that were applied into one log record;
//! 2. writes that record to the log, durable when the write returns;
//! 3. marks the group pending for readers (`Reads::commit_pending`: a read
//!    that starts now waits for step 4) and acknowledges it: the group is
//!    durable, and the answers travel while the writer goes on;
//! 4. commits the redb transaction with `Durability::None` (no fsync) and
//!    makes it visible (`Reads::committed`): at once, or, while no read
//!    waits, only after the groups that follow it (`Deferred`).
//!
//! Readers thus never see a write a crash could still lose, and a read that
//! starts after an acknowledgement sees the write. A commit costs 15-30 µs
//! and runs while the client reads its answer, on the same two cores; a
//! client writing on one connection sends its next write ~50 µs after the
//! answer, so, when no read is waiting, that write goes into the same redb
//! transaction and one commit serves many groups: it happens once the writer
//! is idle (`DEFER_IDLE`), a read asks for it (`Reads::wanted`), or
//! `MAX_DEFERRED_GROUPS` piled up. Once reads have had to wait, the writer
//! commits every group at once for a while (`READS_ACTIVE`), so a steady mix
//! of reads and writes does not make reads wait for log writes.
//!
//! If a commit fails, the acknowledged groups are still in the log
//! (reopening the store replays them), but this process cannot show them:
//! every later read and write fails (`Reads::fail`) rather than serve data
//! without them. When a record no longer fits in the log, the group's
//! transaction is committed with `Durability::Immediate` instead (a
//! checkpoint: redb itself now holds every group durably) and the log starts
//! a new lap at its beginning.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nimbus_store::{fail_all, recv_polling, take_group, Ack, Job, Result, StoreError, TxnFn, WriteBatch};
use redb::{Database, Durability};

use crate::files::err;
use crate::log_file::LogFile;
use crate::log_format::{Op, RecordBuilder};
use crate::reads::Reads;
use crate::recovery::checkpoint;
use crate::tables::{self, LogState};
use crate::views::{KnownTables, WriteView};

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
    /// Acknowledged groups held uncommitted for the groups that follow.
    deferred: Option<Deferred>,
    /// When a read last had to wait for a commit.
    read_waited: Option<Instant>,
    tables: KnownTables,
}

/// The open redb transaction of acknowledged (durable, logged) groups whose
/// commit waits for more groups.
struct Deferred {
    txn: redb::WriteTransaction,
    groups: usize,
}

/// What the writer does next while it holds deferred groups.
enum Next {
    Group(Job),
    Commit,
    Stop,
}

impl Writer {
    pub fn new(db: std::sync::Arc<Database>, reads: std::sync::Arc<Reads>, log: LogFile, state: LogState) -> Writer {
        Writer {
            db,
            reads,
            log,
            state,
            record: RecordBuilder::default(),
            broken: None,
            deferred: None,
            read_waited: None,
            tables: KnownTables::default(),
        }
    }

    pub fn run(mut self, rx: mpsc::Receiver<Job>) {
        crate::reads::on_writer_thread();
        loop {
            let first = if self.deferred.is_some() {
                match self.next_while_deferred(&rx) {
                    Next::Group(job) => job,
                    Next::Commit => {
                        self.publish_deferred();
                        continue;
                    }
                    Next::Stop => return self.publish_deferred(),
                }
            } else {
                match recv_polling(&rx, SPIN) {
                    Some(job) => job,
                    None => return,
                }
            };
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
        let (txn, deferred_groups) = match self.deferred.take() {
            Some(Deferred { txn, groups }) => (txn, groups),
            None => match self.db.begin_write() {
                Ok(txn) => (txn, 0),
                Err(e) => return fail_all(group, err(e)),
            },
        };
        let seq = self.state.applied_seq + 1;
        self.record.start(self.state.epoch, seq);
        let mut applied_any = false;
        // Outcome of each job before commit; Ok ones are acknowledged after it.
        let mut outcomes: Vec<(Ack, Result<()>)> = Vec::with_capacity(group.len());
        for job in group {
            let (batch, done) = match job {
                Job::Write(batch, done) => (Ok(batch), done),
                Job::Transact(body, done) => (run_body(&txn, &self.tables, body), done),
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
                            if deferred_groups > 0 {
                                // The abort took acknowledged groups with it.
                                self.fail_store(e.clone());
                            }
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
            match deferred_groups {
                0 => {
                    let _ = txn.abort();
                }
                groups => self.deferred = Some(Deferred { txn, groups }),
            }
            return acknowledge(outcomes, &Ok(()));
        }
        match self.make_durable(txn, seq) {
            Ok(uncommitted) => {
                acknowledge(outcomes, &Ok(()));
                if let Some(txn) = uncommitted {
                    let groups = deferred_groups + 1;
                    if self.may_defer(groups) {
                        self.deferred = Some(Deferred { txn, groups });
                    } else {
                        self.publish(txn);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store: a group commit failed; refusing further writes");
                if deferred_groups > 0 {
                    // Its transaction, gone with the failure, held acknowledged groups.
                    self.reads.fail(e.clone());
                }
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

    /// Whether the acknowledged groups of the open transaction (`groups` of
    /// them) may wait for the next group before their commit.
    fn may_defer(&self, groups: usize) -> bool {
        groups < MAX_DEFERRED_GROUPS
            && !self.reads.wanted()
            && self.read_waited.is_none_or(|at| at.elapsed() >= READS_ACTIVE)
    }

    /// Wait for the next job while holding deferred groups: `Commit` once a
    /// read wants them or none came for `DEFER_IDLE`.
    fn next_while_deferred(&self, rx: &mpsc::Receiver<Job>) -> Next {
        let started = Instant::now();
        loop {
            match rx.try_recv() {
                Ok(job) => return Next::Group(job),
                Err(mpsc::TryRecvError::Disconnected) => return Next::Stop,
                Err(mpsc::TryRecvError::Empty) if self.reads.wanted() || started.elapsed() >= DEFER_IDLE => {
                    return Next::Commit
                }
                Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
            }
        }
    }

    fn publish_deferred(&mut self) {
        if let Some(Deferred { txn, .. }) = self.deferred.take() {
            self.publish(txn);
        }
    }

    /// Commit acknowledged groups to redb (no fsync: the log holds them)
    /// and show them to readers.
    fn publish(&mut self, mut txn: redb::WriteTransaction) {
        if self.reads.wanted() {
            self.read_waited = Some(Instant::now());
        }
        let committed = txn.set_durability(Durability::None).map_err(err).and_then(|()| txn.commit().map_err(err));
        match committed {
            Ok(()) => self.reads.committed(),
            Err(e) => self.fail_store(e),
        }
    }

    /// Acknowledged groups cannot be committed to redb: they are in the log
    /// and come back when the store reopens; until then, refuse reads and writes.
    fn fail_store(&mut self, e: StoreError) {
        tracing::error!(error = %e, "store: committing acknowledged writes failed; they are in the log and come back when the store reopens; refusing reads and writes until then");
        self.reads.fail(e.clone());
        self.broken = Some(e);
    }

    /// Checkpoint so that redb alone holds everything (the log is not needed
    /// to reopen quickly).
    fn close(&mut self) -> Result<()> {
        if self.broken.is_some() {
            return Ok(());
        }
        let txn = match self.deferred.take() {
            Some(Deferred { txn, .. }) => txn,
            None => self.db.begin_write().map_err(err)?,
        };
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

/// How long deferred groups wait for another write before their commit:
/// a client on one connection sends its next write 40-80 µs after the
/// acknowledgement.
const DEFER_IDLE: Duration = Duration::from_micros(200);

/// At most this many groups share one commit: bounds the dirty pages redb
/// holds and the commit's own length.
const MAX_DEFERRED_GROUPS: usize = 64;

/// After a read had to wait for a commit, groups are committed at once for
/// this long: reads are coming, and a read that arrives during a group's log
/// write would otherwise wait for it.
const READS_ACTIVE: Duration = Duration::from_millis(100);

/// Run a transaction body against the open write transaction. A body that
/// panics fails its own caller, not the writer thread (which every later
/// write needs); it has only read.
fn run_body(txn: &redb::WriteTransaction, tables: &KnownTables, body: TxnFn) -> Result<WriteBatch> {
    let view = WriteView { txn, tables };
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

    /// Slow down every log write of the store at `path` by `delay`; returns
    /// the counts of log writes begun and of log writes durable.
    fn slow_log_of(path: &std::path::Path, delay: Duration) -> (Arc<AtomicU64>, Arc<AtomicU64>) {
        let (started, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        slow_log(Some(SlowLog { path: log_path(path), delay, started: started.clone(), written: written.clone() }));
        (started, written)
    }

    /// The slow-log hook is one for the process: tests that set it take turns.
    static HOOK_USERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn temp_store(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Arc<RedbStore>) {
        let dir = std::env::temp_dir().join(format!("nimbus-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("store.redb");
        let store = RedbStore::open(&path).unwrap();
        (dir, path, store)
    }

    fn put(key: u8) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put("t", [key], *b"v");
        batch
    }

    /// A transaction body must read through its view: a read through the
    /// store on the writer's thread fails at once instead of waiting for a
    /// commit that only that thread could make (here, of a held group).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_reading_through_the_store_fails_instead_of_waiting_for_itself() {
        let (dir, _path, store) = temp_store("body-reads-store");
        store.write(put(1)).await.unwrap();
        assert!(store.reads.is_pending(), "the write is held for the next group");
        let inner = store.clone();
        let outcome = store
            .transact_raw(Box::new(move |view: &dyn ReadView| {
                assert!(view.get("t", &[1]).unwrap().is_some(), "the view sees the held group");
                inner.get("t", &[1]).map(|_| WriteBatch::new())
            }))
            .await;
        let error = outcome.expect_err("a read through the store inside a body fails");
        assert!(error.0.contains("through the store instead of its view"), "{error}");
        assert!(store.get("t", &[1]).unwrap().is_some(), "reads elsewhere still work");
        store.close().unwrap();
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Writes that no read follows share one redb commit; a read that then
    /// starts, even while the next group's log write is on its way, waits
    /// for that commit and sees every acknowledged write, and never one
    /// whose record is not durable yet.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deferred_groups_are_seen_by_the_next_read_and_survive_reopening() {
        let _turn = HOOK_USERS.lock().await;
        let (dir, path, store) = temp_store("deferred");
        for key in 0..10u8 {
            store.write(put(key)).await.unwrap();
        }
        assert!(store.reads.is_pending(), "back-to-back writes with no read wait for one commit");
        // The next group's log write is slow; a read meanwhile wants the earlier ones.
        let (started, written) = slow_log_of(&path, Duration::from_millis(50));
        let writing = {
            let store = store.clone();
            tokio::spawn(async move { store.write(put(10)).await })
        };
        while started.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let reader = {
            let store = store.clone();
            std::thread::spawn(move || {
                let seen: Vec<bool> = (0..=10u8).map(|key| store.get("t", &[key]).unwrap().is_some()).collect();
                (seen, written.load(Ordering::SeqCst))
            })
        };
        let (seen, durable_when_read) = reader.join().unwrap();
        assert!(seen[..10].iter().all(|&s| s), "every acknowledged write is seen: {seen:?}");
        assert!(!seen[10] || durable_when_read == 1, "a write was seen before its record was durable");
        writing.await.unwrap().unwrap();
        slow_log(None);
        // Left alone, the writer commits what it holds (once the read above
        // no longer makes it commit every group at once).
        tokio::time::sleep(super::READS_ACTIVE + Duration::from_millis(20)).await;
        store.write(put(11)).await.unwrap();
        let idle_since = std::time::Instant::now();
        while store.reads.is_pending() {
            assert!(idle_since.elapsed() < Duration::from_secs(5), "an idle writer commits its deferred groups");
            std::thread::sleep(Duration::from_millis(1));
        }
        store.write(put(12)).await.unwrap();
        store.close().unwrap();
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        for key in 0..=12u8 {
            assert!(store.get("t", &[key]).unwrap().is_some(), "key {key} after reopening");
        }
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Reads must not see a group until its log record is durable, even
    /// when no read snapshot was open before the group (a guard for any
    /// change that moves redb's commit ahead of the log write).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_is_invisible_until_its_log_record_is_durable() {
        let _turn = HOOK_USERS.lock().await;
        let (dir, path, store) = temp_store("visibility");
        let delay = Duration::from_millis(50);
        let (started, written) = slow_log_of(&path, delay);
        let write = |key: u8| {
            let store = store.clone();
            tokio::spawn(async move { store.write(put(key)).await })
        };
        let mut checked = 0;
        for round in 0..4u8 {
            // A write no read follows: its commit drops the shared snapshot,
            // so none is open when the next group commits. (From the second
            // round on, reads have waited for commits, so the writer commits
            // each group at once rather than deferring it.)
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
