//! Invoke: RequestResponse, Event and DryRun.

use std::sync::Arc;

use bytes::Bytes;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};

use super::{empty_response, parse_function_ref, qualifier};
use crate::engine::{Engine, InvokeInput};
use crate::util::base64_decode;

/// Largest synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Largest asynchronous (Event) request payload.
pub const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;

pub async fn invoke(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (fn_name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?;
    let invocation_type = request.header("x-amz-invocation-type").unwrap_or("RequestResponse");
    if !matches!(invocation_type, "RequestResponse" | "Event" | "DryRun") {
        let mut v = crate::util::Violations::default();
        v.add(invocation_type, "invocationType", "must satisfy enum value set: [Event, RequestResponse, DryRun]");
        v.into_result()?;
    }
    let log_type = request.header("x-amz-log-type").unwrap_or("None");
    if !matches!(log_type, "None" | "Tail") {
        let mut v = crate::util::Violations::default();
        v.add(log_type, "logType", "must satisfy enum value set: [None, Tail]");
        v.into_result()?;
    }
    let arn = crate::model::function_arn(&engine.ctx, &fn_name);
    // IAM names a version or alias by its qualified ARN.
    request.authorize(
        "lambda:InvokeFunction",
        &crate::model::qualified_arn(&engine.ctx, &fn_name, qualifier.as_deref()),
    )?;
    let function = super::resolve(engine, &fn_name, qualifier.as_deref(), true)?;
    let version = function.version();
    let version = version.as_str();

    let limit = if invocation_type == "Event" { MAX_ASYNC_PAYLOAD } else { MAX_SYNC_PAYLOAD };
    if request.body.len() > limit {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    let payload = if request.body.is_empty() { Bytes::from_static(b"{}") } else { request.body.clone() };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(AwsError::new(
            400,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: Could not parse payload into json: {e}"),
        ));
    }
    let client_context = match request.header("x-amz-client-context") {
        None | Some("") => None,
        Some(encoded) => {
            let decoded = base64_decode(encoded)
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| v.is_object()));
            match decoded {
                Some(text) if encoded.len() <= 3583 => Some(text),
                _ => {
                    return Err(AwsError::new(
                        400,
                        "InvalidRequestContentException",
                        "Client context must be a valid Base64-encoded JSON object.",
                    ))
                }
            }
        }
    };

    match invocation_type {
        "DryRun" => Ok(empty_response(204)),
        "Event" => {
            engine
                .enqueue_async(&function.name, version, qualifier.clone(), payload, request.request_id.clone())
                .await?;
            let mut response = empty_response(202);
            set(&mut response, "x-amzn-requestid", &request.request_id);
            Ok(response)
        }
        _ => {
            let input = InvokeInput {
                request_id: request.request_id.clone(),
                payload,
                client_context,
                tail: log_type == "Tail",
                invoked_arn: match &qualifier {
                    Some(q) => format!("{arn}:{q}"),
                    None => arn.clone(),
                },
            };
            let result = engine.invoke(&function, version, input).await?;
            let mut response = http::Response::new(result.payload);
            set(&mut response, "content-type", "application/json");
            set(&mut response, "x-amz-executed-version", &result.executed_version);
            if let Some(error) = &result.function_error {
                set(&mut response, "x-amz-function-error", error);
            }
            if let Some(tail) = &result.log_tail {
                set(&mut response, "x-amz-log-result", tail);
            }
            Ok(response)
        }
    }
}

fn set(response: &mut AwsResponse, name: &'static str, value: &str) {
    if let Ok(v) = http::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}
