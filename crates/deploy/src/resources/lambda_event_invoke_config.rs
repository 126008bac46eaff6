//! AWS::Lambda::EventInvokeConfig: PutFunctionEventInvokeConfig (an upsert).
//! Ref: `function|qualifier`-style id.

use http::Method;
use serde_json::{json, Value};

use super::{optional_i64, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

fn path(function: &str, qualifier: &str) -> String {
    format!("/2019-09-25/functions/{}/event-invoke-config?Qualifier={}", seg(function), seg(qualifier))
}

pub async fn put(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let function = required_str(props, "FunctionName")?;
    let qualifier = required_str(props, "Qualifier")?;
    let mut body = json!({});
    for key in ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"] {
        if let Some(n) = optional_i64(props, key)? {
            body[key] = json!(n);
        }
    }
    if let Some(d) = props.get("DestinationConfig") {
        body["DestinationConfig"] = d.clone();
    }
    ctx.api.call("lambda", ApiCall::rest(Method::PUT, path(&function, &qualifier), Some(body))).await?;
    Ok(Provisioned::named(format!("{function}|{qualifier}")))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let function = old.properties.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
    let qualifier = old.properties.get("Qualifier").and_then(Value::as_str).unwrap_or("$LATEST");
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, path(function, qualifier), None)).await.map(drop)
}
