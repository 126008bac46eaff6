//! Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): retries, maximum
//! event age and destinations of asynchronous invocations.

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::{body_json, empty_response, json_response, parse_function_ref, qualifier};
use crate::engine::Engine;
use crate::model::{function_arn, not_found, qualified_arn, EventInvokeConfig};
use crate::util::Violations;

fn target(engine: &Engine, request: &AwsRequest, name: &str, action: &str) -> Result<(String, String), AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let named = qualifier(request, from_name)?;
    request.authorize(action, &qualified_arn(&engine.ctx, &name, named.as_deref()))?;
    let qualifier = named.unwrap_or_else(|| "$LATEST".into());
    super::resolve(engine, &name, Some(&qualifier), false)?;
    Ok((name, qualifier))
}

pub fn to_json(engine: &Engine, name: &str, qualifier: &str, c: &EventInvokeConfig) -> Value {
    let mut v = json!({
        "LastModified": c.last_modified,
        "FunctionArn": format!("{}:{qualifier}", function_arn(&engine.ctx, name)),
        "DestinationConfig": {},
    });
    if let Some(n) = c.maximum_retry_attempts {
        v["MaximumRetryAttempts"] = n.into();
    }
    if let Some(n) = c.maximum_event_age_seconds {
        v["MaximumEventAgeInSeconds"] = n.into();
    }
    if let Some(d) = &c.on_success {
        v["DestinationConfig"]["OnSuccess"] = json!({ "Destination": d });
    }
    if let Some(d) = &c.on_failure {
        v["DestinationConfig"]["OnFailure"] = json!({ "Destination": d });
    }
    v
}

/// Apply the request's fields to `config` (all of them on Put, present ones on Update).
fn apply(body: &Value, config: &mut EventInvokeConfig, replace: bool) -> Result<(), AwsError> {
    let mut v = Violations::default();
    let retries = body.get("MaximumRetryAttempts").and_then(Value::as_i64);
    if let Some(n) = retries {
        v.range(n, "maximumRetryAttempts", 0, 2);
    }
    let age = body.get("MaximumEventAgeInSeconds").and_then(Value::as_i64);
    if let Some(n) = age {
        v.range(n, "maximumEventAgeInSeconds", 60, 21600);
    }
    v.into_result()?;
    let destination = |kind: &str| {
        body.get("DestinationConfig")
            .and_then(|d| d.get(kind))
            .and_then(|d| d.get("Destination"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for d in [destination("OnSuccess"), destination("OnFailure")].into_iter().flatten() {
        let ok = nimbus_core::arn::Arn::parse(&d)
            .is_some_and(|a| matches!(a.service, "lambda" | "sqs" | "sns" | "events" | "s3"));
        if !ok {
            return Err(AwsError::new(
                400,
                "InvalidParameterValueException",
                format!("The destination ARN {d} is invalid."),
            ));
        }
    }
    if replace {
        *config = EventInvokeConfig::default();
    }
    if let Some(n) = retries {
        config.maximum_retry_attempts = Some(n as u32);
    }
    if let Some(n) = age {
        config.maximum_event_age_seconds = Some(n as u32);
    }
    if let Some(d) = destination("OnSuccess") {
        config.on_success = Some(d);
    }
    if let Some(d) = destination("OnFailure") {
        config.on_failure = Some(d);
    }
    config.last_modified = nimbus_core::time::now_epoch_millis() as f64 / 1000.0;
    Ok(())
}

pub async fn put(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
    replace: bool,
) -> Result<AwsResponse, AwsError> {
    let action = if replace { "lambda:PutFunctionEventInvokeConfig" } else { "lambda:UpdateFunctionEventInvokeConfig" };
    let (name, qualifier) = target(engine, request, name, action)?;
    let body = body_json(request)?;
    apply(&body, &mut EventInvokeConfig::default(), true)?;
    let q = qualifier.clone();
    let record = engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            let config = r.event_invoke.entry(q).or_default();
            apply(&body, config, replace)
        })
        .await?;
    let config = record.event_invoke.get(&qualifier).cloned().unwrap_or_default();
    Ok(json_response(200, &to_json(engine, &name, &qualifier, &config)))
}

fn missing(engine: &Engine, name: &str, qualifier: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("The function {}:{qualifier} doesn't have an EventInvokeConfig", function_arn(&engine.ctx, name)),
    )
}

pub fn get(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, qualifier) = target(engine, request, name, "lambda:GetFunctionEventInvokeConfig")?;
    let record = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    let config = record.event_invoke.get(&qualifier).ok_or_else(|| missing(engine, &name, &qualifier))?;
    Ok(json_response(200, &to_json(engine, &name, &qualifier, config)))
}

pub fn list(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, _) = parse_function_ref(name)?;
    request.authorize("lambda:ListFunctionEventInvokeConfigs", &function_arn(&engine.ctx, &name))?;
    let record = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    let configs: Vec<Value> = record.event_invoke.iter().map(|(q, c)| to_json(engine, &name, q, c)).collect();
    Ok(json_response(200, &json!({ "FunctionEventInvokeConfigs": configs })))
}

pub async fn delete(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, qualifier) = target(engine, request, name, "lambda:DeleteFunctionEventInvokeConfig")?;
    let (n, q) = (name.clone(), qualifier.clone());
    let err = missing(engine, &name, &qualifier);
    engine.functions.update(&engine.ctx, &n, move |r| r.event_invoke.remove(&q).map(|_| ()).ok_or(err)).await?;
    Ok(empty_response(204))
}
