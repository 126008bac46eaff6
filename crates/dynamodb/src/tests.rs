//! End-to-end tests of the operations through `DynamoDb::call` against a
//! real redb store.

use std::sync::Arc;

use nimbus_core::{AwsError, Context};
use nimbus_store::Store;
use nimbus_store_redb::RedbStore;
use serde_json::{json, Value};

use crate::DynamoDb;

struct Harness {
    ddb: DynamoDb,
    dir: std::path::PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn harness() -> Harness {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("nimbus-ddb-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    Harness { ddb: DynamoDb::new(store, context), dir }
}

impl Harness {
    async fn call(&self, op: &str, body: Value) -> Result<Value, AwsError> {
        let out = self.ddb.call(op, "us-east-1", body.to_string().as_bytes()).await?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    async fn ok(&self, op: &str, body: Value) -> Value {
        match self.call(op, body).await {
            Ok(v) => v,
            Err(e) => panic!("{op} failed: {e}"),
        }
    }

    async fn err(&self, op: &str, body: Value) -> AwsError {
        match self.call(op, body).await {
            Ok(v) => panic!("{op} unexpectedly succeeded: {v}"),
            Err(e) => e,
        }
    }

    async fn table(&self, name: &str) {
        self.ok(
            "CreateTable",
            json!({
                "TableName": name,
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "g", "AttributeType": "S"},
                    {"AttributeName": "l", "AttributeType": "S"}
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "BillingMode": "PAY_PER_REQUEST",
                "GlobalSecondaryIndexes": [{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}}],
                "LocalSecondaryIndexes": [{"IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}}]
            }),
        )
        .await;
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn table_lifecycle() {
    rt().block_on(async {
        let h = harness();
        h.table("tbl1").await;
        let d = h.ok("DescribeTable", json!({"TableName": "tbl1"})).await;
        assert_eq!(d["Table"]["TableStatus"], "ACTIVE");
        assert_eq!(d["Table"]["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(d["Table"]["GlobalSecondaryIndexes"][0]["IndexStatus"], "ACTIVE");
        assert_eq!(d["Table"]["TableArn"], "arn:aws:dynamodb:us-east-1:000000000000:table/tbl1");
        let e = h.err("CreateTable", json!({"TableName": "tbl1", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"})).await;
        assert_eq!(e.code, "ResourceInUseException");
        assert_eq!(e.message, "Table already exists: tbl1");
        let l = h.ok("ListTables", json!({})).await;
        assert_eq!(l["TableNames"], json!(["tbl1"]));
        let e = h.err("DescribeTable", json!({"TableName": "nope"})).await;
        assert_eq!(e.message, "Requested resource not found: Table: nope not found");
        let e = h.err("DescribeTable", json!({"TableName": "x"})).await;
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'x' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
        h.ok("UpdateTable", json!({"TableName": "tbl1", "DeletionProtectionEnabled": true})).await;
        let e = h.err("DeleteTable", json!({"TableName": "tbl1"})).await;
        assert!(e.message.contains("protected against deletion"));
        h.ok("UpdateTable", json!({"TableName": "tbl1", "DeletionProtectionEnabled": false})).await;
        let arn = d["Table"]["TableArn"].as_str().unwrap();
        h.ok("TagResource", json!({"ResourceArn": arn, "Tags": [{"Key": "a", "Value": "1"}]})).await;
        assert_eq!(h.ok("ListTagsOfResource", json!({"ResourceArn": arn})).await["Tags"], json!([{"Key": "a", "Value": "1"}]));
        h.ok("UpdateTimeToLive", json!({"TableName": "tbl1", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}})).await;
        let ttl = h.ok("DescribeTimeToLive", json!({"TableName": "tbl1"})).await;
        assert_eq!(ttl["TimeToLiveDescription"]["TimeToLiveStatus"], "ENABLED");
        let del = h.ok("DeleteTable", json!({"TableName": "tbl1"})).await;
        assert_eq!(del["TableDescription"]["TableStatus"], "DELETING");
        assert_eq!(h.ok("ListTables", json!({})).await["TableNames"], json!([]));
    });
}

#[test]
fn item_crud_with_conditions_and_return_values() {
    rt().block_on(async {
        let h = harness();
        h.table("items").await;
        let item = json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "10"}, "g": {"S": "G"}});
        h.ok("PutItem", json!({"TableName": "items", "Item": item})).await;
        let got = h.ok("GetItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1.0"}}})).await;
        assert_eq!(got["Item"]["v"], json!({"N": "10"}));
        let e = h
            .err("PutItem", json!({"TableName": "items", "Item": item, "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}))
            .await;
        assert_eq!(e.code, "ConditionalCheckFailedException");
        assert_eq!(e.message, "The conditional request failed");
        assert_eq!(e.extra.unwrap()["Item"]["v"], json!({"N": "10"}));
        let u = h
            .ok("UpdateItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                "UpdateExpression": "SET v = v + :d, w = :w", "ConditionExpression": "v = :ten",
                "ExpressionAttributeValues": {":d": {"N": "0.5"}, ":w": {"S": "x"}, ":ten": {"N": "10"}},
                "ReturnValues": "UPDATED_NEW"}))
            .await;
        assert_eq!(u["Attributes"], json!({"v": {"N": "10.5"}, "w": {"S": "x"}}));
        let e = h
            .err("UpdateItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                "UpdateExpression": "SET pk = :w", "ExpressionAttributeValues": {":w": {"S": "x"}}}))
            .await;
        assert_eq!(e.message, "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key");
        let e = h.err("GetItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}}})).await;
        assert_eq!(e.message, "The provided key element does not match the schema");
        let e = h.err("PutItem", json!({"TableName": "items", "Item": {"pk": {"S": "a"}}})).await;
        assert_eq!(e.message, "One or more parameter values were invalid: Missing the key sk in the item");
        let e = h.err("PutItem", json!({"TableName": "items", "Item": {"pk": {"S": ""}, "sk": {"N": "1"}}})).await;
        assert_eq!(
            e.message,
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
        );
        let e = h.err("PutItem", json!({"TableName": "missing", "Item": item})).await;
        assert_eq!((e.code.as_ref(), e.message.as_str()), ("ResourceNotFoundException", "Requested resource not found"));
        let d = h
            .ok("DeleteItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ReturnValues": "ALL_OLD",
                "ReturnConsumedCapacity": "TOTAL"}))
            .await;
        assert_eq!(d["Attributes"]["w"], json!({"S": "x"}));
        // One unit for the item, one for removing its GSI entry.
        assert_eq!(d["ConsumedCapacity"]["CapacityUnits"], json!(2.0));
        assert_eq!(h.ok("GetItem", json!({"TableName": "items", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}})).await, json!({}));
        let e = h.err("PutItem", json!({"TableName": "items", "Item": item, "ReturnValues": "ALL_NEW"})).await;
        assert_eq!(e.message, "1 validation error detected: ReturnValues can only be ALL_OLD or NONE");
        let err = h.ddb.call("PutItem", "us-east-1", b"{not json").await.unwrap_err();
        assert_eq!(err.code, "SerializationException");
    });
}

#[test]
fn query_scan_indexes_and_paging() {
    rt().block_on(async {
        let h = harness();
        h.table("qtab").await;
        for i in 0..10 {
            let g = if i % 2 == 0 { "even" } else { "odd" };
            h.ok("PutItem", json!({"TableName": "qtab", "Item": {"pk": {"S": "p"}, "sk": {"N": i.to_string()}, "g": {"S": g},
                "l": {"S": format!("l{}", 9 - i)}, "x": {"N": "1"}, "y": {"N": "2"}}}))
                .await;
        }
        h.ok("PutItem", json!({"TableName": "qtab", "Item": {"pk": {"S": "other"}, "sk": {"N": "-5"}}})).await;
        let q = h
            .ok("Query", json!({"TableName": "qtab", "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                "ExpressionAttributeValues": {":p": {"S": "p"}, ":a": {"N": "2"}, ":b": {"N": "5"}}, "ScanIndexForward": false}))
            .await;
        let sks: Vec<&str> = q["Items"].as_array().unwrap().iter().map(|i| i["sk"]["N"].as_str().unwrap()).collect();
        assert_eq!(sks, ["5", "4", "3", "2"]);
        let page1 = h
            .ok("Query", json!({"TableName": "qtab", "KeyConditionExpression": "pk = :p", "Limit": 3,
                "FilterExpression": "l <> :l8", "ExpressionAttributeValues": {":p": {"S": "p"}, ":l8": {"S": "l8"}}}))
            .await;
        assert_eq!((page1["Count"].as_u64(), page1["ScannedCount"].as_u64()), (Some(2), Some(3)));
        assert_eq!(page1["LastEvaluatedKey"], json!({"pk": {"S": "p"}, "sk": {"N": "2"}}));
        let page2 = h
            .ok("Query", json!({"TableName": "qtab", "KeyConditionExpression": "pk = :p", "Limit": 3,
                "ExclusiveStartKey": page1["LastEvaluatedKey"], "ExpressionAttributeValues": {":p": {"S": "p"}}}))
            .await;
        assert_eq!(page2["Items"][0]["sk"], json!({"N": "3"}));
        let gsi = h
            .ok("Query", json!({"TableName": "qtab", "IndexName": "gsi", "KeyConditionExpression": "g = :g",
                "ExpressionAttributeValues": {":g": {"S": "odd"}}}))
            .await;
        assert_eq!(gsi["Count"], 5);
        assert_eq!(gsi["Items"][0], json!({"pk": {"S": "p"}, "sk": {"N": "1"}, "g": {"S": "odd"}}));
        let lsi = h
            .ok("Query", json!({"TableName": "qtab", "IndexName": "lsi", "KeyConditionExpression": "pk = :p AND begins_with(l, :l)",
                "ExpressionAttributeValues": {":p": {"S": "p"}, ":l": {"S": "l"}}, "Limit": 1}))
            .await;
        assert_eq!(lsi["Items"][0], json!({"pk": {"S": "p"}, "sk": {"N": "9"}, "l": {"S": "l0"}, "x": {"N": "1"}}));
        assert_eq!(lsi["LastEvaluatedKey"], json!({"pk": {"S": "p"}, "sk": {"N": "9"}, "l": {"S": "l0"}}));
        let count = h
            .ok("Scan", json!({"TableName": "qtab", "Select": "COUNT", "ReturnConsumedCapacity": "TOTAL"}))
            .await;
        assert_eq!(count["Count"], 11);
        assert!(count.get("Items").is_none());
        let mut total = 0;
        for seg in 0..3 {
            total += h.ok("Scan", json!({"TableName": "qtab", "Segment": seg, "TotalSegments": 3})).await["Count"].as_u64().unwrap();
        }
        assert_eq!(total, 11);
        let e = h
            .err("Query", json!({"TableName": "qtab", "KeyConditionExpression": "sk = :a",
                "ExpressionAttributeValues": {":a": {"N": "1"}}}))
            .await;
        assert_eq!(e.message, "Query condition missed key schema element: pk");
        let e = h
            .err("Query", json!({"TableName": "qtab", "KeyConditionExpression": "pk = :p", "FilterExpression": "sk = :p",
                "ExpressionAttributeValues": {":p": {"S": "p"}}}))
            .await;
        assert_eq!(e.message, "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk");
        let legacy = h
            .ok("Query", json!({"TableName": "qtab", "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "7"}]}}, "AttributesToGet": ["sk"]}))
            .await;
        assert_eq!(legacy["Items"], json!([{"sk": {"N": "8"}}, {"sk": {"N": "9"}}]));
        // An index added later is backfilled.
        h.ok("UpdateTable", json!({"TableName": "qtab", "AttributeDefinitions": [{"AttributeName": "x", "AttributeType": "N"}],
            "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "byx", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}}]}))
            .await;
        let byx = h
            .ok("Query", json!({"TableName": "qtab", "IndexName": "byx", "KeyConditionExpression": "x = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}}}))
            .await;
        assert_eq!(byx["Count"], 10);
        let d = h.ok("DescribeTable", json!({"TableName": "qtab"})).await;
        assert_eq!(d["Table"]["ItemCount"], 11);
    });
}

#[test]
fn batches_and_transactions() {
    rt().block_on(async {
        let h = harness();
        h.table("btab").await;
        let puts: Vec<Value> = (0..5)
            .map(|i| json!({"PutRequest": {"Item": {"pk": {"S": "k"}, "sk": {"N": i.to_string()}, "n": {"N": "0"}}}}))
            .collect();
        let w = h.ok("BatchWriteItem", json!({"RequestItems": {"btab": puts}})).await;
        assert_eq!(w["UnprocessedItems"], json!({}));
        let keys: Vec<Value> = (0..3).map(|i| json!({"pk": {"S": "k"}, "sk": {"N": i.to_string()}})).collect();
        let g = h.ok("BatchGetItem", json!({"RequestItems": {"btab": {"Keys": keys, "ProjectionExpression": "sk"}}})).await;
        assert_eq!(g["Responses"]["btab"].as_array().unwrap().len(), 3);
        let dup = h
            .err("BatchGetItem", json!({"RequestItems": {"btab": {"Keys": [{"pk": {"S": "k"}, "sk": {"N": "1"}}, {"pk": {"S": "k"}, "sk": {"N": "1"}}]}}}))
            .await;
        assert_eq!(dup.message, "Provided list of item keys contains duplicates");
        let key = |i: u32| json!({"pk": {"S": "k"}, "sk": {"N": i.to_string()}});
        let e = h
            .err("TransactWriteItems", json!({"TransactItems": [
                {"Update": {"TableName": "btab", "Key": key(0), "UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"ConditionCheck": {"TableName": "btab", "Key": key(1), "ConditionExpression": "n = :five",
                    "ExpressionAttributeValues": {":five": {"N": "5"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
            ]}))
            .await;
        assert_eq!(e.code, "TransactionCanceledException");
        assert_eq!(
            e.message,
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
        );
        let reasons = &e.extra.unwrap()["CancellationReasons"];
        assert_eq!(reasons[0], json!({"Code": "None"}));
        assert_eq!(reasons[1]["Item"]["n"], json!({"N": "0"}));
        let txn = json!({"ClientRequestToken": "tok", "ReturnConsumedCapacity": "TOTAL", "TransactItems": [
            {"Update": {"TableName": "btab", "Key": key(0), "UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": "btab", "Key": key(4)}},
            {"Put": {"TableName": "btab", "Item": {"pk": {"S": "k"}, "sk": {"N": "9"}}, "ConditionExpression": "attribute_not_exists(pk)"}}
        ]});
        let first = h.ok("TransactWriteItems", txn.clone()).await;
        assert_eq!(first["ConsumedCapacity"][0]["CapacityUnits"], json!(6.0));
        h.ok("TransactWriteItems", txn).await;
        let got = h.ok("TransactGetItems", json!({"TransactItems": [{"Get": {"TableName": "btab", "Key": key(0)}}, {"Get": {"TableName": "btab", "Key": key(4)}}]})).await;
        assert_eq!(got["Responses"][0]["Item"]["n"], json!({"N": "1"}), "the token made the retry a no-op");
        assert_eq!(got["Responses"][1], json!({}));
        let e = h
            .err("TransactWriteItems", json!({"TransactItems": [{"Delete": {"TableName": "btab", "Key": key(0)}}, {"Delete": {"TableName": "btab", "Key": key(0)}}]}))
            .await;
        assert_eq!(e.message, "Transaction request cannot include multiple operations on one item");
    });
}

#[test]
fn concurrent_counters_lose_no_updates() {
    rt().block_on(async {
        let h = Arc::new(harness());
        h.table("ctab").await;
        let mut tasks = vec![];
        for _ in 0..8 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..25 {
                    h.ok(
                        "UpdateItem",
                        json!({"TableName": "ctab", "Key": {"pk": {"S": "x"}, "sk": {"N": "0"}},
                        "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}),
                    )
                    .await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let got = h
            .ok(
                "GetItem",
                json!({"TableName": "ctab", "Key": {"pk": {"S": "x"}, "sk": {"N": "0"}}, "ConsistentRead": true}),
            )
            .await;
        assert_eq!(got["Item"]["n"], json!({"N": "200"}));
    });
}

/// A rough latency check of the hot paths: `cargo test --release -p nimbus-dynamodb hot_path -- --ignored --nocapture`.
#[test]
#[ignore]
fn hot_path_timings() {
    rt().block_on(async {
        let h = harness();
        h.table("perf").await;
        let n = 2000;
        let body = |i: u32| {
            json!({"TableName": "perf", "Item": {"pk": {"S": format!("user-{i}")}, "sk": {"N": "1"}, "name": {"S": "x".repeat(150)},
                "n": {"N": "12345"}}})
            .to_string()
        };
        let bodies: Vec<String> = (0..n).map(body).collect();
        let start = std::time::Instant::now();
        for b in &bodies {
            h.ddb.call("PutItem", "us-east-1", b.as_bytes()).await.unwrap();
        }
        println!("PutItem: {:?} per op (sequential, durable)", start.elapsed() / n);
        let gets: Vec<String> = (0..n)
            .map(|i| json!({"TableName": "perf", "Key": {"pk": {"S": format!("user-{i}")}, "sk": {"N": "1"}}}).to_string())
            .collect();
        let start = std::time::Instant::now();
        for g in &gets {
            h.ddb.call("GetItem", "us-east-1", g.as_bytes()).await.unwrap();
        }
        println!("GetItem: {:?} per op", start.elapsed() / n);
    });
}

/// Writers that keep putting `KEYS` items (`colour` = the round) until stopped
/// or refused; each returns the error that stopped it, if any.
fn spawn_writers(
    h: &Arc<Harness>,
    table: &'static str,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Option<AwsError>>> {
    const WRITERS: usize = 8;
    (0..WRITERS)
        .map(|w| {
            let (h, stop) = (h.clone(), stop.clone());
            tokio::spawn(async move {
                for round in 0.. {
                    for i in (w..RACE_KEYS).step_by(WRITERS) {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            return None;
                        }
                        let item = json!({"pk": {"S": format!("k{i}")}, "colour": {"S": format!("c{round}")}});
                        if let Err(e) = h.call("PutItem", json!({"TableName": table, "Item": item})).await {
                            return Some(e);
                        }
                    }
                }
                None
            })
        })
        .collect()
}

const RACE_KEYS: usize = 64;

async fn hash_table(h: &Harness, name: &str) {
    h.ok(
        "CreateTable",
        json!({"TableName": name, "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
    )
    .await;
}

/// pk → colour of every item a Scan (of the table or an index) returns.
async fn colours(h: &Harness, body: Value) -> std::collections::BTreeMap<String, String> {
    let out = h.ok("Scan", body).await;
    out["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["pk"]["S"].as_str().unwrap().to_owned(), i["colour"]["S"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn gsi_backfill_misses_no_concurrent_write() {
    rt().block_on(async {
        let h = Arc::new(harness());
        hash_table(&h, "backfill").await;
        // Every key exists before the race, however slowly the writers start.
        for i in 0..RACE_KEYS {
            let item = json!({"pk": {"S": format!("k{i}")}, "colour": {"S": "start"}});
            h.ok("PutItem", json!({"TableName": "backfill", "Item": item})).await;
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers = spawn_writers(&h, "backfill", &stop);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        h.ok(
            "UpdateTable",
            json!({"TableName": "backfill", "AttributeDefinitions": [{"AttributeName": "colour", "AttributeType": "S"}],
                "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by-colour",
                    "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}]}),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            assert!(w.await.unwrap().is_none());
        }
        // Every item has exactly one index entry, with its colour as it is now.
        let items = colours(&h, json!({"TableName": "backfill"})).await;
        assert_eq!(items.len(), RACE_KEYS);
        let indexed = colours(&h, json!({"TableName": "backfill", "IndexName": "by-colour"})).await;
        let count = h.ok("Scan", json!({"TableName": "backfill", "IndexName": "by-colour", "Select": "COUNT"})).await;
        assert_eq!(count["Count"], json!(RACE_KEYS));
        assert_eq!(indexed, items);
    });
}

#[test]
fn delete_table_leaves_no_write_behind() {
    rt().block_on(async {
        let h = Arc::new(harness());
        hash_table(&h, "doomed").await;
        let id = h.ddb.catalog.get("us-east-1", "doomed").unwrap().unwrap().id;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers = spawn_writers(&h, "doomed", &stop);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        h.ok("DeleteTable", json!({"TableName": "doomed"})).await;
        // Every writer ends refused: the table is gone.
        for w in writers {
            let refused = w.await.unwrap().expect("a write after DeleteTable succeeded forever");
            assert_eq!(refused.code, "ResourceNotFoundException");
        }
        // No write committed after the delete left an item behind.
        use nimbus_store::ReadViewExt;
        let store = h.ddb.catalog.store();
        let left = store.scan_prefix(crate::model::ITEMS, &id.to_be_bytes(), usize::MAX).unwrap();
        assert_eq!(left.len(), 0, "items of the deleted table are still stored");
    });
}

/// What counting the AWS/DynamoDB metrics adds to a call: the same GetItem
/// and Query through two services on one store, one reporting to a sink
/// and one not, alternating, medians of 41 rounds. A measurement, not a
/// test: `cargo test --release -p nimbus-dynamodb --lib -- --ignored
/// metrics_cost --nocapture`.
#[test]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
fn metrics_cost_side_by_side() {
    rt().block_on(async {
        let dir = std::env::temp_dir().join(format!("nimbus-ddb-cost-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
        let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
        let off = DynamoDb::new(store.clone(), context.clone());
        let on = DynamoDb::new(store.clone(), context);
        on.set_metrics(Arc::new(nimbus_core::DiscardSink));
        let create = json!({"TableName": "cost", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"});
        off.call("CreateTable", "us-east-1", create.to_string().as_bytes()).await.unwrap();
        let put = json!({"TableName": "cost", "Item": {"pk": {"S": "a"}, "v": {"S": "x".repeat(200)}}});
        off.call("PutItem", "us-east-1", put.to_string().as_bytes()).await.unwrap();
        let get = json!({"TableName": "cost", "Key": {"pk": {"S": "a"}}}).to_string();
        let query = json!({"TableName": "cost", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}).to_string();
        for (op, body) in [("GetItem", &get), ("Query", &query)] {
            let mut samples: [Vec<f64>; 2] = [vec![], vec![]];
            for round in 0..41 {
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for i in order {
                    let ddb = [&off, &on][i];
                    let n = 5_000;
                    let t = std::time::Instant::now();
                    for _ in 0..n {
                        ddb.call(op, "us-east-1", body.as_bytes()).await.unwrap();
                    }
                    samples[i].push(t.elapsed().as_nanos() as f64 / n as f64);
                }
            }
            let median = |v: &mut Vec<f64>| { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] };
            let (a, b) = (median(&mut samples[0]), median(&mut samples[1]));
            println!("{op}: metrics off {a:.0} ns/call, on {b:.0} ns/call, added {:.0} ns ({:.3}x)", b - a, b / a);
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn ttl_sweep_deletes_only_expired_numbers() {
    rt().block_on(async {
        let h = harness();
        h.table("ttl1").await;
        let now: i64 = 2_000_000_000;
        let put = |sk: u32, exp: Option<Value>| {
            let mut item = json!({"pk": {"S": "p"}, "sk": {"N": sk.to_string()}, "g": {"S": "g"}});
            if let Some(e) = exp {
                item["exp"] = e;
            }
            json!({"TableName": "ttl1", "Item": item})
        };
        // Nothing is swept before TTL is enabled.
        h.ok("PutItem", put(1, Some(json!({"N": (now - 60).to_string()})))).await;
        assert_eq!(h.ddb.sweep_expired(now).await.unwrap(), 0);
        h.ok(
            "UpdateTimeToLive",
            json!({"TableName": "ttl1", "TimeToLiveSpecification": {"AttributeName": "exp", "Enabled": true}}),
        )
        .await;
        h.ok("PutItem", put(2, Some(json!({"N": format!("{}.5", now - 1)})))).await;
        h.ok("PutItem", put(3, Some(json!({"N": (now + 60).to_string()})))).await;
        h.ok("PutItem", put(4, Some(json!({"S": (now - 60).to_string()})))).await;
        h.ok("PutItem", put(5, Some(json!({"N": (now - 6 * 365 * 86_400).to_string()})))).await;
        h.ok("PutItem", put(6, None)).await;
        assert_eq!(h.ddb.sweep_expired(now).await.unwrap(), 2);
        let keys = |resp: Value| -> Vec<String> {
            resp["Items"].as_array().unwrap().iter().map(|i| i["sk"]["N"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(keys(h.ok("Scan", json!({"TableName": "ttl1"})).await), ["3", "4", "5", "6"]);
        assert_eq!(keys(h.ok("Scan", json!({"TableName": "ttl1", "IndexName": "gsi"})).await), ["3", "4", "5", "6"]);
        // A second sweep finds nothing more.
        assert_eq!(h.ddb.sweep_expired(now).await.unwrap(), 0);
    });
}
