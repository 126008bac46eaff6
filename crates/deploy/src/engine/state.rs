//! What a deployed stack is: its resources as provisioned (physical ids,
//! Ref/GetAtt values, the properties they were made with), its outputs, and
//! where that record is kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use nimbus_core::BoxFuture;
use nimbus_store::{ReadViewExt, Store, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    #[serde(rename = "Type")]
    pub resource_type: String,
    pub physical_id: String,
    /// What `Ref` returns.
    pub reference: Value,
    /// What `Fn::GetAtt` returns.
    pub attributes: Map<String, Value>,
    /// The properties it was created or last updated with, intrinsics resolved.
    pub properties: Value,
    /// Resources it depends on, for deleting in the right order later.
    pub depends_on: Vec<String>,
    /// `DeletionPolicy: Retain`: left in place when removed from the stack.
    #[serde(default)]
    pub retain: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    pub name: String,
    pub stack_id: String,
    /// CloudFormation's stack status words: CREATE_COMPLETE, UPDATE_COMPLETE, DELETE_FAILED…
    pub status: String,
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, ResourceState>,
    pub outputs: BTreeMap<String, OutputState>,
    /// Milliseconds since the epoch.
    pub updated_at: u64,
    #[serde(default)]
    pub created_at: u64,
    /// The template as given (before the SAM transform), for GetTemplate and UsePreviousTemplate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_body: Option<String>,
}

/// Where stack records live.
pub trait StateStore: Send + Sync {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<StackState>, String>>;
    fn save<'a>(&'a self, state: &'a StackState) -> BoxFuture<'a, Result<(), String>>;
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>>;
    fn list(&self) -> BoxFuture<'_, Result<Vec<StackState>, String>>;
}

/// Stacks in memory: for tests and throwaway servers.
#[derive(Default)]
pub struct MemoryStates(Mutex<BTreeMap<String, StackState>>);

impl MemoryStates {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StackState>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StateStore for MemoryStates {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<StackState>, String>> {
        Box::pin(async move { Ok(self.map().get(name).cloned()) })
    }
    fn save<'a>(&'a self, state: &'a StackState) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.map().insert(state.name.clone(), state.clone());
            Ok(())
        })
    }
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.map().remove(name);
            Ok(())
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<StackState>, String>> {
        Box::pin(async move { Ok(self.map().values().cloned().collect()) })
    }
}

/// Stacks in the server's store, one JSON record per stack, keyed by name.
pub struct StoreStates {
    store: Arc<dyn Store>,
}

/// The keyspace of stack records.
pub const KEYSPACE: &str = "cloudformation_stacks";

impl StoreStates {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreStates { store }
    }
}

impl StateStore for StoreStates {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<StackState>, String>> {
        Box::pin(async move {
            let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
            match snapshot.get(KEYSPACE, name.as_bytes()).map_err(|e| e.to_string())? {
                Some(bytes) => {
                    serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("stack record {name}: {e}"))
                }
                None => Ok(None),
            }
        })
    }
    fn save<'a>(&'a self, state: &'a StackState) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let bytes = serde_json::to_vec(state).map_err(|e| e.to_string())?;
            let mut batch = WriteBatch::new();
            batch.put(KEYSPACE, state.name.as_bytes().to_vec(), bytes);
            self.store.write(batch).await.map_err(|e| e.to_string())
        })
    }
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut batch = WriteBatch::new();
            batch.delete(KEYSPACE, name.as_bytes().to_vec());
            self.store.write(batch).await.map_err(|e| e.to_string())
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<StackState>, String>> {
        Box::pin(async move {
            let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
            let rows = snapshot.scan_prefix(KEYSPACE, b"", usize::MAX).map_err(|e| e.to_string())?;
            rows.into_iter().map(|(_, v)| serde_json::from_slice(&v).map_err(|e| e.to_string())).collect()
        })
    }
}

/// Stacks as JSON files in a folder (`<data dir>/stacks/<name>.json`), so
/// `nimbus deploy`, `nimbus delete` and `nimbus stacks` run from the CLI
/// see the same records as `nimbus up`. Writes go to a temporary file and
/// are renamed into place, so a crash never leaves half a record.
pub struct FileStates {
    dir: std::path::PathBuf,
}

impl FileStates {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        FileStates { dir: dir.into() }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(format!("{name}.json"))
    }
}

impl StateStore for FileStates {
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<StackState>, String>> {
        Box::pin(async move {
            match std::fs::read(self.path(name)) {
                Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("stack record {name}: {e}")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("reading {}: {e}", self.path(name).display())),
            }
        })
    }
    fn save<'a>(&'a self, state: &'a StackState) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            std::fs::create_dir_all(&self.dir).map_err(|e| format!("creating {}: {e}", self.dir.display()))?;
            let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
            let tmp = self.dir.join(format!(".{}.json.tmp", state.name));
            std::fs::write(&tmp, bytes).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, self.path(&state.name)).map_err(|e| format!("saving {}: {e}", state.name))
        })
    }
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match std::fs::remove_file(self.path(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {name}: {e}")),
                _ => Ok(()),
            }
        })
    }
    fn list(&self) -> BoxFuture<'_, Result<Vec<StackState>, String>> {
        Box::pin(async move {
            let entries = match std::fs::read_dir(&self.dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(format!("reading {}: {e}", self.dir.display())),
            };
            let mut out = Vec::new();
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(stack) = name.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
                    if let Some(state) = self.load(stack).await? {
                        out.push(state);
                    }
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> StackState {
        StackState {
            name: name.into(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/x"),
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            updated_at: 1,
            created_at: 1,
            template_body: None,
        }
    }

    async fn round_trip(states: &dyn StateStore) {
        assert_eq!(states.load("a").await.unwrap(), None);
        states.save(&sample("a")).await.unwrap();
        states.save(&sample("b")).await.unwrap();
        assert_eq!(states.load("a").await.unwrap(), Some(sample("a")));
        assert_eq!(states.list().await.unwrap().len(), 2);
        states.remove("a").await.unwrap();
        assert_eq!(states.list().await.unwrap(), vec![sample("b")]);
    }

    #[tokio::test]
    async fn memory_file_and_store_states_keep_stacks() {
        round_trip(&MemoryStates::default()).await;
        let files = std::env::temp_dir().join(format!("nimbus-deploy-files-{}", std::process::id()));
        round_trip(&FileStates::new(&files)).await;
        std::fs::remove_dir_all(&files).ok();
        let dir = std::env::temp_dir().join(format!("nimbus-deploy-states-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = nimbus_store_redb::RedbStore::open(&dir.join("s.redb")).unwrap();
        round_trip(&StoreStates::new(store.clone())).await;
        store.close().unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
