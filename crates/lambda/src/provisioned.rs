//! Provisioned concurrency: N environments of a published version (or an
//! alias's version) started and initialised before traffic, kept warm and
//! never reaped. Invocations take them first and spill over to on-demand
//! environments beyond them. Configs persist in keyspace
//! `lambda.provisioned`: (function, qualifier) → JSON `ProvisionedConfig`,
//! and are re-warmed at startup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nimbus_core::AwsError;
use nimbus_store::{KeyWriter, ReadViewExt, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::environment::PoolKey;
use crate::util::internal;

pub const PROVISIONED: &str = "lambda.provisioned";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    pub function: String,
    pub qualifier: String,
    pub requested: u32,
    pub last_modified: String,
}

/// Live progress of one config.
#[derive(Default)]
pub struct Progress {
    pub available: AtomicU32,
    pub failed: Mutex<Option<String>>,
    generation: AtomicU64,
}

/// Progress per (function, qualifier).
#[derive(Default)]
pub struct Provisioned {
    progress: Mutex<HashMap<(String, String), Arc<Progress>>>,
}

fn key(function: &str, qualifier: &str) -> Vec<u8> {
    KeyWriter::new().str(function).str(qualifier).finish()
}

impl Provisioned {
    fn progress(&self, function: &str, qualifier: &str) -> Arc<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((function.to_owned(), qualifier.to_owned()))
            .or_default()
            .clone()
    }
}

impl ProvisionedConfig {
    pub fn to_json(&self, engine: &Engine, with_arn: bool) -> Value {
        let progress = engine.provisioned.progress(&self.function, &self.qualifier);
        let available = progress.available.load(Ordering::Acquire).min(self.requested);
        let failed = progress.failed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let status = match (&failed, available >= self.requested) {
            (Some(_), _) => "FAILED",
            (None, true) => "READY",
            (None, false) => "IN_PROGRESS",
        };
        let mut v = json!({
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": available,
            "AllocatedProvisionedConcurrentExecutions": available,
            "Status": status,
            "LastModified": self.last_modified,
        });
        if let Some(reason) = failed {
            v["StatusReason"] = reason.into();
        }
        if with_arn {
            v["FunctionArn"] =
                format!("{}:{}", crate::model::function_arn(&engine.ctx, &self.function), self.qualifier).into();
        }
        v
    }
}

impl Engine {
    pub fn provisioned_config(&self, function: &str, qualifier: &str) -> Result<Option<ProvisionedConfig>, AwsError> {
        match self.store.get(PROVISIONED, &key(function, qualifier)).map_err(internal)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(internal),
        }
    }

    pub fn provisioned_configs(&self, function: Option<&str>) -> Result<Vec<ProvisionedConfig>, AwsError> {
        let prefix = function.map(|f| KeyWriter::new().str(f).finish()).unwrap_or_default();
        let rows = self.store.scan_prefix(PROVISIONED, &prefix, usize::MAX).map_err(internal)?;
        rows.iter().map(|(_, v)| serde_json::from_slice(v).map_err(internal)).collect()
    }

    pub async fn put_provisioned(self: &Arc<Self>, config: ProvisionedConfig) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        batch.put(
            PROVISIONED,
            key(&config.function, &config.qualifier),
            serde_json::to_vec(&config).map_err(internal)?,
        );
        self.store.write(batch).await.map_err(internal)?;
        self.warm(config);
        Ok(())
    }

    pub async fn delete_provisioned(&self, function: &str, qualifier: &str) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        batch.delete(PROVISIONED, key(function, qualifier));
        self.store.write(batch).await.map_err(internal)?;
        let progress = self.provisioned.progress(function, qualifier);
        progress.generation.fetch_add(1, Ordering::AcqRel);
        progress.available.store(0, Ordering::Release);
        self.pool.release_provisioned(function);
        Ok(())
    }

    /// Start `config.requested` environments in the background.
    pub fn warm(self: &Arc<Self>, config: ProvisionedConfig) {
        let progress = self.provisioned.progress(&config.function, &config.qualifier);
        let generation = progress.generation.fetch_add(1, Ordering::AcqRel) + 1;
        progress.available.store(0, Ordering::Release);
        *progress.failed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // Environments of an earlier config go back to on-demand (and age out).
        self.pool.release_provisioned(&config.function);
        let engine = self.clone();
        tokio::spawn(async move {
            let function = match crate::api::resolve(&engine, &config.function, Some(&config.qualifier), false) {
                Ok(f) => f,
                Err(e) => {
                    *progress.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.message);
                    return;
                }
            };
            let pool_key = PoolKey::of(&function, &function.version());
            for _ in 0..config.requested {
                if progress.generation.load(Ordering::Acquire) != generation {
                    return;
                }
                match engine.cold_start(&function, pool_key.clone(), true).await {
                    Err(err) => {
                        *progress.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.message);
                        return;
                    }
                    Ok(Ok(ready)) => {
                        engine.pool.put_back(ready.env);
                        progress.available.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(Err(_)) => {
                        *progress.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some("FUNCTION_ERROR_INIT_FAILURE: the function failed to initialise".into());
                        return;
                    }
                }
            }
        });
    }
}
