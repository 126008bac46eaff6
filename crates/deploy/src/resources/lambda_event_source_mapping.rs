//! AWS::Lambda::EventSourceMapping (what SAM's DynamoDB events become):
//! CreateEventSourceMapping, UpdateEventSourceMapping and
//! DeleteEventSourceMapping. Ref: the mapping's UUID. GetAtt: Id,
//! EventSourceMappingArn.

use http::Method;
use serde_json::{json, Value};

use super::{optional_bool, optional_i64, optional_str, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

const PATH: &str = "/2015-03-31/event-source-mappings";

/// Properties that change in place (the others replace the mapping).
const UPDATABLE_NUMBERS: [&str; 6] = [
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
];

/// The body of a Create (`creating`) or Update call.
fn body(props: &Value, creating: bool) -> Result<Value> {
    let mut body = json!({"FunctionName": required_str(props, "FunctionName")?});
    if creating {
        body["EventSourceArn"] = json!(required_str(props, "EventSourceArn")?);
        if let Some(start) = optional_str(props, "StartingPosition") {
            body["StartingPosition"] = json!(start);
        }
    }
    for key in UPDATABLE_NUMBERS {
        if let Some(n) = optional_i64(props, key)? {
            body[key] = json!(n);
        }
    }
    for key in ["Enabled", "BisectBatchOnFunctionError"] {
        if let Some(b) = optional_bool(props, key) {
            body[key] = json!(b);
        }
    }
    for key in ["FilterCriteria", "DestinationConfig", "FunctionResponseTypes"] {
        if let Some(v) = props.get(key) {
            body[key] = v.clone();
        }
    }
    Ok(body)
}

fn outcome(response: &Value) -> Provisioned {
    let uuid = response.get("UUID").and_then(Value::as_str).unwrap_or_default();
    let mut p = Provisioned::named(uuid).with("Id", uuid);
    if let Some(arn) = response.get("EventSourceMappingArn") {
        p = p.with("EventSourceMappingArn", arn.clone());
    }
    p
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let response = ctx.api.call("lambda", ApiCall::rest(Method::POST, PATH, Some(body(props, true)?))).await?;
    Ok(outcome(&response))
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let path = format!("{PATH}/{}", seg(old.physical_id));
    let response = ctx.api.call("lambda", ApiCall::rest(Method::PUT, path, Some(body(props, false)?))).await?;
    Ok(outcome(&response))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let path = format!("{PATH}/{}", seg(old.physical_id));
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, path, None)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_update_bodies() {
        let props = json!({
            "FunctionName": "f", "EventSourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/x",
            "StartingPosition": "LATEST", "BatchSize": "5", "Enabled": "false",
            "FilterCriteria": {"Filters": [{"Pattern": "{}"}]},
        });
        let created = body(&props, true).unwrap();
        assert_eq!(created["BatchSize"], json!(5));
        assert_eq!(created["Enabled"], json!(false));
        assert_eq!(created["StartingPosition"], json!("LATEST"));
        let updated = body(&props, false).unwrap();
        assert!(updated.get("EventSourceArn").is_none() && updated.get("StartingPosition").is_none());
        assert_eq!(updated["FilterCriteria"], props["FilterCriteria"]);
    }
}
