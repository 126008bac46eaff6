//! The read side: snapshots are redb read transactions, and the latest one
//! is shared by every read until the next commit.
//!
//! Beginning a redb read transaction and opening a table in it cost about as
//! much as the B-tree lookup a GetItem then makes, on every request. Between
//! two commits every new read transaction would see the same data, so one
//! is begun on the first read after a commit, kept with the tables opened
//! in it, and reused by the reads after it. The writer drops it when it
//! commits, before acknowledging anyone (`Reads::committed`), so a read that
//! starts after a write was acknowledged always sees that write.

use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use nimbus_store::{Direction, Keyspace, ReadView, Result, Snapshot, Visitor};
use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableDatabase};

use crate::files::err;
use crate::tables::table;
use crate::views::{is_empty_range, scan_table};

type Table = ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The shared latest snapshot, if one was taken since the last commit.
#[derive(Default)]
pub(crate) struct Reads {
    latest: Mutex<Option<Arc<RedbSnapshot>>>,
}

impl Reads {
    /// A snapshot of everything committed so far: the shared one, or a new one.
    pub(crate) fn latest(&self, db: &Database) -> Result<Arc<RedbSnapshot>> {
        let mut latest = lock(&self.latest);
        if let Some(snapshot) = &*latest {
            return Ok(snapshot.clone());
        }
        // Begun under the lock, so a commit's `committed` either comes after
        // it (and drops it) or came before it (and it sees that commit).
        let snapshot = Arc::new(RedbSnapshot::new(db.begin_read().map_err(err)?));
        *latest = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Called by the writer after each commit, before it acknowledges the
    /// writes in it (and on close): later reads take a new snapshot.
    pub(crate) fn committed(&self) {
        let stale = lock(&self.latest).take();
        // Released outside the lock; readers still using it keep it alive.
        drop(stale);
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
