//! The planned UpdateTable requests for template changes.

use serde_json::{json, Value};

use super::needs_replacement;
use super::update::plan;

fn table(extra: Value) -> Value {
    let mut t = json!({
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "owner", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

fn gsi(name: &str, pt: Option<(i64, &str)>) -> Value {
    let mut g = json!({"IndexName": name, "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}});
    if let Some((r, w)) = pt {
        g["ProvisionedThroughput"] = json!({"ReadCapacityUnits": r, "WriteCapacityUnits": w});
    }
    g
}

#[test]
fn a_new_stream_view_type_disables_then_enables_the_stream() {
    let old = table(json!({"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}}));
    let new = table(json!({"StreamSpecification": {"StreamViewType": "KEYS_ONLY"}}));
    assert_eq!(
        plan(&old, &new).unwrap(),
        [
            json!({"StreamSpecification": {"StreamEnabled": false}}),
            json!({"StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}}),
        ]
    );
}

#[test]
fn switching_to_provisioned_gives_every_index_its_throughput_and_back_gives_none() {
    let on_demand = table(json!({"BillingMode": "PAY_PER_REQUEST", "GlobalSecondaryIndexes": [gsi("byOwner", None)]}));
    let provisioned = table(json!({
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": "5", "WriteCapacityUnits": 5},
        "GlobalSecondaryIndexes": [gsi("byOwner", Some((3, "4")))],
    }));
    assert_eq!(
        plan(&on_demand, &provisioned).unwrap(),
        [json!({
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "byOwner", "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}}}],
        })]
    );
    assert_eq!(plan(&provisioned, &on_demand).unwrap(), [json!({"BillingMode": "PAY_PER_REQUEST"})]);
    // Only an index's throughput changed: only it is sent.
    let mut more = provisioned.clone();
    more["GlobalSecondaryIndexes"] = json!([gsi("byOwner", Some((6, "4")))]);
    assert_eq!(
        plan(&provisioned, &more).unwrap(),
        [
            json!({"GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "byOwner", "ProvisionedThroughput": {"ReadCapacityUnits": 6, "WriteCapacityUnits": 4}}}]})
        ]
    );
}

#[test]
fn indexes_go_one_per_request_deletions_first() {
    let old = table(json!({"BillingMode": "PAY_PER_REQUEST", "GlobalSecondaryIndexes": [gsi("a", None)]}));
    let new = table(
        json!({"BillingMode": "PAY_PER_REQUEST", "GlobalSecondaryIndexes": [gsi("b", None), gsi("c", None)], "DeletionProtectionEnabled": "true"}),
    );
    let requests = plan(&old, &new).unwrap();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert_eq!(requests[0], json!({"GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "a"}}]}));
    assert_eq!(requests[1], json!({"DeletionProtectionEnabled": true}));
    assert_eq!(requests[2]["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"], "b");
    assert_eq!(requests[3]["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"], "c");
    assert_eq!(requests[3]["AttributeDefinitions"], new["AttributeDefinitions"]);
}

#[test]
fn an_index_redefined_under_its_name_is_refused() {
    let old = table(json!({"GlobalSecondaryIndexes": [gsi("a", None)]}));
    let mut changed = gsi("a", None);
    changed["Projection"] = json!({"ProjectionType": "KEYS_ONLY"});
    let new = table(json!({"GlobalSecondaryIndexes": [changed]}));
    let err = plan(&old, &new).unwrap_err();
    assert!(err.message.starts_with("Cannot update GSI's properties other than Provisioned Throughput"), "{err}");
}

#[test]
fn cloudformation_sse_is_the_apis_and_defaults_need_no_request() {
    let old = table(json!({}));
    assert_eq!(
        plan(&old, &table(json!({"SSESpecification": {"SSEEnabled": false}, "TableClass": "STANDARD"}))).unwrap(),
        Vec::<Value>::new()
    );
    let kms = table(json!({"SSESpecification": {"SSEEnabled": "true", "SSEType": "KMS"}}));
    assert_eq!(plan(&old, &kms).unwrap(), [json!({"SSESpecification": {"Enabled": true, "SSEType": "KMS"}})]);
    assert_eq!(plan(&kms, &old).unwrap(), [json!({"SSESpecification": {"Enabled": false}})]);
}

#[test]
fn key_changes_and_local_indexes_replace_the_table() {
    let old = table(json!({}));
    assert!(!needs_replacement(&old, &table(json!({"BillingMode": "PAY_PER_REQUEST"}))));
    let mut retyped = old.clone();
    retyped["AttributeDefinitions"][0]["AttributeType"] = json!("N");
    assert!(needs_replacement(&old, &retyped));
    let mut other_attr = old.clone();
    other_attr["AttributeDefinitions"][1]["AttributeType"] = json!("N");
    assert!(!needs_replacement(&old, &other_attr), "a non-key attribute's type is not the table's key");
    let lsi = table(json!({"LocalSecondaryIndexes": [gsi("l", None)]}));
    assert!(needs_replacement(&old, &lsi));
    assert!(needs_replacement(&old, &table(json!({"TableName": "t"}))));
}

#[test]
fn on_demand_caps_follow_the_template_and_are_lifted_when_removed() {
    let old = table(json!({"BillingMode": "PAY_PER_REQUEST"}));
    let capped = table(json!({"BillingMode": "PAY_PER_REQUEST", "OnDemandThroughput": {"MaxReadRequestUnits": "100"}}));
    assert_eq!(plan(&old, &capped).unwrap(), [json!({"OnDemandThroughput": {"MaxReadRequestUnits": 100}})]);
    assert_eq!(
        plan(&capped, &old).unwrap(),
        [json!({"OnDemandThroughput": {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}})]
    );
}
