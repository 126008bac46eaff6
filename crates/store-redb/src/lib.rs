//! The embedded storage engine: redb behind one writer thread, with a redo
//! log in front of it so that a durable write costs one log write, not a
//! redb commit (which dirties and syncs several pages).
//!
//! Every write — plain batch or read-modify-write transaction — is queued to
//! the single writer thread (`writer`), which takes everything queued as one
//! group: applies it in the open redb write transaction, writes the group's
//! ops as one record to the log (`log_format`, `log_file`; one `O_DIRECT |
//! O_DSYNC` write) and acknowledges; it commits redb without fsync right
//! after, or, while no read waits, after the groups that follow. When the
//! log is full, a group commits redb durably instead (a checkpoint) and the
//! log starts over. On open, `recovery` replays what the log holds beyond
//! redb's last durable commit. Readers use redb's MVCC read transactions
//! (`views`, `reads`); a read that starts while acknowledged groups await
//! their commit waits for it.
//!
//! # Durability: fsync order and crash points
//!
//! redb's durable state records `applied_seq` (the last record it holds) and
//! `epoch` (a random tag for the log's current lap); each record carries its
//! epoch and `seq`. A group's order is: apply in the open transaction →
//! write the record (durable on return) → acknowledge → commit redb
//! (`Durability::None`, visible to readers), perhaps with later groups. A crash
//!
//! - before the record is whole on disk: the record fails its checksum
//!   (torn) or was never written; nothing was acknowledged or visible.
//! - after the record, before or after the redb commit: redb reopens at its
//!   last checkpoint (non-durable commits do not survive a crash); recovery
//!   replays this record with the others of the lap, in order, on top of it.
//! - during a checkpoint (a `Durability::Immediate` commit that also sets
//!   a fresh epoch): redb either has it (and then every record of the old
//!   lap is applied and their old epoch stops replay at once) or reopens at
//!   the previous checkpoint, with the log still holding the whole lap.
//! - when the log starts over: nothing to crash, it is only the writer's
//!   position going back to 0, and it happens only after the checkpoint
//!   commit returned. New records overwrite the old lap from the start; the
//!   first old-lap record after them stops replay (older epoch).
//! - during recovery: recovery only commits once, as a checkpoint; before
//!   that redb is unchanged and the next open replays the same records.
//!
//! New files: the redb file's and the log's directory entries are fsynced
//! when created (`files::sync_new_entries`), and the log is zero-filled and
//! fsynced to its full size before first use, so a log write never changes
//! the file's size and needs only its data synced.

mod files;
pub mod log_file;
pub mod log_format;
mod reads;
mod recovery;
mod tables;
mod views;
mod writer;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nimbus_core::BoxFuture;
use nimbus_store::{
    Direction, Keyspace, ReadView, Result, Snapshot, Store, StoreError, TxnFn, Visitor, WriteBatch, WriterThread,
};
use redb::Database;

use files::{err, sync_new_entries};
use log_file::LogFile;
use reads::Reads;
use writer::Writer;

/// Engine settings; `Default` is what `nimbus serve` uses.
#[derive(Clone, Debug)]
pub struct Options {
    /// The log's size: how much is written between checkpoints (at most one
    /// group per 4 KiB block). Bigger means rarer checkpoints, but a longer
    /// replay after a crash, more redb pages held dirty in memory until the
    /// checkpoint, and more to zero-fill when a store is created.
    pub log_capacity: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { log_capacity: 8 << 20 }
    }
}

pub struct RedbStore {
    /// The snapshot reads share until the next commit (declared before `db`,
    /// so that it is released before the database closes).
    reads: Arc<Reads>,
    db: Arc<Database>,
    writer: WriterThread,
    replayed: u64,
}

impl RedbStore {
    /// Open (or create) the store at `path` and start its writer thread.
    pub fn open(path: &Path) -> Result<Arc<Self>> {
        Self::open_with(path, &Options::default())
    }

    /// Open with explicit settings; the log lives beside the store file.
    pub fn open_with(path: &Path, options: &Options) -> Result<Arc<Self>> {
        // The deepest ancestor that exists already; below it, entries are new.
        let existing = path.ancestors().skip(1).find(|dir| dir.as_os_str().is_empty() || dir.exists());
        let created = !path.exists();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let db = Arc::new(Database::create(path).map_err(|e| open_error(path, e))?);
        if created {
            sync_new_entries(path, existing)?;
        }
        let log_path = log_path(path);
        let recovered = recovery::recover(&db, &log_path)?;
        if recovered.replayed > 0 {
            tracing::info!(records = recovered.replayed, "store: replayed the redo log after a crash");
        }
        let log = LogFile::open(&log_path, options.log_capacity)?;
        let reads = Arc::new(Reads::default());
        let writer = Writer::new(db.clone(), reads.clone(), log, recovered.state);
        let writer = WriterThread::spawn("nimbus-store-writer", move |jobs| writer.run(jobs))?;
        Ok(Arc::new(RedbStore { reads, db, writer, replayed: recovered.replayed }))
    }

    /// How many log records (group commits) opening replayed: nonzero only
    /// after a crash lost redb's non-durable commits.
    pub fn replayed_records(&self) -> u64 {
        self.replayed
    }
}

/// The redo log of the store at `path`: `<file name>.log` beside it.
pub fn log_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".log");
    path.with_file_name(name)
}

/// Why a store file cannot be opened, in words an operator can act on.
fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        // redb 3 dropped the file format that redb 2 (Nimbus before the
        // redb 4 upgrade) wrote; nothing reads it any more.
        redb::DatabaseError::UpgradeRequired(version) => StoreError(format!(
            "{} was written by an older Nimbus (storage format version {version}); \
             start with a fresh data directory",
            path.display()
        )),
        other => err(other),
    }
}

impl ReadView for RedbStore {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.reads.latest(&self.db)?.get(ks, key)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.reads.latest(&self.db)?.scan(ks, range, direction, visit)
    }
}

impl Store for RedbStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(reads::Shared(self.reads.latest(&self.db)?)))
    }

    fn write(&self, batch: WriteBatch) -> BoxFuture<'_, Result<()>> {
        self.writer.write(batch)
    }

    fn transact_raw(&self, txn: TxnFn) -> BoxFuture<'_, Result<()>> {
        self.writer.transact(txn)
    }

    fn close(&self) -> Result<()> {
        self.writer.stop();
        // Release the shared snapshot: the database closes with no read transaction of ours open.
        self.reads.committed();
        Ok(())
    }

    fn engine(&self) -> &'static str {
        "redb"
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
