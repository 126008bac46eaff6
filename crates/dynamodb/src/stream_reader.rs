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

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_core::Context;
    use nimbus_store_redb::RedbStore;

    use crate::DynamoDb;

    /// A table `Orders` with a NEW_IMAGE stream in a fresh store; the reader and
    /// a way to put items.
    fn setup(dir: &std::path::Path) -> (tokio::runtime::Runtime, DynamoDb, DynamoDbStreamReader, String) {
        let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
        let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
        let ddb = DynamoDb::new(store.clone(), context.clone());
        let streams = Arc::new(DynamoDbStreams::new(store.clone(), context, Default::default()));
        let reader = DynamoDbStreamReader::new(streams, store, ddb.writes());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let table = json!({
            "TableName": "Orders", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"},
        });
        let out = rt.block_on(ddb.call("CreateTable", "us-east-1", table.to_string().as_bytes())).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        let arn = out["TableDescription"]["LatestStreamArn"].as_str().unwrap().to_owned();
        (rt, ddb, reader, arn)
    }

    fn put(rt: &tokio::runtime::Runtime, ddb: &DynamoDb, key: &str) {
        let body = json!({"TableName": "Orders", "Item": {"pk": {"S": key}}});
        rt.block_on(ddb.call("PutItem", "us-east-1", body.to_string().as_bytes())).unwrap();
    }

    fn keys(batch: &StreamBatch) -> Vec<&str> {
        batch.records.iter().map(|r| r.event["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap()).collect()
    }

    #[test]
    fn reads_in_order_from_positions_and_signals_writes() {
        let dir = std::env::temp_dir().join(format!("nimbus-stream-reader-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (rt, ddb, reader, arn) = setup(&dir);
        let mut changes = reader.changes().unwrap();
        changes.borrow_and_update();
        put(&rt, &ddb, "a");
        assert!(changes.has_changed().unwrap(), "a write moves the counter");
        put(&rt, &ddb, "b");
        let latest = reader.starting_position(&arn, StartingPosition::Latest).unwrap();
        put(&rt, &ddb, "c");

        let start = reader.starting_position(&arn, StartingPosition::TrimHorizon).unwrap();
        let first = reader.read(&arn, &start, 2).unwrap();
        assert_eq!(keys(&first), ["a", "b"]);
        assert_eq!(first.records[0].event["eventName"], "INSERT");
        assert_eq!(first.records[1].next_position, first.next_position);
        let rest = reader.read(&arn, &first.next_position, 100).unwrap();
        assert_eq!(keys(&rest), ["c"]);
        // Reading at a record's own position returns it again (a retry).
        assert_eq!(keys(&reader.read(&arn, &first.records[1].position, 1).unwrap()), ["b"]);
        assert_eq!(keys(&reader.read(&arn, &latest, 100).unwrap()), ["c"]);
        let end = reader.read(&arn, &rest.next_position, 100).unwrap();
        assert!(end.records.is_empty() && end.next_position == rest.next_position);

        let missing = arn.replace("/stream/", "/stream/1");
        let err = reader.starting_position(&missing, StartingPosition::Latest).unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
        drop((ddb, reader));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
