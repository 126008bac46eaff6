//! AWS::DynamoDB::Table through DynamoDB's awsJson 1.0 API.
//! Ref: the table name. GetAtt: Arn, StreamArn.

mod update;

use serde_json::{json, Value};

use super::{copy_props, generated_name, optional_bool, optional_str, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

pub use update::update;

const TARGET: &str = "DynamoDB_20120810";

fn call(op: &str, body: Value) -> ApiCall {
    ApiCall::aws_json("1.0", &format!("{TARGET}.{op}"), body)
}

/// Capacity units as numbers: `"5"` from a Number parameter is 5 on the wire.
fn units(v: &Value, members: &[&str]) -> Value {
    let num = |value: &Value| match value {
        Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(s.as_str())),
        other => other.clone(),
    };
    Value::Object(members.iter().filter_map(|&m| Some((m.to_owned(), num(v.get(m)?)))).collect())
}

fn throughput(v: &Value) -> Value {
    let pt = units(v, &["ReadCapacityUnits", "WriteCapacityUnits"]);
    let member = |m: &str| pt.get(m).cloned().unwrap_or(Value::Null);
    json!({"ReadCapacityUnits": member("ReadCapacityUnits"), "WriteCapacityUnits": member("WriteCapacityUnits")})
}

/// The table's on-demand caps (`OnDemandThroughput`), when the template sets them.
fn on_demand_caps(props: &Value) -> Option<Value> {
    props.get("OnDemandThroughput").map(|v| units(v, &["MaxReadRequestUnits", "MaxWriteRequestUnits"]))
}

/// One index definition as the API takes it.
fn index(i: &Value) -> Value {
    let mut i = i.clone();
    if let Some(pt) = i.get("ProvisionedThroughput").cloned() {
        i["ProvisionedThroughput"] = throughput(&pt);
    }
    i
}

fn indexes(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(index).collect()),
        other => other.clone(),
    }
}

/// The billing mode in effect: CloudFormation's default is PROVISIONED.
fn billing_mode(props: &Value) -> &str {
    props.get("BillingMode").and_then(Value::as_str).unwrap_or("PROVISIONED")
}

/// The stream's view type, when the template asks for a stream.
fn stream_view(props: &Value) -> Option<&Value> {
    props.get("StreamSpecification")?.get("StreamViewType")
}

/// CloudFormation's `StreamSpecification: {StreamViewType}` is the API's enabled stream.
fn stream_spec(props: &Value) -> Option<Value> {
    stream_view(props).map(|view| json!({"StreamEnabled": true, "StreamViewType": view}))
}

/// CloudFormation's `SSESpecification: {SSEEnabled, SSEType, KMSMasterKeyId}`
/// as the API's `{Enabled, …}`, when it asks for KMS encryption (absent or
/// `SSEEnabled: false` is DynamoDB's default encryption).
fn sse_spec(props: &Value) -> Option<Value> {
    let spec = props.get("SSESpecification")?;
    if optional_bool(spec, "SSEEnabled") != Some(true) {
        return None;
    }
    let mut api = json!({"Enabled": true});
    copy_props(spec, &["SSEType", "KMSMasterKeyId"], &mut api);
    Some(api)
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
        &["AttributeDefinitions", "KeySchema", "BillingMode", "TableClass", "DeletionProtectionEnabled", "Tags"],
        &mut body,
    );
    if let Some(pt) = props.get("ProvisionedThroughput") {
        body["ProvisionedThroughput"] = throughput(pt);
    }
    if let Some(caps) = on_demand_caps(props) {
        body["OnDemandThroughput"] = caps;
    }
    for key in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if let Some(v) = props.get(key) {
            body[key] = indexes(v);
        }
    }
    if let Some(spec) = stream_spec(props) {
        body["StreamSpecification"] = spec;
    }
    if let Some(sse) = sse_spec(props) {
        body["SSESpecification"] = sse;
    }
    let response = ctx.api.call("dynamodb", call("CreateTable", body)).await?;
    if props.get("TimeToLiveSpecification").is_some() {
        set_time_to_live(ctx, &name, props.get("TimeToLiveSpecification")).await?;
    }
    Ok(outcome(&name, &response["TableDescription"]))
}

/// CloudFormation replaces a table when its name, key schema (or a key
/// attribute's type), local secondary indexes or import source change;
/// every other property is updated in place.
pub fn needs_replacement(old: &Value, new: &Value) -> bool {
    let changed = |k: &str| old.get(k) != new.get(k);
    ["TableName", "KeySchema", "LocalSecondaryIndexes", "ImportSourceSpecification"].into_iter().any(changed)
        || key_types(old) != key_types(new)
}

/// The type of each attribute of the table's primary key.
fn key_types(props: &Value) -> Vec<Option<&Value>> {
    let definitions = props.get("AttributeDefinitions").and_then(Value::as_array);
    let type_of = |name: &Value| {
        definitions?.iter().find(|d| d.get("AttributeName") == Some(name)).and_then(|d| d.get("AttributeType"))
    };
    let keys = props.get("KeySchema").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    keys.iter().map(|k| k.get("AttributeName").and_then(type_of)).collect()
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

#[cfg(test)]
mod tests;
