//! AWS::Lambda::Version: PublishVersion. Ref: the version's ARN. GetAtt:
//! Version (the number). Versions are immutable: a change is a new one.

use http::Method;
use serde_json::{json, Value};

use super::{optional_str, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let function = required_str(props, "FunctionName")?;
    let mut body = json!({});
    for key in ["Description", "CodeSha256"] {
        if let Some(v) = optional_str(props, key) {
            body[key] = json!(v);
        }
    }
    let path = format!("/2015-03-31/functions/{}/versions", seg(&function));
    let response = ctx.api.call("lambda", ApiCall::rest(Method::POST, path, Some(body))).await?;
    let version = response.get("Version").and_then(Value::as_str).unwrap_or("1").to_owned();
    let arn =
        response.get("FunctionArn").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
            format!("arn:aws:lambda:{}:{}:function:{function}:{version}", ctx.region, ctx.account_id)
        });
    let mut p = Provisioned::named(arn.clone()).with("Version", version);
    p.attributes.insert("FunctionArn".into(), json!(arn));
    Ok(p)
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let function = old.properties.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
    let Some(version) = old.attributes.get("Version").and_then(Value::as_str) else { return Ok(()) };
    let path = format!("/2015-03-31/functions/{}?Qualifier={}", seg(function), seg(version));
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, path, None)).await.map(drop)
}
