//! AWS::DynamoDB::Table through DynamoDB's awsJson 1.0 API.
//! Ref: the table name. GetAtt: Arn, StreamArn.

use serde_json::{json, Value};

use super::{copy_props, generated_name, optional_str, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

const TARGET: &str = "DynamoDB_20120810";

fn call(op: &str, body: Value) -> ApiCall {
    ApiCall::aws_json("1.0", &format!("{TARGET}.{op}"), body)
}

/// `"5"` from a Number parameter is the number 5 on the wire.
fn throughput(v: &Value) -> Value {
    let num = |k: &str| match v.get(k) {
        Some(Value::String(s)) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(s.as_str())),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    json!({"ReadCapacityUnits": num("ReadCapacityUnits"), "WriteCapacityUnits": num("WriteCapacityUnits")})
}

fn indexes(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    if let Some(pt) = i.get("ProvisionedThroughput").cloned() {
                        i["ProvisionedThroughput"] = throughput(&pt);
                    }
                    i
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// CloudFormation's `StreamSpecification: {StreamViewType}` is the API's enabled stream.
fn stream_spec(props: &Value) -> Option<Value> {
    let view = props.get("StreamSpecification")?.get("StreamViewType")?;
    Some(json!({"StreamEnabled": true, "StreamViewType": view}))
}

fn outcome(name: &str, description: &Value) -> Provisioned {
    let mut p = Provisioned::named(name);
    if let Some(arn) = description.get("TableArn") {
        p = p.with("Arn", arn.clone());
    }
    if let Some(stream) = description.get("LatestStreamArn") {
        p = p.with("StreamArn", stream.clone());
    }
    p
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = optional_str(props, "TableName").unwrap_or_else(|| generated_name(ctx, 255));
    let mut body = json!({"TableName": name});
    copy_props(
        props,
        &[
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "SSESpecification",
            "TableClass",
            "DeletionProtectionEnabled",
            "Tags",
        ],
        &mut body,
    );
    if let Some(pt) = props.get("ProvisionedThroughput") {
        body["ProvisionedThroughput"] = throughput(pt);
    }
    for key in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(v) = props.get(key) {
            body[key] = indexes(v);
        }
    }
    if let Some(spec) = stream_spec(props) {
        body["StreamSpecification"] = spec;
    }
    let response = ctx.api.call("dynamodb", call("CreateTable", body)).await?;
    if props.get("TimeToLiveSpecification").is_some() {
        set_time_to_live(ctx, &name, props.get("TimeToLiveSpecification")).await?;
    }
    Ok(outcome(&name, &response["TableDescription"]))
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id;
    // DynamoDB takes some changes only alone (table class, deletion
    // protection) or not together (throughput and streams): one UpdateTable
    // per group, as CloudFormation does. AttributeDefinitions travel with
    // the index creations below.
    let groups: [&[&str]; 4] = [
        &["BillingMode", "ProvisionedThroughput"],
        &["StreamSpecification"],
        &["TableClass"],
        &["DeletionProtectionEnabled"],
    ];
    for group in groups {
        let mut body = json!({"TableName": name});
        for &key in group {
            if old.properties.get(key) == props.get(key) {
                continue;
            }
            match key {
                "ProvisionedThroughput" => {
                    if let Some(pt) = props.get(key) {
                        body[key] = throughput(pt);
                    }
                }
                "StreamSpecification" => {
                    body[key] = stream_spec(props).unwrap_or_else(|| json!({"StreamEnabled": false}));
                }
                _ => {
                    if let Some(v) = props.get(key) {
                        body[key] = v.clone();
                    }
                }
            }
        }
        if body.as_object().is_some_and(|b| b.len() > 1) {
            ctx.api.call("dynamodb", call("UpdateTable", body)).await?;
        }
    }
    // Indexes: delete those gone, create those new (by name), as UpdateTable takes one each.
    let names = |v: Option<&Value>| -> Vec<(String, Value)> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|i| Some((i.get("IndexName")?.as_str()?.to_owned(), i.clone()))).collect())
            .unwrap_or_default()
    };
    let before = names(old.properties.get("GlobalSecondaryIndexes"));
    let after = names(props.get("GlobalSecondaryIndexes"));
    let mut gsi_updates = Vec::new();
    for (n, _) in &before {
        if !after.iter().any(|(m, _)| m == n) {
            gsi_updates.push(json!({"Delete": {"IndexName": n}}));
        }
    }
    for (n, def) in &after {
        if !before.iter().any(|(m, _)| m == n) {
            gsi_updates.push(json!({"Create": indexes(&json!([def]))[0]}));
        }
    }
    for u in gsi_updates {
        let attrs = props.get("AttributeDefinitions").cloned().unwrap_or(Value::Null);
        ctx.api
            .call(
                "dynamodb",
                call(
                    "UpdateTable",
                    json!({"TableName": name, "AttributeDefinitions": attrs, "GlobalSecondaryIndexUpdates": [u]}),
                ),
            )
            .await?;
    }
    if old.properties.get("TimeToLiveSpecification") != props.get("TimeToLiveSpecification") {
        set_time_to_live(ctx, name, props.get("TimeToLiveSpecification")).await?;
    }
    let described = ctx.api.call("dynamodb", call("DescribeTable", json!({"TableName": name}))).await?;
    Ok(outcome(name, &described["Table"]))
}

/// Bring the table's TTL to `wanted` (absent: off). DynamoDB changes the
/// attribute only from the disabled state and refuses no-op changes, so
/// this goes from what DescribeTimeToLive reports.
async fn set_time_to_live(ctx: &Ctx<'_>, name: &str, wanted: Option<&Value>) -> Result<()> {
    let described = ctx.api.call("dynamodb", call("DescribeTimeToLive", json!({"TableName": name}))).await?
        ["TimeToLiveDescription"]
        .clone();
    let current = (described["TimeToLiveStatus"] == "ENABLED").then(|| described["AttributeName"].clone());
    // A template parameter gives the flag as the string "true".
    let enabled = |w: &&Value| {
        w["Enabled"] == json!(true) || w["Enabled"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
    };
    let wanted_attr = wanted.filter(enabled).map(|w| w["AttributeName"].clone());
    let ttl = |attr: &Value, enabled: bool| {
        call(
            "UpdateTimeToLive",
            json!({"TableName": name, "TimeToLiveSpecification": {"AttributeName": attr, "Enabled": enabled}}),
        )
    };
    if let Some(attr) = current.as_ref().filter(|attr| wanted_attr.as_ref() != Some(*attr)) {
        ctx.api.call("dynamodb", ttl(attr, false)).await?;
    }
    if let Some(attr) = wanted_attr.as_ref().filter(|attr| current.as_ref() != Some(*attr)) {
        ctx.api.call("dynamodb", ttl(attr, true)).await?;
    }
    Ok(())
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    ctx.api.call("dynamodb", call("DeleteTable", json!({"TableName": old.physical_id}))).await.map(drop)
}
