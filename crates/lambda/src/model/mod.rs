//! Persisted state: functions (the `$LATEST` configuration), and how it is
//! laid out in the Store.
//!
//! Keyspace `lambda.functions`: function name → JSON `FunctionRecord`.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_core::{AwsError, Context};
use nimbus_store::{ReadViewExt, Store, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::util::internal;

pub const FUNCTIONS: &str = "lambda.functions";
/// (function name, version number) → JSON `FunctionRecord` snapshot.
pub const VERSIONS: &str = "lambda.versions";
/// (function name, alias name) → JSON `AliasRecord`.
pub const ALIASES: &str = "lambda.aliases";

mod versions;
pub use versions::AliasRecord;

/// The runtimes Nimbus can run.
pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// A function's `$LATEST` configuration and code reference.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    #[serde(default)]
    pub description: String,
    pub timeout: u32,
    pub memory: u32,
    pub ephemeral_storage: u32,
    #[serde(default)]
    pub environment: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Hex sha256 of the package: where the code store keeps it.
    pub code_id: String,
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// `Some(n)` on the snapshot of published version n; `None` on `$LATEST`.
    #[serde(default)]
    pub published: Option<u64>,
    /// On `$LATEST`: the highest version number published so far.
    #[serde(default)]
    pub last_version: u64,
    /// On `$LATEST`: the revision last published, so an unchanged function
    /// publishes no new version.
    #[serde(default)]
    pub published_revision: Option<String>,
    /// On `$LATEST`: resource-policy statements per qualifier ("" = unqualified).
    #[serde(default)]
    pub policies: BTreeMap<String, Vec<Value>>,
    /// On `$LATEST`: async invocation settings per qualifier (`$LATEST`, a version or an alias).
    #[serde(default)]
    pub event_invoke: BTreeMap<String, EventInvokeConfig>,
}

/// `FunctionEventInvokeConfig`: retries, event age and destinations.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Epoch seconds with fraction, as the API's timestamp.
    pub last_modified: f64,
}

impl FunctionRecord {
    /// The unqualified ARN.
    pub fn arn(&self, ctx: &Context) -> String {
        function_arn(ctx, &self.name)
    }

    /// `$LATEST` or the version number.
    pub fn version(&self) -> String {
        self.published.map_or_else(|| "$LATEST".to_owned(), |n| n.to_string())
    }

    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }

    /// The `FunctionConfiguration` shape.
    pub fn configuration(&self, ctx: &Context) -> Value {
        let mut v = json!({
            "FunctionName": self.name,
            "FunctionArn": match self.published {
                Some(n) => format!("{}:{n}", self.arn(ctx)),
                None => self.arn(ctx),
            },
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version(),
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": if self.architectures.is_empty() { vec!["x86_64".to_owned()] } else { self.architectures.clone() },
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": self.log_group()},
        });
        if let Some(vars) = &self.environment {
            v["Environment"] = json!({ "Variables": vars });
        }
        v
    }
}

pub fn function_arn(ctx: &Context, name: &str) -> String {
    nimbus_core::arn::arn("lambda", &ctx.region, &ctx.account_id, &format!("function:{name}"))
}

/// The ARN IAM checks: `…:function:{name}:{qualifier}` when a version or
/// alias is named, else the unqualified one.
pub fn qualified_arn(ctx: &Context, name: &str, qualifier: Option<&str>) -> String {
    match qualifier.filter(|q| !q.is_empty()) {
        Some(q) => format!("{}:{q}", function_arn(ctx, name)),
        None => function_arn(ctx, name),
    }
}

/// The error AWS gives for a missing function.
pub fn not_found(ctx: &Context, name: &str) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", format!("Function not found: {}", function_arn(ctx, name)))
}

/// Reads and writes function records.
#[derive(Clone)]
pub struct Functions {
    pub(crate) store: Arc<dyn Store>,
}

impl Functions {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Functions { store }
    }

    pub fn get(&self, name: &str) -> Result<Option<FunctionRecord>, AwsError> {
        match self.store.get(FUNCTIONS, name.as_bytes()).map_err(internal)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(internal),
        }
    }

    /// Up to `limit` functions whose names are ≥ `from`, in name order.
    pub fn list(&self, from: Option<&str>, limit: usize) -> Result<Vec<FunctionRecord>, AwsError> {
        use std::ops::Bound;
        let start = from.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        let rows = self
            .store
            .scan_collect(
                FUNCTIONS,
                (Bound::Included(start.as_slice()), Bound::Unbounded),
                nimbus_store::Direction::Forward,
                limit,
            )
            .map_err(internal)?;
        rows.iter().map(|(_, v)| serde_json::from_slice(v).map_err(internal)).collect()
    }

    pub fn count(&self) -> Result<(usize, u64), AwsError> {
        let all = self.list(None, usize::MAX)?;
        Ok((all.len(), all.iter().map(|f| f.code_size).sum()))
    }

    /// Insert `record` unless a function of that name exists.
    pub async fn create(&self, record: FunctionRecord) -> Result<(), AwsError> {
        let value = serde_json::to_vec(&record).map_err(internal)?;
        let name = record.name.clone();
        nimbus_store::transact(self.store.as_ref(), move |view| {
            if view.get(FUNCTIONS, name.as_bytes())?.is_some() {
                return Err(nimbus_store::TxnError::Aborted(AwsError::new(
                    409,
                    "ResourceConflictException",
                    format!("Function already exist: {name}"),
                )));
            }
            let mut batch = WriteBatch::new();
            batch.put(FUNCTIONS, name.into_bytes(), value);
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)
    }

    /// Read-modify-write one function; `change` may refuse with an error.
    pub async fn update<F>(&self, ctx: &Context, name: &str, change: F) -> Result<FunctionRecord, AwsError>
    where
        F: FnOnce(&mut FunctionRecord) -> Result<(), AwsError> + Send + 'static,
    {
        let key = name.to_owned();
        let missing = not_found(ctx, name);
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let Some(bytes) = view.get(FUNCTIONS, key.as_bytes())? else {
                return Err(nimbus_store::TxnError::Aborted(missing));
            };
            let mut record: FunctionRecord =
                serde_json::from_slice(&bytes).map_err(|e| nimbus_store::TxnError::Aborted(internal(e)))?;
            change(&mut record).map_err(nimbus_store::TxnError::Aborted)?;
            let value = serde_json::to_vec(&record).map_err(|e| nimbus_store::TxnError::Aborted(internal(e)))?;
            let mut batch = WriteBatch::new();
            batch.put(FUNCTIONS, key.into_bytes(), value);
            Ok((batch, record))
        })
        .await
        .map_err(txn_error)
    }

    pub async fn delete(&self, ctx: &Context, name: &str) -> Result<FunctionRecord, AwsError> {
        let key = name.to_owned();
        let missing = not_found(ctx, name);
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let Some(bytes) = view.get(FUNCTIONS, key.as_bytes())? else {
                return Err(nimbus_store::TxnError::Aborted(missing));
            };
            let record: FunctionRecord =
                serde_json::from_slice(&bytes).map_err(|e| nimbus_store::TxnError::Aborted(internal(e)))?;
            let mut batch = WriteBatch::new();
            let prefix = nimbus_store::KeyWriter::new().str(&key).finish();
            batch.delete_prefix(VERSIONS, &prefix);
            batch.delete_prefix(ALIASES, &prefix);
            batch.delete(FUNCTIONS, key.into_bytes());
            Ok((batch, record))
        })
        .await
        .map_err(txn_error)
    }
}

pub(crate) fn txn_error(err: nimbus_store::TxnError<AwsError>) -> AwsError {
    match err {
        nimbus_store::TxnError::Aborted(e) => e,
        nimbus_store::TxnError::Store(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> FunctionRecord {
        FunctionRecord {
            name: name.into(),
            runtime: "python3.12".into(),
            handler: "a.b".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            description: String::new(),
            timeout: 3,
            memory: 128,
            ephemeral_storage: 512,
            environment: None,
            architectures: vec![],
            code_id: "c".into(),
            code_sha256: "sha".into(),
            code_size: 1,
            last_modified: String::new(),
            revision_id: "r1".into(),
            tags: BTreeMap::new(),
            reserved_concurrency: None,
            published: None,
            last_version: 0,
            published_revision: None,
            policies: BTreeMap::new(),
            event_invoke: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn create_update_publish_delete() {
        let dir = std::env::temp_dir().join(format!("nimbus-lambda-model-{}", crate::util::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn Store> = nimbus_store_redb::RedbStore::open(&dir.join("s.redb")).unwrap();
        let ctx = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
        let functions = Functions::new(store);
        functions.create(record("f")).await.unwrap();
        let err = functions.create(record("f")).await.unwrap_err();
        assert_eq!(err.message, "Function already exist: f");

        let v1 = functions.publish(&ctx, "f", None, None, None).await.unwrap();
        assert_eq!(v1.version(), "1");
        // Unchanged since: the same version again.
        assert_eq!(functions.publish(&ctx, "f", None, None, None).await.unwrap().version(), "1");
        functions
            .update(&ctx, "f", |r| {
                r.revision_id = "r2".into();
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(functions.publish(&ctx, "f", None, None, None).await.unwrap().version(), "2");
        assert_eq!(functions.list_versions("f").unwrap().len(), 2);
        assert!(functions.publish(&ctx, "f", Some("other".into()), None, None).await.is_err());

        functions.delete(&ctx, "f").await.unwrap();
        assert!(functions.get("f").unwrap().is_none());
        assert!(functions.list_versions("f").unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
