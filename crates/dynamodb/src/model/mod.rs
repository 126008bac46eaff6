//! Persisted state: the table catalog and the items with their index
//! entries, laid out in the store's keyspaces.
//!
//! * `dynamodb.tables`: `region \0 name` → table metadata (JSON)
//! * `dynamodb.items`: `table id ‖ hash key ‖ range key` → item (DynamoDB JSON)
//! * `dynamodb.indexes`: `index id ‖ index keys ‖ table keys` → projected item
//! * `dynamodb.meta`: `next_id` → the next table/index id
//!
//! Ids are never reused, so a deleted table's keys can be range-deleted and
//! a new table of the same name starts empty.

pub mod items;
pub mod table;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use nimbus_core::AwsError;
use nimbus_store::{transact, Keyspace, ReadView, ReadViewExt, Store, TxnError, WriteBatch};

use crate::error::{dynamodb, internal, Result};
use crate::streams::model as streams;
pub use table::Table;

pub const TABLES: Keyspace = "dynamodb.tables";
pub const ITEMS: Keyspace = "dynamodb.items";
pub const INDEXES: Keyspace = "dynamodb.indexes";
pub const META: Keyspace = "dynamodb.meta";

const NEXT_ID: &[u8] = b"next_id";

pub fn table_key(region: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(region.len() + name.len() + 1);
    k.extend_from_slice(region.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Map a transaction failure to the error the client sees.
pub fn txn_error(err: TxnError<AwsError>) -> AwsError {
    match err {
        TxnError::Aborted(e) => e,
        TxnError::Store(e) => internal(e),
    }
}

/// The table catalog, cached in memory: every change goes through here, so
/// the cache never goes stale, and item operations skip a metadata read.
/// A change retires the version it replaces (see `table::Lineage`), so a
/// write holding an older version still writes against the current one.
pub struct Catalog {
    store: Arc<dyn Store>,
    cache: RwLock<HashMap<Vec<u8>, Arc<Table>>>,
    /// Held by table changes from reading a table to committing its new
    /// version, so two changes never build on the same version.
    changes: tokio::sync::Mutex<()>,
}

/// Extra writes of a table change, staged from inside its transaction.
pub type Stage = Box<dyn FnOnce(&dyn ReadView, &Table, &mut WriteBatch) -> TxnResult<()> + Send>;
type TxnResult<T> = std::result::Result<T, TxnError<AwsError>>;

impl Catalog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Catalog { store, cache: RwLock::new(HashMap::new()), changes: tokio::sync::Mutex::new(()) }
    }

    /// Serialize a table change (UpdateTable, DeleteTable, tags, TTL): take
    /// this before reading the table to change.
    pub async fn changing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The table called `name`, which may also be the table's ARN.
    pub fn get(&self, region: &str, name: &str) -> Result<Option<Arc<Table>>> {
        if let Some(rest) = name.strip_prefix("arn:") {
            // arn:aws:dynamodb:<region>:<account>:table/<name>
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let table = match parts.as_slice() {
                [_, "dynamodb", r, _, resource] if *r == region => resource.strip_prefix("table/"),
                _ => None,
            };
            return match table.filter(|t| !t.contains('/')) {
                Some(t) => Ok(self.get(region, t)?.filter(|found| found.arn == name)),
                None => Ok(None),
            };
        }
        let key = table_key(region, name);
        if let Some(t) = self.cache.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
            // Between a change's commit and its cache update, follow it.
            return Ok(t.latest());
        }
        let Some(bytes) = self.store.get(TABLES, &key).map_err(internal)? else {
            return Ok(None);
        };
        let table: Arc<Table> = Arc::new(serde_json::from_slice(&bytes).map_err(internal)?);
        // Two requests that both missed share the first one's version, so a
        // change retiring it reaches both.
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        Ok(cache.entry(key).or_insert(table).latest())
    }

    /// The table or ResourceNotFoundException.
    pub fn require(&self, region: &str, name: &str) -> Result<Arc<Table>> {
        self.get(region, name)?.ok_or_else(crate::error::resource_not_found)
    }

    /// Table names of a region, in order.
    pub fn names(&self, region: &str) -> Result<Vec<String>> {
        let prefix = table_key(region, "");
        let rows = self.store.scan_prefix(TABLES, &prefix, usize::MAX).map_err(internal)?;
        Ok(rows.into_iter().map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned()).collect())
    }

    /// Every table of every region, for background work such as TTL.
    pub fn all(&self) -> Result<Vec<Arc<Table>>> {
        let rows = self.store.scan_prefix(TABLES, &[], usize::MAX).map_err(internal)?;
        let mut tables = vec![];
        for (key, _) in rows {
            let Some(split) = key.iter().position(|b| *b == 0) else { continue };
            let region = String::from_utf8_lossy(&key[..split]);
            let name = String::from_utf8_lossy(&key[split + 1..]);
            tables.extend(self.get(&region, &name)?);
        }
        Ok(tables)
    }

    /// Persist a new table, assigning ids to it and its indexes.
    pub async fn create(&self, region: &str, mut table: Table) -> Result<Arc<Table>> {
        let key = table_key(region, &table.name);
        let (k, region) = (key.clone(), region.to_owned());
        let created = transact(self.store.as_ref(), move |view: &dyn ReadView| {
            if view.get(TABLES, &k)?.is_some() {
                return Err(TxnError::Aborted(dynamodb(
                    "ResourceInUseException",
                    format!("Table already exists: {}", table.name),
                )));
            }
            let mut next = read_next_id(view)?;
            table.id = next;
            next += 1;
            for index in table.gsis.iter_mut().chain(table.lsis.iter_mut()) {
                index.id = next;
                next += 1;
            }
            let mut batch = WriteBatch::new();
            streams::on_table_change(view, &region, None, Some(&table), &mut batch)?;
            batch.put(META, NEXT_ID, next.to_be_bytes().to_vec());
            batch.put(TABLES, k, serde_json::to_vec(&table).unwrap_or_default());
            Ok((batch, table))
        })
        .await
        .map_err(txn_error)?;
        let created = Arc::new(created);
        self.cache.write().unwrap_or_else(|e| e.into_inner()).insert(key, created.clone());
        Ok(created)
    }

    /// Reserve `n` fresh ids (for indexes added later).
    pub async fn allocate_ids(&self, n: u64) -> Result<u64> {
        transact(self.store.as_ref(), move |view: &dyn ReadView| {
            let first = read_next_id(view)?;
            let mut batch = WriteBatch::new();
            batch.put(META, NEXT_ID, (first + n).to_be_bytes().to_vec());
            Ok((batch, first))
        })
        .await
        .map_err(txn_error)
    }

    /// Replace `old`'s metadata by `table`.
    pub async fn replace(&self, region: &str, old: &Arc<Table>, table: Table) -> Result<Arc<Table>> {
        self.update(region, old, table, Box::new(|_, _, _| Ok(()))).await
    }

    /// Replace `old`'s metadata by `table` in one transaction with the
    /// writes `stage` adds from that transaction's view (an index backfill
    /// or removal), so no write commits between them.
    pub async fn update(&self, region: &str, old: &Arc<Table>, table: Table, stage: Stage) -> Result<Arc<Table>> {
        let key = table_key(region, &table.name);
        let new = Arc::new(table);
        let (k, retired, next) = (key.clone(), old.clone(), new.clone());
        let region = region.to_owned();
        let committed = transact(self.store.as_ref(), move |view: &dyn ReadView| {
            check_current(&retired)?;
            let mut batch = WriteBatch::new();
            stage(view, &next, &mut batch)?;
            streams::on_table_change(view, &region, Some(&retired), Some(&next), &mut batch)?;
            batch.put(TABLES, k, serde_json::to_vec(&*next).unwrap_or_default());
            retired.retire(Some(next));
            Ok((batch, ()))
        })
        .await;
        self.settle(key, committed.map(|()| Some(new.clone())))?;
        Ok(new)
    }

    /// Remove a table with all its items and index entries.
    pub async fn delete(&self, region: &str, table: &Arc<Table>) -> Result<()> {
        let key = table_key(region, &table.name);
        let (k, retired) = (key.clone(), table.clone());
        let region = region.to_owned();
        let committed = transact(self.store.as_ref(), move |view: &dyn ReadView| {
            check_current(&retired)?;
            let mut batch = WriteBatch::new();
            // The stream outlives its table for as long as its records do.
            streams::on_table_change(view, &region, Some(&retired), None, &mut batch)?;
            batch.delete(TABLES, k);
            batch.delete_prefix(ITEMS, &retired.id.to_be_bytes());
            for index in retired.indexes() {
                batch.delete_prefix(INDEXES, &index.id.to_be_bytes());
            }
            retired.retire(None);
            Ok((batch, ()))
        })
        .await;
        self.settle(key, committed.map(|()| None))
    }

    /// Bring the cache in line with a change's outcome. A change that failed
    /// to commit may have retired its old version already: drop it, so the
    /// next request reloads the table from the store.
    fn settle(&self, key: Vec<u8>, outcome: TxnResult<Option<Arc<Table>>>) -> Result<()> {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(Some(table)) => {
                cache.insert(key, table);
                Ok(())
            }
            Ok(None) => {
                cache.remove(&key);
                Ok(())
            }
            Err(err) => {
                cache.remove(&key);
                Err(txn_error(err))
            }
        }
    }
}

/// A change must build on the version in force (`Catalog::changing` sees to it).
fn check_current(table: &Table) -> TxnResult<()> {
    match table.is_retired() {
        true => Err(TxnError::Aborted(internal("the table changed while this change was prepared"))),
        false => Ok(()),
    }
}

fn read_next_id(view: &dyn ReadView) -> std::result::Result<u64, nimbus_store::StoreError> {
    Ok(view
        .get(META, NEXT_ID)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(1))
}
