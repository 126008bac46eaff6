//! The Streams service over a real redb store: the records of Time to Live
//! deletions, and the trimming pass.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use nimbus_core::{AwsError, Context};
use nimbus_store::{ReadViewExt, Store};
use nimbus_store_redb::RedbStore;
use serde_json::{json, Value};

use super::model::RECORDS;
use super::{trim, DynamoDbStreams};
use crate::DynamoDb;

struct Harness {
    store: Arc<dyn Store>,
    ddb: DynamoDb,
    streams: DynamoDbStreams,
    rt: tokio::runtime::Runtime,
    dir: std::path::PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn harness() -> Harness {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("nimbus-ddb-streams-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let ddb = DynamoDb::new(store.clone(), context.clone());
    let streams = DynamoDbStreams::new(store.clone(), context, Default::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    Harness { store, ddb, streams, rt, dir }
}

impl Harness {
    fn ddb(&self, op: &str, body: Value) -> Value {
        let out = self.rt.block_on(self.ddb.call(op, "us-east-1", body.to_string().as_bytes())).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn streams(&self, op: &str, body: Value) -> Result<Value, AwsError> {
        let out = self.streams.call(None, op, "us-east-1", body.to_string().as_bytes())?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    /// A table `name` (hash key pk) with a stream; the stream's ARN.
    fn stream_table(&self, name: &str, view_type: &str) -> String {
        let created = self.ddb(
            "CreateTable",
            json!({"TableName": name, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": view_type}}),
        );
        created["TableDescription"]["LatestStreamArn"].as_str().unwrap().to_owned()
    }

    fn iterator(&self, arn: &str, kind: &str, seq: Option<&str>) -> Result<Value, AwsError> {
        let description = self.streams("DescribeStream", json!({"StreamArn": arn}))?;
        let shard = description["StreamDescription"]["Shards"][0]["ShardId"].clone();
        let mut body = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind});
        if let Some(seq) = seq {
            body["SequenceNumber"] = json!(seq);
        }
        Ok(self.streams("GetShardIterator", body)?["ShardIterator"].clone())
    }

    fn records(&self, arn: &str) -> Vec<Value> {
        let it = self.iterator(arn, "TRIM_HORIZON", None).unwrap();
        let out = self.streams("GetRecords", json!({"ShardIterator": it})).unwrap();
        out["Records"].as_array().unwrap().clone()
    }

    fn stored_records(&self) -> usize {
        self.store.scan_prefix(RECORDS, b"", usize::MAX).unwrap().len()
    }
}

#[test]
fn time_to_live_deletions_name_dynamodb_as_the_user() {
    let h = harness();
    let arn = h.stream_table("ttl", "OLD_IMAGE");
    h.ddb(
        "UpdateTimeToLive",
        json!({"TableName": "ttl", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}}),
    );
    let now = nimbus_core::time::now_epoch_seconds();
    let expired = (now - 10).to_string();
    h.ddb("PutItem", json!({"TableName": "ttl", "Item": {"pk": {"S": "a"}, "exp": {"N": expired}}}));
    h.ddb("DeleteItem", json!({"TableName": "ttl", "Key": {"pk": {"S": "gone"}}}));
    assert_eq!(h.rt.block_on(h.ddb.sweep_expired(now)).unwrap(), 1);
    let records = h.records(&arn);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["eventName"], "INSERT");
    assert!(records[0].get("userIdentity").is_none());
    assert_eq!(records[1]["eventName"], "REMOVE");
    assert_eq!(records[1]["userIdentity"], json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}));
    assert_eq!(records[1]["dynamodb"]["OldImage"], json!({"pk": {"S": "a"}, "exp": {"N": expired}}));
}

#[test]
fn trimming_deletes_expired_records_and_forgets_old_disabled_streams() {
    let h = harness();
    let arn = h.stream_table("trim", "KEYS_ONLY");
    for pk in ["a", "b"] {
        h.ddb("PutItem", json!({"TableName": "trim", "Item": {"pk": {"S": pk}}}));
    }
    let old = h.records(&arn);
    assert_eq!((old.len(), h.stored_records()), (2, 2));
    // A generous retention keeps everything.
    h.rt.block_on(trim::trim_all(h.store.as_ref(), 3_600_000)).unwrap();
    assert_eq!(h.stored_records(), 2);
    // With none, both records go, and stay trimmed once deleted.
    h.rt.block_on(trim::trim_all(h.store.as_ref(), 0)).unwrap();
    assert_eq!(h.stored_records(), 0);
    let seq = old[1]["dynamodb"]["SequenceNumber"].as_str().unwrap();
    let err = h.iterator(&arn, "AT_SEQUENCE_NUMBER", Some(seq)).unwrap_err();
    assert_eq!(err.code, "TrimmedDataAccessException");
    h.ddb("PutItem", json!({"TableName": "trim", "Item": {"pk": {"S": "c"}}}));
    let fresh = h.records(&arn);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["dynamodb"]["Keys"], json!({"pk": {"S": "c"}}));
    // A disabled stream lasts as long as its records would, then goes.
    h.ddb("UpdateTable", json!({"TableName": "trim", "StreamSpecification": {"StreamEnabled": false}}));
    h.rt.block_on(trim::trim_all(h.store.as_ref(), 3_600_000)).unwrap();
    assert_eq!(h.streams("ListStreams", json!({})).unwrap()["Streams"].as_array().unwrap().len(), 1);
    h.rt.block_on(trim::trim_all(h.store.as_ref(), 0)).unwrap();
    assert_eq!(h.stored_records(), 0);
    assert_eq!(h.streams("ListStreams", json!({})).unwrap()["Streams"], json!([]));
    assert_eq!(h.streams("DescribeStream", json!({"StreamArn": arn})).unwrap_err().code, "ResourceNotFoundException");
}
