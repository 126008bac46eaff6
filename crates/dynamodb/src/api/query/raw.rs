//! The fast path of a Query or Scan page that returns whole stored items
//! unfiltered: their stored JSON is copied into the response as it is (as
//! GetItem does), instead of being parsed, converted and serialised again.
//!
//! It stays exact because an item's stored JSON is never shorter than its
//! size as DynamoDB counts it. While the stored bytes of a page stay under
//! 1 MB, its items' sizes do too, so the page limit cannot have been reached;
//! a page whose stored bytes reach 1 MB goes the general way, which counts
//! sizes exactly. Read units are one per 4 KB, so a page of at most 4 KB of
//! stored bytes costs one unit whatever its exact size; a larger one has its
//! items decoded just to size them.

use std::ops::{ControlFlow, Range};

use nimbus_store::{Direction, Keyspace};

use super::{as_ref, Plan, Select, PAGE_BYTES};
use crate::api::CapacityMode;
use crate::error::{internal, Result};
use crate::model::{INDEXES, ITEMS};
use crate::types::{item_from_stored, item_size};
use crate::DynamoDb;

/// Stored bytes up to which read units need no exact item sizes.
const ONE_READ_UNIT: usize = 4096;

impl DynamoDb {
    /// The page as its response body and item count, or `None` when the
    /// plan needs the general path (filter, projection, COUNT, parallel
    /// scan, base-item lookups, or a page that may reach 1 MB).
    pub(super) fn raw_page(&self, plan: &Plan) -> Result<Option<(Vec<u8>, u64)>> {
        let whole_items = plan.filter.is_none()
            && plan.projection.is_none()
            && plan.segment.is_none()
            && plan.select != Select::Count
            && !plan.needs_base();
        if !whole_items {
            return Ok(None);
        }
        let snap = self.catalog.store().snapshot().map_err(internal)?;
        let ks: Keyspace = if plan.index.is_some() { INDEXES } else { ITEMS };
        let direction = if plan.forward { Direction::Forward } else { Direction::Backward };
        let mut body = b"{\"Items\":[".to_vec();
        // Where each item's JSON lies in `body`.
        let mut items: Vec<Range<usize>> = vec![];
        let mut stored_bytes = 0;
        let mut too_large = false;
        snap.scan(ks, (as_ref(&plan.lower), as_ref(&plan.upper)), direction, &mut |_, raw| {
            stored_bytes += raw.len();
            if stored_bytes >= PAGE_BYTES {
                too_large = true;
                return ControlFlow::Break(());
            }
            if !items.is_empty() {
                body.push(b',');
            }
            items.push(body.len()..body.len() + raw.len());
            body.extend_from_slice(raw);
            if plan.limit.is_some_and(|l| items.len() >= l) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(internal)?;
        if too_large {
            return Ok(None);
        }
        let count = items.len();
        body.extend_from_slice(format!("],\"Count\":{count},\"ScannedCount\":{count}").as_bytes());
        if let Some(last) = items.last().filter(|_| plan.limit.is_some_and(|l| count >= l)) {
            let last = item_from_stored(&body[last.clone()])?;
            let key = plan.table.key_attributes(&last, plan.index.as_ref());
            body.extend_from_slice(b",\"LastEvaluatedKey\":");
            serde_json::to_writer(&mut body, &key).map_err(internal)?;
        }
        if self.metrics.enabled() || plan.capacity != CapacityMode::None {
            let bytes = if stored_bytes <= ONE_READ_UNIT {
                stored_bytes
            } else {
                items.iter().map(|r| item_from_stored(&body[r.clone()]).map(|i| item_size(&i))).sum::<Result<_>>()?
            };
            if let Some(consumed) = self.consume(plan, bytes) {
                body.extend_from_slice(b",\"ConsumedCapacity\":");
                serde_json::to_writer(&mut body, &consumed).map_err(internal)?;
            }
        }
        body.push(b'}');
        Ok(Some((body, count as u64)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nimbus_core::Context;
    use nimbus_store::Store;
    use nimbus_store_redb::RedbStore;
    use serde_json::{json, Value};

    use crate::api::Req;
    use crate::DynamoDb;

    /// Every request below, answered by the fast path and by the general
    /// one over the same data, must give the same page.
    #[test]
    fn raw_pages_equal_general_pages() {
        let dir = std::env::temp_dir().join(format!("nimbus-ddb-raw-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: Arc<dyn Store> = RedbStore::open(&dir.join("store.redb")).unwrap();
        let ddb = DynamoDb::new(store, Context { region: "us-east-1".into(), account_id: "000000000000".into() });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let call = |op: &str, body: Value| rt.block_on(ddb.call(op, "us-east-1", body.to_string().as_bytes())).unwrap();
        call(
            "CreateTable",
            json!({"TableName": "pages", "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"}, {"AttributeName": "g", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [{"IndexName": "keys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}}],
                "LocalSecondaryIndexes": [{"IndexName": "local", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "g", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}]}),
        );
        // Partition "small": 12 items of ~100 bytes. Partition "big": 30
        // items of ~40 KB with binary, sets and nesting, whose stored JSON is
        // much larger than their DynamoDB size (base64, escaped numbers).
        for i in 0..12 {
            call(
                "PutItem",
                json!({"TableName": "pages", "Item": {"pk": {"S": "small"}, "sk": {"N": i.to_string()},
                "g": {"S": format!("g{}", i % 3)}, "n": {"N": "1.50"}, "s": {"S": "é\"\\"}}}),
            );
        }
        let blob = base64_of(&vec![7u8; 30_000]);
        for i in 0..30 {
            call(
                "PutItem",
                json!({"TableName": "pages", "Item": {"pk": {"S": "big"}, "sk": {"N": format!("{i}e1")},
                "g": {"S": "x"}, "b": {"B": blob}, "ns": {"NS": ["1", "2.0"]}, "m": {"M": {"l": {"L": [{"NULL": true}]}}},
                "text": {"S": "y".repeat(10_000)}}}),
            );
        }
        let queries = [
            json!({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "small"}}}),
            json!({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "small"}},
                "Limit": 5, "ScanIndexForward": false, "ReturnConsumedCapacity": "TOTAL"}),
            json!({"KeyConditionExpression": "pk = :p AND sk > :s", "ExpressionAttributeValues": {":p": {"S": "small"},
                ":s": {"N": "3"}}, "Limit": 8, "ExclusiveStartKey": {"pk": {"S": "small"}, "sk": {"N": "4"}}}),
            json!({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "big"}},
                "ReturnConsumedCapacity": "INDEXES", "Limit": 3}),
            json!({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "big"}},
                "ReturnConsumedCapacity": "TOTAL"}),
            json!({"IndexName": "keys", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "g1"}},
                "ReturnConsumedCapacity": "INDEXES", "Limit": 2}),
            json!({"IndexName": "local", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "big"}},
                "Limit": 4, "ConsistentRead": true, "ReturnConsumedCapacity": "INDEXES"}),
        ];
        let scans = [json!({}), json!({"Limit": 7, "ReturnConsumedCapacity": "TOTAL"}), json!({"IndexName": "keys"})];
        let mut fast = 0;
        for (request, query) in queries.iter().map(|q| (q, true)).chain(scans.iter().map(|s| (s, false))) {
            let mut body = request.as_object().unwrap().clone();
            body.insert("TableName".into(), json!("pages"));
            let r = Req::new(&body);
            let plan = || ddb.plan("us-east-1", &r, query).unwrap();
            let general = ddb.run_plan(plan()).unwrap();
            match ddb.raw_page(&plan()).unwrap() {
                Some((raw, count)) => {
                    fast += 1;
                    assert_eq!(serde_json::from_slice::<Value>(&raw).unwrap(), general, "{request}");
                    assert_eq!(Some(count), general["Count"].as_u64());
                }
                // Only a page that may reach 1 MB goes the general way here.
                None => assert!(general.get("LastEvaluatedKey").is_some(), "{request} fell back"),
            }
        }
        assert!(fast >= queries.len(), "the fast path served only {fast} pages");
        drop(ddb);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn base64_of(bytes: &[u8]) -> String {
        crate::types::base64::encode(bytes)
    }
}
