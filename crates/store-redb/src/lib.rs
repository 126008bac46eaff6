//! The embedded storage engine: redb behind one writer thread.
//!
//! Every write — plain batch or read-modify-write transaction — is queued to
//! a single writer thread. The writer takes everything queued, applies it in
//! one redb write transaction and commits it with one fsync (group commit),
//! then acknowledges each caller. Concurrent writers therefore share fsyncs,
//! and nothing is acknowledged before it is durable. Readers use redb's MVCC
//! read transactions and never wait for the writer.

use std::ops::Bound;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use nimbus_core::BoxFuture;
use nimbus_store::{
    Direction, Keyspace, ReadView, Result, Snapshot, Store, StoreError, TxnFn, Visitor, WriteBatch, WriteOp,
};
use redb::{Database, Durability, ReadableTable, TableDefinition, TableHandle};
use tokio::sync::oneshot;

mod reads;
use reads::Reads;

/// How many queued writes one commit takes at most (bounds commit latency).
const MAX_GROUP: usize = 512;

fn table(ks: Keyspace) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(ks)
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

enum Job {
    Write(WriteBatch, oneshot::Sender<Result<()>>),
    Transact(TxnFn, oneshot::Sender<Result<()>>),
    /// Commit what is queued before it, then stop the writer.
    Close,
}

pub struct RedbStore {
    /// The snapshot reads share until the next commit (declared before `db`,
    /// so that it is released before the database closes).
    reads: Arc<Reads>,
    db: Arc<Database>,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl RedbStore {
    /// Open (or create) the store at `path` and start its writer thread.
    pub fn open(path: &Path) -> Result<Arc<Self>> {
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
        let (tx, rx) = mpsc::channel();
        let writer_db = db.clone();
        let reads = Arc::new(Reads::default());
        let writer_reads = reads.clone();
        let writer = thread::Builder::new()
            .name("nimbus-store-writer".into())
            .spawn(move || writer_loop(&writer_db, &writer_reads, rx))
            .map_err(err)?;
        Ok(Arc::new(RedbStore { reads, db, queue: Mutex::new(Some(tx)), writer: Mutex::new(Some(writer)) }))
    }

    fn submit(&self, make: impl FnOnce(oneshot::Sender<Result<()>>) -> Job) -> BoxFuture<'_, Result<()>> {
        let (done, wait) = oneshot::channel();
        let queued = match &*self.queue.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(queue) => queue.send(make(done)).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !queued {
                return Err(StoreError("the store is closed".into()));
            }
            wait.await.unwrap_or_else(|_| Err(StoreError("the store writer stopped".into())))
        })
    }
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

/// Make the directory entries of a new store durable, or a power loss could
/// drop the file with every write acknowledged in it: fsync the file's
/// directory and each directory `open` created, up to the one that existed.
fn sync_new_entries(path: &Path, existing: Option<&Path>) -> Result<()> {
    if cfg!(unix) {
        for dir in path.ancestors().skip(1) {
            let name = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            std::fs::File::open(name).and_then(|d| d.sync_all()).map_err(err)?;
            if Some(dir) == existing {
                break;
            }
        }
    }
    Ok(())
}

fn writer_loop(db: &Database, reads: &Reads, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let closing = group.iter().any(|job| matches!(job, Job::Close));
        commit_group(db, reads, group);
        if closing {
            return;
        }
    }
}

/// Apply a group of jobs in one write transaction and commit it durably.
fn commit_group(db: &Database, reads: &Reads, group: Vec<Job>) {
    let mut txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(e) => return fail_all(group, err(e)),
    };
    // Immediate is redb's default; said here because acknowledging depends on it.
    if let Err(e) = txn.set_durability(Durability::Immediate) {
        return fail_all(group, err(e));
    }
    // Outcome of each job before commit; Ok ones are acknowledged after it.
    let mut outcomes: Vec<(oneshot::Sender<Result<()>>, Result<()>)> = Vec::with_capacity(group.len());
    for job in group {
        match job {
            Job::Write(batch, done) => {
                let result = apply(&txn, &batch);
                if let Err(e) = result {
                    // A half-applied batch cannot be undone inside redb's
                    // transaction: abort the whole group rather than commit it.
                    outcomes.push((done, Err(e.clone())));
                    return abort_group(txn, outcomes, e);
                }
                outcomes.push((done, Ok(())));
            }
            Job::Transact(body, done) => {
                let view = WriteView { txn: &txn };
                // A body that panics fails its own caller, not the writer
                // thread (which every later write needs). It has only read.
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&view))).unwrap_or_else(|panic| {
                        Err(StoreError(format!("transaction body panicked: {}", panic_message(&panic))))
                    });
                match outcome {
                    Ok(batch) => {
                        if let Err(e) = apply(&txn, &batch) {
                            outcomes.push((done, Err(e.clone())));
                            return abort_group(txn, outcomes, e);
                        }
                        outcomes.push((done, Ok(())));
                    }
                    Err(e) => outcomes.push((done, Err(e))),
                }
            }
            Job::Close => {}
        }
    }
    let committed = txn.commit().map_err(err);
    // Before any acknowledgement: a read after one must see this commit.
    reads.committed();
    for (done, outcome) in outcomes {
        let result = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Ok(())) => Err(e.clone()),
            (Err(_), Err(own)) => Err(own),
        };
        let _ = done.send(result);
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(msg), _) => msg,
        (_, Some(msg)) => msg,
        _ => "(no message)",
    }
}

fn abort_group(
    txn: redb::WriteTransaction,
    outcomes: Vec<(oneshot::Sender<Result<()>>, Result<()>)>,
    cause: StoreError,
) {
    let _ = txn.abort();
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

fn apply(txn: &redb::WriteTransaction, batch: &WriteBatch) -> Result<()> {
    for op in &batch.ops {
        match op {
            WriteOp::Put { ks, key, value } => {
                let mut t = txn.open_table(table(ks)).map_err(err)?;
                t.insert(key.as_slice(), value.as_slice()).map_err(err)?;
            }
            WriteOp::Delete { ks, key } => {
                let mut t = txn.open_table(table(ks)).map_err(err)?;
                t.remove(key.as_slice()).map_err(err)?;
            }
            WriteOp::DeleteRange { ks, start, end } => {
                let mut t = txn.open_table(table(ks)).map_err(err)?;
                let range =
                    (Bound::Included(start.as_slice()), end.as_deref().map_or(Bound::Unbounded, Bound::Excluded));
                t.retain_in::<&[u8], _>(range, |_, _| false).map_err(err)?;
            }
        }
    }
    Ok(())
}

/// One item of a redb range iterator.
type Entry<'a> = std::result::Result<
    (redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>),
    redb::StorageError,
>;

pub(crate) fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    direction: Direction,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let iter = t.range::<&[u8]>(range).map_err(err)?;
    let mut step = |entry: Entry<'_>| {
        let (k, v) = entry.map_err(err)?;
        Ok::<_, StoreError>(visit(k.value(), v.value()))
    };
    match direction {
        Direction::Forward => {
            for entry in iter {
                if step(entry)?.is_break() {
                    break;
                }
            }
        }
        Direction::Backward => {
            for entry in iter.rev() {
                if step(entry)?.is_break() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A range whose start lies after its end is empty (redb would panic on it).
pub(crate) fn is_empty_range(range: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match (range.0, range.1) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s), Bound::Excluded(e)) | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        _ => false,
    }
}

/// What a transaction body reads: the writer's own transaction, so it sees
/// every write applied before it, including earlier ones in its group.
struct WriteView<'a> {
    txn: &'a redb::WriteTransaction,
}

impl ReadView for WriteView<'_> {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !table_exists(self.txn, ks)? {
            return Ok(None);
        }
        let t = self.txn.open_table(table(ks)).map_err(err)?;
        let value = t.get(key).map_err(err)?.map(|v| v.value().to_vec());
        Ok(value)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        if is_empty_range(&range) || !table_exists(self.txn, ks)? {
            return Ok(());
        }
        let t = self.txn.open_table(table(ks)).map_err(err)?;
        scan_table(&t, range, direction, visit)
    }
}

/// Opening a table in a write transaction creates it; reads must not.
fn table_exists(txn: &redb::WriteTransaction, ks: Keyspace) -> Result<bool> {
    Ok(txn.list_tables().map_err(err)?.any(|t| t.name() == ks))
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
        if batch.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.submit(|done| Job::Write(batch, done))
    }

    fn transact_raw(&self, txn: TxnFn) -> BoxFuture<'_, Result<()>> {
        self.submit(|done| Job::Transact(txn, done))
    }

    fn close(&self) -> Result<()> {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(queue) = queue {
            let _ = queue.send(Job::Close);
        }
        if let Some(writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = writer.join();
        }
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
