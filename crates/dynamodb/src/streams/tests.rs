//! Records a Time to Live deletion leaves, read back through the Streams
//! API: the deletion goes through the same engine as a caller's, marked as
//! DynamoDB's own (there is no TTL sweeper to drive it end to end yet).

use std::sync::Arc;

use nimbus_core::Context;
use nimbus_store::{transact, ReadView, Store, WriteBatch};
use nimbus_store_redb::RedbStore;
use serde_json::{json, Value};

use super::{DynamoDbStreams, Origin};
use crate::engine::{apply_as, Action, WriteOp};
use crate::types::{AttributeValue, Item};
use crate::DynamoDb;

#[test]
fn time_to_live_deletions_name_dynamodb_as_the_user() {
    let dir = std::env::temp_dir().join(format!("nimbus-ddb-streams-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let ddb = DynamoDb::new(store.clone(), context.clone());
    let streams = DynamoDbStreams::new(store.clone(), context, Default::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let created_arn = rt.block_on(async {
        let call = |op: &'static str, body: Value| {
            let ddb = &ddb;
            async move {
                serde_json::from_slice::<Value>(&ddb.call(op, "us-east-1", body.to_string().as_bytes()).await.unwrap())
                    .unwrap()
            }
        };
        let created = call(
            "CreateTable",
            json!({"TableName": "ttl", "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "OLD_IMAGE"}}),
        )
        .await;
        let arn = created["TableDescription"]["LatestStreamArn"].as_str().unwrap().to_owned();
        call("PutItem", json!({"TableName": "ttl", "Item": {"pk": {"S": "a"}, "exp": {"N": "1"}}})).await;

        let table = ddb.catalog.require("us-east-1", "ttl").unwrap();
        let key_item: Item = [("pk".to_owned(), AttributeValue::S("a".into()))].into_iter().collect();
        let op = WriteOp {
            key: table.key_of(&key_item).unwrap(),
            table,
            key_item,
            action: Action::Delete,
            condition: None,
            wants_old: true,
            statement_sized: false,
        };
        transact(store.as_ref(), move |view: &dyn ReadView| {
            let mut batch = WriteBatch::new();
            apply_as(view, &op, &mut batch, Origin::TimeToLive).map_err(|_| nimbus_store::TxnError::Aborted(()))?;
            Ok((batch, ()))
        })
        .await
        .unwrap();
        arn
    });
    let streams_call = |op: &str, body: Value| -> Value {
        serde_json::from_slice(&streams.call(None, op, "us-east-1", body.to_string().as_bytes()).unwrap()).unwrap()
    };
    let listed = streams_call("ListStreams", json!({"TableName": "ttl"}));
    let arn = listed["Streams"][0]["StreamArn"].as_str().unwrap().to_owned();
    assert_eq!(arn, created_arn);
    let shard =
        streams_call("DescribeStream", json!({"StreamArn": arn}))["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let it = streams_call(
        "GetShardIterator",
        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )["ShardIterator"]
        .clone();
    let records = streams_call("GetRecords", json!({"ShardIterator": it}))["Records"].clone();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["eventName"], "INSERT");
    assert!(records[0].get("userIdentity").is_none());
    assert_eq!(records[1]["eventName"], "REMOVE");
    assert_eq!(records[1]["userIdentity"], json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}));
    assert_eq!(records[1]["dynamodb"]["OldImage"], json!({"pk": {"S": "a"}, "exp": {"N": "1"}}));
    drop(streams);
    let _ = std::fs::remove_dir_all(&dir);
}
