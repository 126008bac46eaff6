//! AWS::Logs::LogGroup through CloudWatch Logs' awsJson 1.1 API.
//! Ref: the log group name. GetAtt: Arn.

use serde_json::{json, Value};

use super::{generated_name, optional_i64, optional_str, tags_map, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

fn call(op: &str, body: Value) -> ApiCall {
    ApiCall::aws_json("1.1", &format!("Logs_20140328.{op}"), body)
}

fn outcome(ctx: &Ctx<'_>, name: &str) -> Provisioned {
    Provisioned::named(name).with("Arn", format!("arn:aws:logs:{}:{}:log-group:{name}:*", ctx.region, ctx.account_id))
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = optional_str(props, "LogGroupName").unwrap_or_else(|| generated_name(ctx, 512));
    let mut body = json!({"logGroupName": name});
    if let Some(tags) = tags_map(props) {
        body["tags"] = tags;
    }
    if let Some(kms) = optional_str(props, "KmsKeyId") {
        body["kmsKeyId"] = json!(kms);
    }
    ctx.api.call("logs", call("CreateLogGroup", body)).await?;
    if let Some(days) = optional_i64(props, "RetentionInDays")? {
        ctx.api
            .call("logs", call("PutRetentionPolicy", json!({"logGroupName": name, "retentionInDays": days})))
            .await?;
    }
    Ok(outcome(ctx, &name))
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id;
    if old.properties.get("RetentionInDays") != props.get("RetentionInDays") {
        match optional_i64(props, "RetentionInDays")? {
            Some(days) => {
                ctx.api
                    .call("logs", call("PutRetentionPolicy", json!({"logGroupName": name, "retentionInDays": days})))
                    .await?
            }
            None => ctx.api.call("logs", call("DeleteRetentionPolicy", json!({"logGroupName": name}))).await?,
        };
    }
    Ok(outcome(ctx, name))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    ctx.api.call("logs", call("DeleteLogGroup", json!({"logGroupName": old.physical_id}))).await.map(drop)
}
