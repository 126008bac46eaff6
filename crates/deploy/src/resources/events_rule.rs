//! AWS::Events::Rule (what SAM's Schedule events become) through
//! EventBridge's awsJson 1.1 API: PutRule and PutTargets. Nimbus's
//! scheduler answers these calls. Ref: the rule name. GetAtt: Arn.

use serde_json::{json, Value};

use super::{generated_name, optional_str, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

fn call(op: &str, body: Value) -> ApiCall {
    ApiCall::aws_json("1.1", &format!("AWSEvents.{op}"), body)
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = optional_str(props, "Name").unwrap_or_else(|| generated_name(ctx, 64));
    put(ctx, name, props).await
}

/// PutRule is an upsert: the same call under the rule's name, then the
/// targets no longer listed are removed.
pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let provisioned = put(ctx, old.physical_id.to_owned(), props).await?;
    let ids = |p: &Value| -> Vec<Value> {
        p.get("Targets").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("Id").cloned()).collect()
    };
    let kept = ids(props);
    let gone: Vec<Value> = ids(old.properties).into_iter().filter(|i| !kept.contains(i)).collect();
    if !gone.is_empty() {
        ctx.api.call("events", call("RemoveTargets", json!({"Rule": old.physical_id, "Ids": gone}))).await?;
    }
    Ok(provisioned)
}

async fn put(ctx: &Ctx<'_>, name: String, props: &Value) -> Result<Provisioned> {
    let mut body = json!({"Name": name});
    for key in ["ScheduleExpression", "EventPattern", "State", "Description", "RoleArn", "EventBusName"] {
        if let Some(v) = props.get(key) {
            body[key] = if key == "EventPattern" && !v.is_string() { Value::String(v.to_string()) } else { v.clone() };
        }
    }
    let response = ctx.api.call("events", call("PutRule", body)).await?;
    if let Some(targets) = props.get("Targets") {
        ctx.api.call("events", call("PutTargets", json!({"Rule": name, "Targets": targets}))).await?;
    }
    let arn = response
        .get("RuleArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:aws:events:{}:{}:rule/{name}", ctx.region, ctx.account_id));
    Ok(Provisioned::named(name).with("Arn", arn))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let ids: Vec<Value> = old
        .properties
        .get("Targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("Id").cloned())
        .collect();
    if !ids.is_empty() {
        ctx.api.call("events", call("RemoveTargets", json!({"Rule": old.physical_id, "Ids": ids}))).await?;
    }
    ctx.api.call("events", call("DeleteRule", json!({"Name": old.physical_id}))).await.map(drop)
}
