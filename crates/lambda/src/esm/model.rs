//! Event source mappings as persisted.
//!
//! * `lambda.event_source_mappings`: UUID → JSON `MappingRecord`
//! * `lambda.event_source_positions`: UUID → the stream position after the
//!   last record the function handled (the checkpoint), kept apart so the
//!   poller's checkpoints never race a configuration change.

use std::sync::Arc;

use nimbus_core::{AwsError, Context};
use nimbus_store::{ReadViewExt, Store, TxnError, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{qualified_arn, txn_error};
use crate::util::internal;

pub const MAPPINGS: &str = "lambda.event_source_mappings";
pub const POSITIONS: &str = "lambda.event_source_positions";

/// What `LastProcessingResult` shows, in AWS's words.
pub const NO_RECORDS: &str = "No records processed";
pub const OK: &str = "OK";
pub const FUNCTION_FAILED: &str = "PROBLEM: Function call failed";
/// What `StateTransitionReason` shows after a change through the API.
pub const USER_ACTION: &str = "User action";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MappingRecord {
    pub uuid: String,
    pub event_source_arn: String,
    pub function_name: String,
    /// A version or alias when the mapping names one.
    pub qualifier: Option<String>,
    pub enabled: bool,
    pub starting_position: String,
    pub batch_size: u32,
    pub batching_window_seconds: u32,
    pub parallelization_factor: u32,
    /// -1: until the record expires.
    pub maximum_retry_attempts: i64,
    /// -1: no limit.
    pub maximum_record_age_seconds: i64,
    pub bisect_on_error: bool,
    pub tumbling_window_seconds: u32,
    /// Stored and shown; Nimbus has neither SQS nor SNS to send to.
    pub on_failure: Option<String>,
    /// Filter patterns (JSON text), as given.
    pub filters: Vec<String>,
    pub function_response_types: Vec<String>,
    pub last_modified: f64,
    pub state: String,
    pub state_transition_reason: String,
    pub last_processing_result: String,
}

impl MappingRecord {
    /// A new mapping of a stream with Lambda's defaults for stream sources.
    pub fn for_stream(arn: &str, function: &str, qualifier: Option<String>, enabled: bool, starting: &str) -> Self {
        MappingRecord {
            uuid: nimbus_core::request::new_request_id(),
            event_source_arn: arn.to_owned(),
            function_name: function.to_owned(),
            qualifier,
            enabled,
            starting_position: starting.to_owned(),
            batch_size: 100,
            parallelization_factor: 1,
            maximum_retry_attempts: -1,
            maximum_record_age_seconds: -1,
            state: "Creating".into(),
            state_transition_reason: USER_ACTION.into(),
            last_processing_result: NO_RECORDS.into(),
            ..Default::default()
        }
    }

    pub fn function_arn(&self, ctx: &Context) -> String {
        qualified_arn(ctx, &self.function_name, self.qualifier.as_deref())
    }

    pub fn reports_item_failures(&self) -> bool {
        self.function_response_types.iter().any(|t| t == "ReportBatchItemFailures")
    }

    /// The mapping as the API shows it (`EventSourceMappingConfiguration`).
    pub fn to_json(&self, ctx: &Context) -> Value {
        let on_failure = match &self.on_failure {
            Some(d) => json!({ "Destination": d }),
            None => json!({}),
        };
        let mut v = json!({
            "UUID": self.uuid,
            "StartingPosition": self.starting_position,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window_seconds,
            "ParallelizationFactor": self.parallelization_factor,
            "EventSourceArn": self.event_source_arn,
            "FunctionArn": self.function_arn(ctx),
            "LastModified": self.last_modified,
            "LastProcessingResult": self.last_processing_result,
            "State": self.state,
            "StateTransitionReason": self.state_transition_reason,
            "DestinationConfig": { "OnFailure": on_failure },
            "MaximumRecordAgeInSeconds": self.maximum_record_age_seconds,
            "BisectBatchOnFunctionError": self.bisect_on_error,
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "TumblingWindowInSeconds": self.tumbling_window_seconds,
            "FunctionResponseTypes": self.function_response_types,
            "EventSourceMappingArn": format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{}", ctx.region, ctx.account_id, self.uuid
            ),
        });
        if !self.filters.is_empty() {
            let filters: Vec<Value> = self.filters.iter().map(|p| json!({ "Pattern": p })).collect();
            v["FilterCriteria"] = json!({ "Filters": filters });
        }
        v
    }
}

pub fn not_found(uuid: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"),
    )
}

/// Reads and writes mappings and their checkpoints.
#[derive(Clone)]
pub struct MappingStore {
    store: Arc<dyn Store>,
}

impl MappingStore {
    pub fn new(store: Arc<dyn Store>) -> Self {
        MappingStore { store }
    }

    pub fn get(&self, uuid: &str) -> Result<Option<MappingRecord>, AwsError> {
        match self.store.get(MAPPINGS, uuid.as_bytes()).map_err(internal)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(internal),
            None => Ok(None),
        }
    }

    /// Every mapping, in UUID order.
    pub fn list(&self) -> Result<Vec<MappingRecord>, AwsError> {
        let rows = self.store.scan_prefix(MAPPINGS, b"", usize::MAX).map_err(internal)?;
        rows.iter().map(|(_, v)| serde_json::from_slice(v).map_err(internal)).collect()
    }

    /// A new mapping and its starting checkpoint, in one batch.
    pub async fn create(&self, record: &MappingRecord, position: &str) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        batch.put(MAPPINGS, record.uuid.clone().into_bytes(), serde_json::to_vec(record).map_err(internal)?);
        batch.put(POSITIONS, record.uuid.clone().into_bytes(), position.as_bytes().to_vec());
        self.store.write(batch).await.map_err(internal)
    }

    /// Read-modify-write one mapping; `change` may refuse with an error.
    pub async fn update<F>(&self, uuid: &str, change: F) -> Result<MappingRecord, AwsError>
    where
        F: FnOnce(&mut MappingRecord) -> Result<(), AwsError> + Send + 'static,
    {
        let key = uuid.to_owned();
        let missing = not_found(uuid);
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let Some(bytes) = view.get(MAPPINGS, key.as_bytes())? else {
                return Err(TxnError::Aborted(missing));
            };
            let mut record: MappingRecord =
                serde_json::from_slice(&bytes).map_err(|e| TxnError::Aborted(internal(e)))?;
            change(&mut record).map_err(TxnError::Aborted)?;
            let value = serde_json::to_vec(&record).map_err(|e| TxnError::Aborted(internal(e)))?;
            let mut batch = WriteBatch::new();
            batch.put(MAPPINGS, key.into_bytes(), value);
            Ok((batch, record))
        })
        .await
        .map_err(txn_error)
    }

    pub async fn delete(&self, uuid: &str) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        batch.delete(MAPPINGS, uuid.as_bytes().to_vec());
        batch.delete(POSITIONS, uuid.as_bytes().to_vec());
        self.store.write(batch).await.map_err(internal)
    }

    pub fn position(&self, uuid: &str) -> Result<Option<String>, AwsError> {
        let bytes = self.store.get(POSITIONS, uuid.as_bytes()).map_err(internal)?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Durably record that everything before `position` was handled; only
    /// while the mapping exists (a deleted mapping leaves no checkpoint).
    pub async fn checkpoint(&self, uuid: &str, position: &str) -> Result<(), AwsError> {
        let (key, value) = (uuid.to_owned(), position.to_owned());
        nimbus_store::transact(self.store.as_ref(), move |view| {
            let mut batch = WriteBatch::new();
            if view.get(MAPPINGS, key.as_bytes())?.is_some() {
                batch.put(POSITIONS, key.into_bytes(), value.into_bytes());
            }
            Ok::<_, TxnError<AwsError>>((batch, ()))
        })
        .await
        .map_err(txn_error)
    }
}
