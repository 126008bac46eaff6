//! AWS::Lambda::Alias, with its provisioned concurrency. Ref: the alias ARN.

use http::Method;
use serde_json::{json, Value};

use super::{optional_i64, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

fn body(props: &Value) -> Result<Value> {
    let mut body =
        json!({"Name": required_str(props, "Name")?, "FunctionVersion": required_str(props, "FunctionVersion")?});
    for key in ["Description", "RoutingConfig"] {
        if let Some(v) = props.get(key) {
            body[key] = v.clone();
        }
    }
    Ok(body)
}

fn provisioned_path(function: &str, alias: &str) -> String {
    format!("/2019-09-30/functions/{}/provisioned-concurrency?Qualifier={}", seg(function), seg(alias))
}

async fn provisioned_concurrency(ctx: &Ctx<'_>, function: &str, alias: &str, props: &Value) -> Result<()> {
    let config = props.get("ProvisionedConcurrencyConfig").cloned().unwrap_or(Value::Null);
    match optional_i64(&config, "ProvisionedConcurrentExecutions")? {
        Some(n) => {
            let body = json!({"ProvisionedConcurrentExecutions": n});
            ctx.api
                .call("lambda", ApiCall::rest(Method::PUT, provisioned_path(function, alias), Some(body)))
                .await
                .map(drop)
        }
        None => Ok(()),
    }
}

fn outcome(ctx: &Ctx<'_>, function: &str, alias: &str, response: &Value) -> Provisioned {
    let arn = response
        .get("AliasArn")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:aws:lambda:{}:{}:function:{function}:{alias}", ctx.region, ctx.account_id));
    Provisioned::named(arn.clone()).with("AliasArn", arn)
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let function = required_str(props, "FunctionName")?;
    let alias = required_str(props, "Name")?;
    let path = format!("/2015-03-31/functions/{}/aliases", seg(&function));
    let response = ctx.api.call("lambda", ApiCall::rest(Method::POST, path, Some(body(props)?))).await?;
    provisioned_concurrency(ctx, &function, &alias, props).await?;
    Ok(outcome(ctx, &function, &alias, &response))
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let function = required_str(props, "FunctionName")?;
    let alias = required_str(props, "Name")?;
    let path = format!("/2015-03-31/functions/{}/aliases/{}", seg(&function), seg(&alias));
    let response = ctx.api.call("lambda", ApiCall::rest(Method::PUT, path, Some(body(props)?))).await?;
    if old.properties.get("ProvisionedConcurrencyConfig") != props.get("ProvisionedConcurrencyConfig") {
        if props.get("ProvisionedConcurrencyConfig").is_none() {
            ctx.api.call("lambda", ApiCall::rest(Method::DELETE, provisioned_path(&function, &alias), None)).await?;
        } else {
            provisioned_concurrency(ctx, &function, &alias, props).await?;
        }
    }
    Ok(outcome(ctx, &function, &alias, &response))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let function = old.properties.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
    let alias = old.properties.get("Name").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/2015-03-31/functions/{}/aliases/{}", seg(function), seg(alias));
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, path, None)).await.map(drop)
}
