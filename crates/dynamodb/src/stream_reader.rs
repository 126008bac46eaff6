//! DynamoDB Streams behind core's `StreamReader` door, for Lambda's event
//! source mappings: reads go through the Streams API's own GetShardIterator
//! and GetRecords (as the service itself, no caller to authorize), so a
//! mapping sees exactly the records, shapes and errors a client would.
//!
//! A position is the sequence number of the next record to read, in decimal.

use std::sync::Arc;

use nimbus_core::time::now_epoch_millis;
use nimbus_core::{AwsError, StartingPosition, StreamBatch, StreamReader, StreamRecord};
use nimbus_store::Store;
use serde_json::{json, Value};

use crate::error::{internal, validation};
use crate::streams::iterator::ShardIterator;
use crate::streams::model::{load, parse_seq, parse_stream_arn, stream_not_found};
use crate::streams::DynamoDbStreams;

/// GetRecords' largest Limit.
const MAX_READ: usize = 1000;

pub struct DynamoDbStreamReader {
    streams: Arc<DynamoDbStreams>,
    store: Arc<dyn Store>,
    /// `DynamoDb::writes`: moves after every write.
    writes: tokio::sync::watch::Receiver<u64>,
}

impl DynamoDbStreamReader {
    pub fn new(
        streams: Arc<DynamoDbStreams>,
        store: Arc<dyn Store>,
        writes: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        DynamoDbStreamReader { streams, store, writes }
    }

    fn call(&self, region: &str, operation: &str, body: Value) -> Result<Value, AwsError> {
        let out = self.streams.call(None, operation, region, body.to_string().as_bytes())?;
        serde_json::from_slice(&out).map_err(internal)
    }

    /// The stream's region and its only shard's id.
    fn shard(&self, arn: &str) -> Result<(String, String), AwsError> {
        let (region, table, label) = parse_stream_arn(arn).ok_or_else(|| stream_not_found(arn))?;
        let snapshot = self.store.snapshot().map_err(internal)?;
        let meta = load(snapshot.as_ref(), region, table, label)?.ok_or_else(|| stream_not_found(arn))?;
        Ok((region.to_owned(), meta.shard_id()))
    }
}

impl StreamReader for DynamoDbStreamReader {
    fn starting_position(&self, stream_arn: &str, start: StartingPosition) -> Result<String, AwsError> {
        let (region, shard) = self.shard(stream_arn)?;
        let kind = match start {
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
            StartingPosition::Latest => "LATEST",
        };
        let body = json!({"StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": kind});
        let out = self.call(&region, "GetShardIterator", body)?;
        let iterator =
            out["ShardIterator"].as_str().and_then(ShardIterator::decode).ok_or_else(|| internal("no iterator"))?;
        Ok(iterator.position.to_string())
    }

    fn read(&self, stream_arn: &str, position: &str, limit: usize) -> Result<StreamBatch, AwsError> {
        let from: u64 = position.parse().map_err(|_| validation(format!("Invalid position: {position}")))?;
        let (region, shard_id) = self.shard(stream_arn)?;
        let iterator = ShardIterator {
            stream_arn: stream_arn.to_owned(),
            shard_id,
            position: from,
            issued_ms: now_epoch_millis(),
        };
        let body = json!({"ShardIterator": iterator.encode(), "Limit": limit.clamp(1, MAX_READ)});
        let out = self.call(&region, "GetRecords", body)?;
        let mut batch = StreamBatch { records: vec![], next_position: position.to_owned() };
        let Some(Value::Array(records)) = out.get("Records").cloned() else {
            return Ok(batch);
        };
        for event in records {
            let sequence_number = event["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned();
            let seq = parse_seq(&sequence_number).ok_or_else(|| internal("record without a sequence number"))?;
            let created_ms = event["dynamodb"]["ApproximateCreationDateTime"].as_u64().unwrap_or(0) * 1000;
            batch.next_position = (seq + 1).to_string();
            batch.records.push(StreamRecord {
                sequence_number,
                position: seq.to_string(),
                next_position: (seq + 1).to_string(),
                created_ms,
                event,
            });
        }
        Ok(batch)
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.writes.clone())
    }
}
