//! Stack updates of a DynamoDB table against the real DynamoDB service:
//! what CloudFormation changes in place, what it replaces, and what it
//! refuses, now that UpdateTable validates as AWS does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use nimbus_core::{Context, Service};
use nimbus_deploy::api::{ApiCall, AwsApi, InProcessApi};
use nimbus_deploy::engine::{DeployOptions, Engine, MemoryStates};
use nimbus_store::Store;
use serde_json::{json, Value};

/// A stack of one table with these properties (YAML, indented for the
/// Properties block) besides its key. With a stream, a second table carries
/// the stream's ARN in a tag: a dependent of `!GetAtt Table.StreamArn`.
fn template(properties: &str) -> String {
    let mut t = format!(
        "Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]
{properties}"
    );
    if properties.contains("StreamSpecification") {
        t.push_str(
            "  Consumer:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      Tags: [{Key: stream, Value: !GetAtt Table.StreamArn}]
Outputs:
  StreamArn:
    Value: !GetAtt Table.StreamArn
",
        );
    }
    t
}

/// The AttributeDefinitions property: DynamoDB wants exactly the key attributes.
fn attrs(names: &[(&str, &str)]) -> String {
    let defs: Vec<String> =
        names.iter().map(|(name, ty)| format!("{{AttributeName: {name}, AttributeType: {ty}}}")).collect();
    format!("      AttributeDefinitions: [{}]\n", defs.join(", "))
}

fn gsi(name: &str, key: &str, throughput: &str) -> String {
    format!("        - IndexName: {name}\n          KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]\n          Projection: {{ProjectionType: ALL}}\n{throughput}")
}

struct Harness {
    api: Arc<InProcessApi>,
    engine: Engine,
    options: DeployOptions,
}

impl Harness {
    async fn deploy(&self, properties: &str) -> Result<nimbus_deploy::engine::DeployOutcome, String> {
        self.deploy_text(&template(properties)).await
    }

    async fn deploy_text(&self, text: &str) -> Result<nimbus_deploy::engine::DeployOutcome, String> {
        self.engine.deploy(text, &self.options).await.map_err(|e| e.to_string())
    }

    async fn ddb(&self, op: &str, body: Value) -> Value {
        self.api
            .call("dynamodb", ApiCall::aws_json("1.0", &format!("DynamoDB_20120810.{op}"), body))
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    async fn describe(&self, name: &str) -> Value {
        self.ddb("DescribeTable", json!({"TableName": name})).await["Table"].take()
    }
}

/// The engine against a real DynamoDB on a fresh store.
fn harness(stack: &str) -> (Harness, Arc<nimbus_store_redb::RedbStore>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("nimbus-deploy-{stack}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = nimbus_store_redb::RedbStore::open(&dir.join("store.redb")).unwrap();
    let context = Context { region: "us-east-1".into(), account_id: "000000000000".into() };
    let services: Vec<Arc<dyn Service>> = vec![Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context))];
    let api = Arc::new(InProcessApi::new(services, "us-east-1", "000000000000"));
    let engine = Engine::new(api.clone(), Arc::new(MemoryStates::default()), "us-east-1", "000000000000");
    let options = DeployOptions {
        stack_name: stack.into(),
        base_dir: Path::new(".").to_path_buf(),
        parameter_overrides: BTreeMap::new(),
        progress: None,
    };
    (Harness { api, engine, options }, store, dir)
}

#[tokio::test]
async fn table_updates_follow_cloudformation() {
    let (h, store, dir) = harness("tbl");
    let on_demand = "      BillingMode: PAY_PER_REQUEST\n";
    let by_owner = gsi("byOwner", "owner", "");
    let pk_owner = attrs(&[("pk", "S"), ("owner", "S")]);
    let stream = |view: &str| format!("      StreamSpecification: {{StreamViewType: {view}}}\n");

    // v1: on demand, one index, a stream whose ARN a dependent uses.
    let v1 = format!("{pk_owner}{on_demand}      GlobalSecondaryIndexes:\n{by_owner}{}", stream("NEW_IMAGE"));
    let out = h.deploy(&v1).await.unwrap_or_else(|e| panic!("{e}"));
    let name = out.stack.resources["Table"].physical_id.clone();
    let first_stream = out.stack.outputs["StreamArn"].value.as_str().unwrap().to_owned();

    // A new view type: the stream is switched off and on again, with a new
    // ARN that dependents see; the table is the same.
    let v2 = format!("{pk_owner}{on_demand}      GlobalSecondaryIndexes:\n{by_owner}{}", stream("NEW_AND_OLD_IMAGES"));
    let out = h.deploy(&v2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stack.resources["Table"].physical_id, name);
    let second_stream = out.stack.outputs["StreamArn"].value.as_str().unwrap().to_owned();
    assert_ne!(second_stream, first_stream);
    let table = h.describe(&name).await;
    assert_eq!(table["LatestStreamArn"], json!(second_stream));
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    let consumer = out.stack.resources["Consumer"].physical_id.clone();
    let consumer_arn = h.describe(&consumer).await["TableArn"].clone();
    let tags = h.ddb("ListTagsOfResource", json!({"ResourceArn": consumer_arn})).await;
    assert_eq!(tags["Tags"], json!([{"Key": "stream", "Value": second_stream}]), "the dependent sees the new ARN");

    // To PROVISIONED: the index's throughput goes in the same request.
    let provisioned =
        "      BillingMode: PROVISIONED\n      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}\n";
    let index_pt = "          ProvisionedThroughput: {ReadCapacityUnits: 3, WriteCapacityUnits: 2}\n";
    let v3 = format!(
        "{pk_owner}{provisioned}      GlobalSecondaryIndexes:\n{}{}",
        gsi("byOwner", "owner", index_pt),
        stream("NEW_AND_OLD_IMAGES")
    );
    // A later resource failing rolls the table back to on demand.
    let broken = template(&v3).replace("Key: stream", "Key: 'aws:stream'");
    let err = h.deploy_text(&broken).await.unwrap_err();
    assert!(err.contains("Tag Key cannot be prefixed with aws:"), "{err}");
    assert_eq!(h.describe(&name).await["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    h.deploy(&v3).await.unwrap_or_else(|e| panic!("{e}"));
    let table = h.describe(&name).await;
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PROVISIONED");
    assert_eq!(table["ProvisionedThroughput"]["ReadCapacityUnits"], 5);
    assert_eq!(table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"], 3);
    assert_eq!(table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["WriteCapacityUnits"], 2);

    // Back to on demand; the index swapped for two others, one request each;
    // encryption, table class, deletion protection and tags changed.
    let v4 = format!(
        "{}{on_demand}      GlobalSecondaryIndexes:\n{}{}{}      SSESpecification: {{SSEEnabled: true, SSEType: KMS}}\n      TableClass: STANDARD_INFREQUENT_ACCESS\n      DeletionProtectionEnabled: true\n      Tags: [{{Key: team, Value: data}}]\n",
        attrs(&[("pk", "S"), ("kind", "S"), ("owner", "S")]),
        gsi("byKind", "kind", ""),
        gsi("byOwner2", "owner", ""),
        stream("NEW_AND_OLD_IMAGES")
    );
    h.deploy(&v4).await.unwrap_or_else(|e| panic!("{e}"));
    let table = h.describe(&name).await;
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    let mut indexes: Vec<&str> =
        table["GlobalSecondaryIndexes"].as_array().unwrap().iter().map(|g| g["IndexName"].as_str().unwrap()).collect();
    indexes.sort();
    assert_eq!(indexes, ["byKind", "byOwner2"]);
    assert_eq!(table["SSEDescription"]["SSEType"], "KMS");
    assert_eq!(table["TableClassSummary"]["TableClass"], "STANDARD_INFREQUENT_ACCESS");
    assert_eq!(table["DeletionProtectionEnabled"], true);
    let arn = table["TableArn"].as_str().unwrap().to_owned();
    let tags = h.ddb("ListTagsOfResource", json!({"ResourceArn": arn})).await;
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "data"}]));

    // An index redefined under its name is refused as CloudFormation does;
    // the stack rolls back and the table keeps its indexes.
    let v5 = v4.replace("AttributeName: kind, KeyType: HASH", "AttributeName: owner, KeyType: HASH");
    let err = h.deploy(&v5).await.unwrap_err();
    assert!(err.contains("Cannot update GSI's properties other than Provisioned Throughput"), "{err}");
    assert_eq!(h.describe(&name).await["GlobalSecondaryIndexes"].as_array().unwrap().len(), 2);

    // Settings back to their defaults, stream off, tags gone: in place.
    let v6 = format!("{}{on_demand}", attrs(&[("pk", "S")]));
    let out = h.deploy(&v6).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stack.resources["Table"].physical_id, name);
    let table = h.describe(&name).await;
    assert_eq!(table["DeletionProtectionEnabled"], false);
    assert_eq!(table["TableClassSummary"]["TableClass"], "STANDARD");
    assert!(table.get("SSEDescription").is_none(), "{table}");
    assert!(table.get("GlobalSecondaryIndexes").is_none(), "{table}");
    assert!(table.get("StreamSpecification").is_none_or(|s| s["StreamEnabled"] == false), "{table}");
    assert_eq!(h.ddb("ListTagsOfResource", json!({"ResourceArn": arn})).await["Tags"], json!([]));

    // On-demand caps set, then lifted when taken out of the template.
    let capped = format!("{v6}      OnDemandThroughput: {{MaxReadRequestUnits: 50}}\n");
    h.deploy(&capped).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.describe(&name).await["OnDemandThroughput"]["MaxReadRequestUnits"], 50);
    h.deploy(&v6).await.unwrap_or_else(|e| panic!("{e}"));
    let caps = h.describe(&name).await["OnDemandThroughput"].take();
    assert_ne!(caps["MaxReadRequestUnits"], 50, "{caps}");

    // A sort key, then a local secondary index, then a new type for the
    // key: each replaces the table, the old one deleted once the new exists.
    let composite = |properties: &str| {
        template(properties).replace(
            "KeySchema: [{AttributeName: pk, KeyType: HASH}]",
            "KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]",
        )
    };
    let mut previous = name.clone();
    let lsi = "      LocalSecondaryIndexes:\n        - IndexName: byKind\n          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: kind, KeyType: RANGE}]\n          Projection: {ProjectionType: KEYS_ONLY}\n";
    for (what, text) in [
        ("a sort key", composite(&format!("{}{on_demand}", attrs(&[("pk", "S"), ("sk", "S")])))),
        ("a local index", composite(&format!("{}{on_demand}{lsi}", attrs(&[("pk", "S"), ("sk", "S"), ("kind", "S")])))),
        ("a key type", composite(&format!("{}{on_demand}{lsi}", attrs(&[("pk", "N"), ("sk", "S"), ("kind", "S")])))),
    ] {
        let out = h.deploy_text(&text).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let replacement = out.stack.resources["Table"].physical_id.clone();
        assert_ne!(replacement, previous, "{what} replaces the table");
        let names = h.ddb("ListTables", json!({})).await["TableNames"].clone();
        assert_eq!(names, json!([replacement]), "{what}: the old table is gone");
        previous = replacement;
    }
    let definitions = h.describe(&previous).await["AttributeDefinitions"].take();
    assert!(
        definitions.as_array().unwrap().contains(&json!({"AttributeName": "pk", "AttributeType": "N"})),
        "{definitions}"
    );

    h.engine.delete("tbl", None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.ddb("ListTables", json!({})).await["TableNames"], json!([]));
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A replacement that would keep a custom table name is refused before
/// anything changes: the table and its items stay.
#[tokio::test]
async fn a_custom_named_table_is_not_replaced() {
    let (h, store, dir) = harness("named");
    let named = "      TableName: orders\n      BillingMode: PAY_PER_REQUEST\n";
    h.deploy(&format!("{}{named}", attrs(&[("pk", "S")]))).await.unwrap_or_else(|e| panic!("{e}"));
    h.ddb("PutItem", json!({"TableName": "orders", "Item": {"pk": {"S": "kept"}}})).await;
    let err = h.deploy(&format!("{}{named}", attrs(&[("pk", "N")]))).await.unwrap_err();
    assert!(
        err.contains("CloudFormation cannot update a stack when a custom-named resource requires replacing. Rename orders and update the stack again."),
        "{err}"
    );
    let item = h.ddb("GetItem", json!({"TableName": "orders", "Key": {"pk": {"S": "kept"}}})).await;
    assert_eq!(item["Item"]["pk"], json!({"S": "kept"}));
    // A new name is a replacement CloudFormation makes.
    let renamed = named.replace("orders", "orders2");
    let out = h.deploy(&format!("{}{renamed}", attrs(&[("pk", "N")]))).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stack.resources["Table"].physical_id, "orders2");
    assert_eq!(h.ddb("ListTables", json!({})).await["TableNames"], json!(["orders2"]));
    h.engine.delete("named", None).await.unwrap_or_else(|e| panic!("{e}"));
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// SAM's SimpleTable is a table too: given throughput, it switches from on
/// demand to PROVISIONED in place; a new primary key replaces it.
#[tokio::test]
async fn simple_table_updates() {
    let (h, store, dir) = harness("simple");
    let sam = |properties: &str| {
        format!("Transform: AWS::Serverless-2016-10-31\nResources:\n  Notes:\n    Type: AWS::Serverless::SimpleTable\n    Properties:\n{properties}")
    };
    let out =
        h.deploy_text(&sam("      PrimaryKey: {Name: id, Type: String}\n")).await.unwrap_or_else(|e| panic!("{e}"));
    let name = out.stack.resources["Notes"].physical_id.clone();
    assert_eq!(h.describe(&name).await["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
    let throughput = "      ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 3}\n";
    let out = h
        .deploy_text(&sam(&format!("      PrimaryKey: {{Name: id, Type: String}}\n{throughput}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stack.resources["Notes"].physical_id, name);
    let table = h.describe(&name).await;
    assert_eq!(table["BillingModeSummary"]["BillingMode"], "PROVISIONED");
    assert_eq!(table["ProvisionedThroughput"]["WriteCapacityUnits"], 3);
    let out = h
        .deploy_text(&sam(&format!("      PrimaryKey: {{Name: id, Type: Number}}\n{throughput}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(out.stack.resources["Notes"].physical_id, name);
    h.engine.delete("simple", None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(h.ddb("ListTables", json!({})).await["TableNames"], json!([]));
    store.close().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
