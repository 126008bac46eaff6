//! Published versions (immutable snapshots of `$LATEST`) and aliases.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, Context};
use nimbus_store::{KeyWriter, ReadView, ReadViewExt, TxnError, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{function_arn, not_found, txn_error, FunctionRecord, Functions, ALIASES, FUNCTIONS, VERSIONS};
use crate::util::internal;

/// An alias: a name for a version, optionally splitting traffic with a second.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AliasRecord {
    pub name: String,
    pub function_version: String,
    #[serde(default)]
    pub description: String,
    /// AdditionalVersionWeights: version → share of traffic (0..1).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

impl AliasRecord {
    pub fn configuration(&self, ctx: &Context, function: &str) -> Value {
        let mut v = json!({
            "AliasArn": format!("{}:{}", function_arn(ctx, function), self.name),
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        });
        if !self.weights.is_empty() {
            v["RoutingConfig"] = json!({ "AdditionalVersionWeights": self.weights });
        }
        v
    }

    /// The version one invocation runs: a weighted draw between the
    /// additional versions and the primary.
    pub fn pick_version(&self) -> String {
        let mut draw = fastrand::f64();
        for (version, weight) in &self.weights {
            if draw < *weight {
                return version.clone();
            }
            draw -= weight;
        }
        self.function_version.clone()
    }
}

fn version_key(name: &str, n: u64) -> Vec<u8> {
    KeyWriter::new().str(name).u64(n).finish()
}

fn alias_key(name: &str, alias: &str) -> Vec<u8> {
    KeyWriter::new().str(name).str(alias).finish()
}

fn aborted(err: AwsError) -> TxnError<AwsError> {
    TxnError::Aborted(err)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, TxnError<AwsError>> {
    serde_json::from_slice(bytes).map_err(|e| aborted(internal(e)))
}

fn version_exists(view: &dyn ReadView, name: &str, version: &str) -> nimbus_store::Result<bool> {
    match version {
        "$LATEST" => Ok(true),
        v => match v.parse::<u64>() {
            Ok(n) => Ok(view.get(VERSIONS, &version_key(name, n))?.is_some()),
            Err(_) => Ok(false),
        },
    }
}

impl Functions {
    /// Publish `$LATEST` as a new version (or return the last one if nothing
    /// changed since it was published).
    pub async fn publish(
        &self,
        ctx: &Context,
        name: &str,
        code_sha256: Option<String>,
        description: Option<String>,
        revision: Option<String>,
    ) -> Result<FunctionRecord, AwsError> {
        let key = name.to_owned();
        let missing = not_found(ctx, name);
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let Some(bytes) = view.get(FUNCTIONS, key.as_bytes())? else { return Err(aborted(missing)) };
            let mut latest: FunctionRecord = decode(&bytes)?;
            if let Some(sha) = code_sha256.filter(|s| *s != latest.code_sha256) {
                return Err(aborted(AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    format!(
                        "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                        latest.code_sha256
                    ),
                )));
            }
            if revision.is_some_and(|r| r != latest.revision_id) {
                return Err(aborted(AwsError::new(
                    412,
                    "PreconditionFailedException",
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                )));
            }
            if latest.published_revision.as_deref() == Some(latest.revision_id.as_str()) && latest.last_version > 0 {
                if let Some(bytes) = view.get(VERSIONS, &version_key(&key, latest.last_version))? {
                    return Ok((WriteBatch::new(), decode(&bytes)?));
                }
            }
            latest.last_version += 1;
            latest.published_revision = Some(latest.revision_id.clone());
            let mut version = latest.clone();
            version.published = Some(latest.last_version);
            version.revision_id = nimbus_core::request::new_request_id();
            version.tags.clear();
            version.policies.clear();
            version.event_invoke.clear();
            version.reserved_concurrency = None;
            if let Some(d) = description {
                version.description = d;
            }
            let mut batch = WriteBatch::new();
            batch.put(FUNCTIONS, key.as_bytes().to_vec(), serde_json::to_vec(&latest).map_err(|e| aborted(internal(e)))?);
            batch.put(
                VERSIONS,
                version_key(&key, latest.last_version),
                serde_json::to_vec(&version).map_err(|e| aborted(internal(e)))?,
            );
            Ok((batch, version))
        })
        .await
        .map_err(txn_error)
    }

    pub fn get_version(&self, name: &str, n: u64) -> Result<Option<FunctionRecord>, AwsError> {
        match self.store.get(VERSIONS, &version_key(name, n)).map_err(internal)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(internal),
        }
    }

    pub fn list_versions(&self, name: &str) -> Result<Vec<FunctionRecord>, AwsError> {
        let prefix = KeyWriter::new().str(name).finish();
        let rows = self.store.scan_prefix(VERSIONS, &prefix, usize::MAX).map_err(internal)?;
        rows.iter().map(|(_, v)| serde_json::from_slice(v).map_err(internal)).collect()
    }

    /// Delete one published version, unless an alias still points at it.
    pub async fn delete_version(&self, ctx: &Context, name: &str, n: u64) -> Result<(), AwsError> {
        let key = name.to_owned();
        let ctx = ctx.clone();
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let arn = format!("{}:{n}", function_arn(&ctx, &key));
            if view.get(VERSIONS, &version_key(&key, n))?.is_none() {
                return Err(aborted(AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    format!("Function not found: {arn}"),
                )));
            }
            let prefix = KeyWriter::new().str(&key).finish();
            for (_, v) in view.scan_prefix(ALIASES, &prefix, usize::MAX)? {
                let alias: AliasRecord = decode(&v)?;
                if alias.function_version == n.to_string() || alias.weights.contains_key(&n.to_string()) {
                    return Err(aborted(AwsError::new(
                        409,
                        "ResourceConflictException",
                        format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            alias.name
                        ),
                    )));
                }
            }
            let mut batch = WriteBatch::new();
            batch.delete(VERSIONS, version_key(&key, n));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)
    }

    pub fn get_alias(&self, name: &str, alias: &str) -> Result<Option<AliasRecord>, AwsError> {
        match self.store.get(ALIASES, &alias_key(name, alias)).map_err(internal)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(internal),
        }
    }

    pub fn list_aliases(&self, name: &str) -> Result<Vec<AliasRecord>, AwsError> {
        let prefix = KeyWriter::new().str(name).finish();
        let rows = self.store.scan_prefix(ALIASES, &prefix, usize::MAX).map_err(internal)?;
        rows.iter().map(|(_, v)| serde_json::from_slice(v).map_err(internal)).collect()
    }

    /// Create (`create`) or replace an alias; `change` edits the stored one.
    pub async fn put_alias<F>(
        &self,
        ctx: &Context,
        name: &str,
        alias: &str,
        create: bool,
        change: F,
    ) -> Result<AliasRecord, AwsError>
    where
        F: FnOnce(Option<AliasRecord>) -> Result<AliasRecord, AwsError> + Send + 'static,
    {
        let (key, alias) = (name.to_owned(), alias.to_owned());
        let ctx = ctx.clone();
        nimbus_store::transact(self.store.as_ref(), move |view| {
            if view.get(FUNCTIONS, key.as_bytes())?.is_none() {
                return Err(aborted(not_found(&ctx, &key)));
            }
            let arn = format!("{}:{alias}", function_arn(&ctx, &key));
            let existing: Option<AliasRecord> = match view.get(ALIASES, &alias_key(&key, &alias))? {
                Some(bytes) => Some(decode(&bytes)?),
                None => None,
            };
            match (&existing, create) {
                (Some(_), true) => {
                    return Err(aborted(AwsError::new(
                        409,
                        "ResourceConflictException",
                        format!("Alias already exists: {arn}"),
                    )))
                }
                (None, false) => {
                    return Err(aborted(AwsError::new(
                        404,
                        "ResourceNotFoundException",
                        format!("Alias not found: {arn}"),
                    )))
                }
                _ => {}
            }
            let record = change(existing).map_err(aborted)?;
            for version in std::iter::once(&record.function_version).chain(record.weights.keys()) {
                if !version_exists(view, &key, version)? {
                    return Err(aborted(AwsError::new(
                        404,
                        "ResourceNotFoundException",
                        format!("Function not found: {}:{version}", function_arn(&ctx, &key)),
                    )));
                }
            }
            let mut batch = WriteBatch::new();
            batch.put(ALIASES, alias_key(&key, &alias), serde_json::to_vec(&record).map_err(|e| aborted(internal(e)))?);
            Ok((batch, record))
        })
        .await
        .map_err(txn_error)
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        batch.delete(ALIASES, alias_key(name, alias));
        self.store.write(batch).await.map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_routing_splits_traffic() {
        let alias = AliasRecord {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            weights: [("2".to_owned(), 0.25)].into_iter().collect(),
            revision_id: "r".into(),
        };
        let twos = (0..10_000).filter(|_| alias.pick_version() == "2").count();
        assert!((2_000..3_000).contains(&twos), "{twos}");
    }
}
