//! The storage contract of Nimbus.
//!
//! State lives in named keyspaces of ordered byte keys. Reads go to a
//! consistent snapshot; writes are atomic batches acknowledged only once
//! durable; read-modify-write runs as a serializable transaction inside the
//! engine's single writer. This crate knows no engine: engines are crates of
//! their own, and `conformance` is the suite every engine must pass.

pub mod conformance;
mod keys;
mod null;
mod writer_thread;

use std::fmt;
use std::ops::{Bound, ControlFlow};
use std::sync::{Arc, Mutex};

pub use keys::{prefix_end, KeyWriter};
use nimbus_core::BoxFuture;
pub use null::NullStore;
pub use writer_thread::{fail_all, recv_polling, take_group, Ack, Job, WriterThread, MAX_GROUP};

/// A keyspace: an independent ordered map, named like `dynamodb.items`.
pub type Keyspace = &'static str;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A failure of the storage engine itself (I/O, corruption, shutdown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a scan calls for each pair; `Break` stops the scan.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// Read access: a snapshot, the store's latest state, or a transaction's view.
pub trait ReadView {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visit `(key, value)` pairs in `range` in `direction` until `visit`
    /// breaks or the range ends.
    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()>;
}

/// Convenience reads on any view.
pub trait ReadViewExt: ReadView {
    /// Collect up to `limit` pairs of `range`.
    fn scan_collect(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan(ks, range, direction, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(out)
    }

    /// All pairs whose key starts with `prefix`, in order.
    fn scan_prefix(&self, ks: Keyspace, prefix: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let end = prefix_end(prefix);
        let upper = match &end {
            Some(end) => Bound::Excluded(end.as_slice()),
            None => Bound::Unbounded,
        };
        self.scan_collect(ks, (Bound::Included(prefix), upper), Direction::Forward, limit)
    }
}

impl<T: ReadView + ?Sized> ReadViewExt for T {}

/// One change in a write batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Put {
        ks: Keyspace,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        ks: Keyspace,
        key: Vec<u8>,
    },
    /// Delete every key in `[start, end)`; `end: None` means to the end.
    DeleteRange {
        ks: Keyspace,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
    },
}

/// Changes applied atomically: all or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, ks: Keyspace, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Put { ks, key: key.into(), value: value.into() });
        self
    }

    pub fn delete(&mut self, ks: Keyspace, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Delete { ks, key: key.into() });
        self
    }

    /// Delete every key starting with `prefix`.
    pub fn delete_prefix(&mut self, ks: Keyspace, prefix: &[u8]) -> &mut Self {
        self.ops.push(WriteOp::DeleteRange { ks, start: prefix.to_vec(), end: prefix_end(prefix) });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A consistent point-in-time view; writes after it was taken are invisible.
pub trait Snapshot: ReadView + Send + Sync {}

/// The body of a read-modify-write transaction: it reads through the view
/// (which sees every write committed before it) and returns the writes to
/// apply, or `Err` to abort with nothing written.
pub type TxnFn = Box<dyn FnOnce(&dyn ReadView) -> Result<WriteBatch> + Send>;

/// An ordered, transactional, durable key-value store.
///
/// Reads on the store itself see the latest committed state. `write` and
/// `transact` resolve only once the change is durable.
pub trait Store: ReadView + Send + Sync + 'static {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>>;

    /// Apply `batch` atomically and durably.
    fn write(&self, batch: WriteBatch) -> BoxFuture<'_, Result<()>>;

    /// Run `txn` serializably with respect to all other writes, then apply
    /// its batch atomically and durably.
    fn transact_raw(&self, txn: TxnFn) -> BoxFuture<'_, Result<()>>;

    /// Make everything acknowledged so far durable and stop accepting writes.
    fn close(&self) -> Result<()>;

    /// Engine name for logs and health output.
    fn engine(&self) -> &'static str;
}

/// An error a transaction body aborts with: the engine's own failure, or the
/// caller's (a failed condition, say).
#[derive(Debug)]
pub enum TxnError<E> {
    Store(StoreError),
    Aborted(E),
}

impl<E> From<StoreError> for TxnError<E> {
    fn from(err: StoreError) -> Self {
        TxnError::Store(err)
    }
}

/// Typed transactions on top of the object-safe `transact_raw`.
pub async fn transact<T, E, F>(store: &dyn Store, body: F) -> std::result::Result<T, TxnError<E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&dyn ReadView) -> std::result::Result<(WriteBatch, T), TxnError<E>> + Send + 'static,
{
    // The body's typed outcome travels back beside the raw result.
    type Slot<T, E> = Arc<Mutex<Option<std::result::Result<T, TxnError<E>>>>>;
    let slot: Slot<T, E> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    const ABORTED: &str = "\u{0}nimbus-txn-aborted";
    let raw = store
        .transact_raw(Box::new(move |view| match body(view) {
            Ok((batch, value)) => {
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(value));
                Ok(batch)
            }
            Err(err) => {
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(Err(err));
                Err(StoreError(ABORTED.into()))
            }
        }))
        .await;
    let outcome = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (raw, outcome) {
        (Ok(()), Some(Ok(value))) => Ok(value),
        (_, Some(Err(err))) => Err(err),
        (Err(err), _) => Err(TxnError::Store(err)),
        (Ok(()), None) => Err(TxnError::Store(StoreError("transaction body did not run".into()))),
    }
}
