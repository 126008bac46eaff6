//! The read side: snapshots are redb read transactions, and the latest one
//! is shared by every read until the next commit.
//!
//! Beginning a redb read transaction and opening a table in it cost about as
//! much as the B-tree lookup a GetItem then makes, on every request. Between
//! two commits every new read transaction would see the same data, so one
//! is begun on the first read after a commit, kept with the tables opened
//! in it, and reused by the reads after it.
//!
//! The writer acknowledges a group as soon as its log record is durable and
//! commits it to redb later: right after, or together with the groups that
//! follow (crates/store-redb/src/writer.rs). Until then the group is
//! pending (`Reads::commit_pending`): a read that starts meanwhile asks the
//! writer to commit now (`Reads::wanted`) and waits for that commit
//! (`Reads::committed`), which also drops the shared snapshot, so a read
//! that starts after a write was acknowledged always sees that write.

use std::cell::Cell;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nimbus_store::{Direction, Keyspace, ReadView, Result, Snapshot, StoreError, Visitor};
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase};

use crate::files::err;
use crate::tables::table;
use crate::views::{is_empty_range, scan_table};

type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// How long a read polls for a pending commit before it sleeps: a commit
/// takes 20-30 µs, less than waking a sleeping thread on a halted vCPU
/// (longer only when the writer is in the middle of a group's log write).
const POLL_PENDING: Duration = Duration::from_micros(100);

/// The shared latest snapshot and whether an acknowledged group awaits its commit.
#[derive(Default)]
pub(crate) struct Reads {
    state: Mutex<ReadState>,
    /// Signalled when a pending commit is done (or never will be).
    published: Condvar,
    /// A read is waiting for the pending groups: the writer commits them at
    /// its next chance instead of holding them for more groups.
    wanted: AtomicBool,
}

#[derive(Default)]
struct ReadState {
    /// The snapshot taken since the last commit, if any.
    latest: Option<Arc<RedbSnapshot>>,
    /// An acknowledged group is durable in the log but not yet in redb.
    pending: bool,
    /// Set when an acknowledged group can no longer be shown: every read fails.
    failed: Option<StoreError>,
}

thread_local! {
    /// Set on the writer's thread (`on_writer_thread`).
    static ON_WRITER: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the store's writer: a read through the
/// store there is a transaction body bypassing its view, which could wait
/// for a commit only this thread can make, so it fails instead.
pub(crate) fn on_writer_thread() {
    ON_WRITER.with(|on| on.set(true));
}

impl Reads {
    /// A snapshot of every acknowledged write: the shared one, or a new one.
    pub(crate) fn latest(&self, db: &Database) -> Result<Arc<RedbSnapshot>> {
        if ON_WRITER.with(Cell::get) {
            return Err(StoreError(
                "a transaction body read through the store instead of its view (it would wait for its own commit)"
                    .into(),
            ));
        }
        let mut state = self.settled();
        if let Some(e) = &state.failed {
            return Err(e.clone());
        }
        if let Some(snapshot) = &state.latest {
            return Ok(snapshot.clone());
        }
        // Begun under the lock, so a commit's `committed` either comes after
        // it (and drops it) or came before it (and it sees that commit).
        let snapshot = Arc::new(RedbSnapshot::new(db.begin_read().map_err(err)?));
        state.latest = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// The state once no acknowledged group awaits its commit.
    fn settled(&self) -> MutexGuard<'_, ReadState> {
        let started = Instant::now();
        let mut state = lock(&self.state);
        while state.pending && state.failed.is_none() {
            self.wanted.store(true, Ordering::Relaxed);
            if started.elapsed() < POLL_PENDING {
                drop(state);
                std::thread::yield_now();
                state = lock(&self.state);
            } else {
                state = self.published.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        }
        state
    }

    /// Called by the writer once a group's log record is durable, before it
    /// acknowledges the group: reads wait for the commit that holds it.
    pub(crate) fn commit_pending(&self) {
        lock(&self.state).pending = true;
    }

    /// Called by the writer after each commit (and on close): later reads
    /// take a new snapshot, and reads waiting for the commit go on.
    pub(crate) fn committed(&self) {
        let stale = {
            let mut state = lock(&self.state);
            state.pending = false;
            self.wanted.store(false, Ordering::Relaxed);
            state.latest.take()
        };
        self.published.notify_all();
        // Released outside the lock; readers still using it keep it alive.
        drop(stale);
    }

    /// An acknowledged group could not be committed to redb (it is in the
    /// log, so reopening the store replays it): rather than serve data
    /// without it, every read fails from now on.
    pub(crate) fn fail(&self, cause: StoreError) {
        lock(&self.state).failed = Some(cause);
        self.published.notify_all();
    }

    /// Whether a read waits for the pending groups' commit.
    pub(crate) fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// Whether an acknowledged group still awaits its commit.
    pub(crate) fn is_pending(&self) -> bool {
        lock(&self.state).pending
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A consistent read view: a redb read transaction and the tables opened in it.
pub(crate) struct RedbSnapshot {
    txn: ReadTransaction,
    /// Each keyspace looked up so far; None if it has no table (yet).
    tables: Mutex<Vec<(Keyspace, Option<Arc<Table>>)>>,
}

impl RedbSnapshot {
    pub(crate) fn new(txn: ReadTransaction) -> Self {
        RedbSnapshot { txn, tables: Mutex::new(Vec::new()) }
    }

    fn table(&self, ks: Keyspace) -> Result<Option<Arc<Table>>> {
        let mut tables = lock(&self.tables);
        if let Some((_, opened)) = tables.iter().find(|(name, _)| *name == ks) {
            return Ok(opened.clone());
        }
        let opened = match self.txn.open_table(table(ks)) {
            Ok(t) => Some(Arc::new(t)),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e)),
        };
        tables.push((ks, opened.clone()));
        Ok(opened)
    }
}

impl ReadView for RedbSnapshot {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.table(ks)? {
            Some(t) => Ok(t.get(key).map_err(err)?.map(|v| v.value().to_vec())),
            None => Ok(None),
        }
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        if is_empty_range(&range) {
            return Ok(());
        }
        match self.table(ks)? {
            Some(t) => scan_table(&*t, range, direction, visit),
            None => Ok(()),
        }
    }
}

impl Snapshot for RedbSnapshot {}

/// A snapshot handed out by `Store::snapshot` (the trait wants it boxed).
pub(crate) struct Shared(pub(crate) Arc<RedbSnapshot>);

impl ReadView for Shared {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.get(ks, key)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.0.scan(ks, range, direction, visit)
    }
}

impl Snapshot for Shared {}
