//! API definitions: immutable snapshots in memory, written through to the store.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use nimbus_core::AwsError;
use nimbus_store::{ReadViewExt, Store, StoreError, WriteBatch};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Something kept in a registry: serialisable, and able to rebuild its
/// derived (non-persisted) parts after loading or editing.
pub trait Record: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    fn id(&self) -> &str;
    /// Recompute derived state (e.g. compiled route tables).
    fn rebuild(&mut self) {}
}

pub struct Registry<T: Record> {
    store: Arc<dyn Store>,
    keyspace: &'static str,
    records: RwLock<HashMap<String, Arc<T>>>,
    /// Serialises edits so concurrent read-modify-writes lose nothing.
    writer: tokio::sync::Mutex<()>,
}

impl<T: Record> Registry<T> {
    pub fn load(store: Arc<dyn Store>, keyspace: &'static str) -> Result<Self, StoreError> {
        let mut records = HashMap::new();
        for (_, value) in store.scan_prefix(keyspace, b"", usize::MAX)? {
            match serde_json::from_slice::<T>(&value) {
                Ok(mut record) => {
                    record.rebuild();
                    records.insert(record.id().to_owned(), Arc::new(record));
                }
                Err(e) => tracing::error!(keyspace, error = %e, "skipping unreadable record"),
            }
        }
        Ok(Registry { store, keyspace, records: RwLock::new(records), writer: tokio::sync::Mutex::new(()) })
    }

    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        self.records.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<T>> {
        let mut all: Vec<Arc<T>> = self.records.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.id().cmp(b.id()));
        all
    }

    /// Store a new record.
    pub async fn insert(&self, mut record: T) -> Result<Arc<T>, AwsError> {
        let _guard = self.writer.lock().await;
        record.rebuild();
        self.persist(&record).await?;
        let record = Arc::new(record);
        self.records.write().unwrap_or_else(|e| e.into_inner()).insert(record.id().to_owned(), record.clone());
        Ok(record)
    }

    /// Edit a record with `edit`, which may refuse with an error (nothing changes then).
    pub async fn update<R>(
        &self,
        id: &str,
        missing: impl FnOnce() -> AwsError,
        edit: impl FnOnce(&mut T) -> Result<R, AwsError>,
    ) -> Result<(Arc<T>, R), AwsError> {
        let _guard = self.writer.lock().await;
        let mut record = self.get(id).map(|r| (*r).clone()).ok_or_else(missing)?;
        let result = edit(&mut record)?;
        record.rebuild();
        self.persist(&record).await?;
        let record = Arc::new(record);
        self.records.write().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), record.clone());
        Ok((record, result))
    }

    pub async fn remove(&self, id: &str) -> Result<Option<Arc<T>>, AwsError> {
        let _guard = self.writer.lock().await;
        let mut batch = WriteBatch::new();
        batch.delete(self.keyspace, id.as_bytes().to_vec());
        self.store.write(batch).await.map_err(storage_error)?;
        Ok(self.records.write().unwrap_or_else(|e| e.into_inner()).remove(id))
    }

    async fn persist(&self, record: &T) -> Result<(), AwsError> {
        let value = serde_json::to_vec(record).map_err(|e| AwsError::internal(e.to_string()))?;
        let mut batch = WriteBatch::new();
        batch.put(self.keyspace, record.id().as_bytes().to_vec(), value);
        self.store.write(batch).await.map_err(storage_error)
    }
}

fn storage_error(e: StoreError) -> AwsError {
    AwsError::new(500, "InternalServerErrorException", e.to_string())
}
