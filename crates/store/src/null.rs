//! A store that remembers nothing: for tests and benchmarks of code that
//! needs a `Store` to start but whose subject is not storage.

use std::ops::Bound;

use nimbus_core::BoxFuture;

use crate::{Direction, Keyspace, ReadView, Snapshot, Store, StoreError, TxnFn, Visitor, WriteBatch};

/// Every read finds nothing and every write succeeds without being kept.
pub struct NullStore;

impl ReadView for NullStore {
    fn get(&self, _: Keyspace, _: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }

    fn scan(
        &self,
        _: Keyspace,
        _: (Bound<&[u8]>, Bound<&[u8]>),
        _: Direction,
        _: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Store for NullStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>, StoreError> {
        Err(StoreError("a NullStore keeps no snapshots".into()))
    }

    fn write(&self, _: WriteBatch) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn transact_raw(&self, _: TxnFn) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn engine(&self) -> &'static str {
        "null"
    }
}
