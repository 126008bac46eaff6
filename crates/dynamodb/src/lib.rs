//! DynamoDB: awsJson 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`.
//!
//! Map: `types/` (attribute values, numbers, key encoding, sizes), `expr/`
//! (expression parser and evaluator), `model/` (tables and items in the
//! store), `engine` (one conditional write, shared by every write path),
//! `api/` (one file per operation group: wire in, validation, wire out),
//! `ttl` (the background deletion of expired items), `streams` (DynamoDB
//! Streams: the change records writes leave, and the service reading them)
//! and `metrics` (the `AWS/DynamoDB` CloudWatch metrics); `stream_reader`
//! opens the streams to Lambda's event source mappings.

pub mod api;
pub mod engine;
pub mod error;
pub mod expr;
pub mod metrics;
pub mod model;
pub mod stream_reader;
pub mod streams;
pub mod ttl;
pub mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Response};
use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Context, MetricSink, Protocol, Service, ServiceSpec};
use nimbus_store::Store;
use serde_json::{Map, Value};

use api::Req;
use error::serialization;
use metrics::{Metrics, Outcome};
use model::Catalog;

/// Namespace of DynamoDB's own error types in `__type`.
pub const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";

static SPEC: ServiceSpec = ServiceSpec {
    name: "dynamodb",
    signing_name: "dynamodb",
    protocol: Protocol::AwsJson1_0,
    target_prefix: Some("DynamoDB_20120810"),
    crc32: true,
    ..ServiceSpec::BASE
};

pub struct DynamoDb {
    catalog: Catalog,
    context: Context,
    /// TransactWriteItems ClientRequestTokens seen in the last ten minutes.
    tokens: Mutex<HashMap<String, api::transact::TokenEntry>>,
    metrics: Arc<Metrics>,
    /// Counts successful writes: stream readers wake on it.
    writes: tokio::sync::watch::Sender<u64>,
}

/// The operations that may add stream records.
const WRITES: [&str; 8] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

impl DynamoDb {
    pub fn new(store: Arc<dyn Store>, context: Context) -> Self {
        let metrics = Arc::new(Metrics::default());
        let writes = tokio::sync::watch::Sender::new(0);
        DynamoDb { catalog: Catalog::new(store), context, tokens: Mutex::new(HashMap::new()), metrics, writes }
    }

    /// A counter that moves after every successful write (for `StreamReader::changes`).
    pub fn writes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writes.subscribe()
    }

    /// Report the `AWS/DynamoDB` metrics to `sink` (once a second).
    pub fn set_metrics(&self, sink: Arc<dyn MetricSink>) {
        self.metrics.start(sink);
    }

    /// Report the metrics counted since the last report now (shutdown, tests).
    pub fn flush_metrics(&self) {
        self.metrics.flush();
    }

    /// Handle one operation on a JSON body; the response body as bytes.
    pub async fn call(&self, operation: &str, region: &str, body: &[u8]) -> Result<Vec<u8>, AwsError> {
        self.call_as(None, operation, region, body).await
    }

    /// As `call`; `caller`, when given, is authorized before anything is
    /// read or written.
    pub async fn call_as(
        &self,
        caller: Option<&AwsRequest>,
        operation: &str,
        region: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, AwsError> {
        let map = match parse_body(body) {
            Ok(map) => map,
            Err(err) => {
                self.metrics.request(operation, &Map::new(), Duration::ZERO, Outcome::Error(&err));
                return Err(err);
            }
        };
        // The clock is read only when someone is counting.
        let started = self.metrics.enabled().then(Instant::now);
        let result = self.dispatch(caller, operation, region, &map).await;
        if result.is_ok() && WRITES.contains(&operation) {
            self.writes.send_modify(|n| *n = n.wrapping_add(1));
        }
        if let Some(started) = started {
            let outcome = match &result {
                Ok((_, returned)) => Outcome::Success { returned: *returned },
                Err(err) => Outcome::Error(err),
            };
            self.metrics.request(operation, &map, started.elapsed(), outcome);
        }
        result.map(|(body, _)| body)
    }

    /// Run one operation: the response body, and the items a Query or Scan returned.
    async fn dispatch(
        &self,
        caller: Option<&AwsRequest>,
        operation: &str,
        region: &str,
        map: &Map<String, Value>,
    ) -> Result<(Vec<u8>, Option<u64>), AwsError> {
        let r = match operation {
            "BatchWriteItem" | "TransactWriteItems" | "TransactGetItems" | "Scan" => Req::new(map).older(),
            _ => Req::new(map),
        };
        if let Some(request) = caller {
            self.authorize(request, operation, region, &r)?;
        }
        let out = match operation {
            "GetItem" => return Ok((self.get_item(region, r).await?, None)),
            "PutItem" => self.put_item(region, r).await?,
            "UpdateItem" => self.update_item(region, r).await?,
            "DeleteItem" => self.delete_item(region, r).await?,
            "Query" => return self.query(region, r).await.map(|(body, count)| (body, Some(count))),
            "Scan" => return self.scan(region, r).await.map(|(body, count)| (body, Some(count))),
            "BatchGetItem" => self.batch_get_item(region, r).await?,
            "BatchWriteItem" => self.batch_write_item(region, r).await?,
            "TransactWriteItems" => self.transact_write_items(region, r).await?,
            "TransactGetItems" => self.transact_get_items(region, r).await?,
            "CreateTable" => self.create_table(region, r).await?,
            "DescribeTable" => self.describe_table(region, r).await?,
            "ListTables" => self.list_tables(region, r).await?,
            "UpdateTable" => self.update_table(region, r).await?,
            "DeleteTable" => self.delete_table(region, r).await?,
            "TagResource" => self.tag_resource(region, r).await?,
            "UntagResource" => self.untag_resource(region, r).await?,
            "ListTagsOfResource" => self.list_tags(region, r).await?,
            "UpdateTimeToLive" => self.update_ttl(region, r).await?,
            "DescribeTimeToLive" => self.describe_ttl(region, r).await?,
            "DescribeLimits" => self.describe_limits(),
            "DescribeEndpoints" => self.describe_endpoints(region, caller.and_then(|c| c.header("host"))),
            _ => return Err(AwsError::unknown_operation(Protocol::AwsJson1_0)),
        };
        Ok((serde_json::to_vec(&out).map_err(error::internal)?, None))
    }
}

/// A request body: a JSON object (an empty body is an empty object).
pub(crate) fn parse_body(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(serialization("Start of list found where not expected")),
        Err(_) => Err(serialization("Unable to parse request body as JSON")),
    }
}

impl Service for DynamoDb {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            let operation = request.target_operation.as_deref().unwrap_or_default();
            let region = if request.region.is_empty() { self.context.region.as_str() } else { request.region.as_str() };
            let body = self.call_as(Some(&request), operation, region, &request.body).await?;
            Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
                .body(Bytes::from(body))
                .map_err(error::internal)
        })
    }
}

#[cfg(test)]
mod tests;
