//! Create/Get/List/Update/DeleteEventSourceMapping(s) for DynamoDB streams.
//!
//! IAM: `lambda:CreateEventSourceMapping` and `lambda:ListEventSourceMappings`
//! on `*`; Get/Update/Delete on the mapping's ARN. At creation the function's
//! role must be allowed to read the stream, as Lambda checks.

use std::sync::Arc;

use nimbus_core::{AuthzRequest, AwsError, AwsRequest, AwsResponse, StartingPosition};
use serde_json::{json, Value};

use super::{body_json, json_response, parse_function_ref, query_param};
use crate::engine::Engine;
use crate::esm::filter::Pattern;
use crate::esm::model::{not_found, MappingRecord, USER_ACTION};
use crate::esm::Mappings;
use crate::model::function_arn;
use crate::util::Violations;

const DEFAULT_LIST_ITEMS: usize = 100;
/// What the role needs on the stream.
const STREAM_ACTIONS: [&str; 4] =
    ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"];

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message.into())
}

fn mapping_arn(engine: &Engine, uuid: &str) -> String {
    format!("arn:aws:lambda:{}:{}:event-source-mapping:{uuid}", engine.ctx.region, engine.ctx.account_id)
}

/// Is `arn` a DynamoDB stream ARN (`…:table/T/stream/label`)?
fn is_dynamodb_stream(arn: &str) -> bool {
    nimbus_core::arn::Arn::parse(arn)
        .is_some_and(|a| a.service == "dynamodb" && a.resource.starts_with("table/") && a.resource.contains("/stream/"))
}

/// The settings a Create or Update body carries, checked against the model's
/// limits (all violations in one ValidationException, as AWS words them).
fn apply_settings(body: &Value, m: &mut MappingRecord) -> Result<(), AwsError> {
    let int = |name: &str| body.get(name).and_then(Value::as_i64);
    let mut v = Violations::default();
    let checks = [
        ("BatchSize", "batchSize", 1, 10000),
        ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300),
        ("ParallelizationFactor", "parallelizationFactor", 1, 10),
        ("MaximumRetryAttempts", "maximumRetryAttempts", -1, 10000),
        ("MaximumRecordAgeInSeconds", "maximumRecordAgeInSeconds", -1, 604800),
        ("TumblingWindowInSeconds", "tumblingWindowInSeconds", 0, 900),
    ];
    for (name, member, min, max) in checks {
        if let Some(n) = int(name) {
            v.range(n, member, min, max);
        }
    }
    let response_types = body.get("FunctionResponseTypes").and_then(Value::as_array);
    for t in response_types.into_iter().flatten() {
        if t.as_str() != Some("ReportBatchItemFailures") {
            v.add(t, "functionResponseTypes", "must satisfy enum value set: [ReportBatchItemFailures]");
        }
    }
    v.into_result()?;
    if let Some(age) = int("MaximumRecordAgeInSeconds").filter(|a| (0..60).contains(a)) {
        // Lambda's own lower bound for a finite age.
        return Err(invalid(format!("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800, got {age}")));
    }
    let filters = match body.get("FilterCriteria").and_then(|f| f.get("Filters")).and_then(Value::as_array) {
        Some(list) => {
            let patterns: Vec<String> =
                list.iter().map(|f| f.get("Pattern").and_then(Value::as_str).unwrap_or_default().to_owned()).collect();
            for p in &patterns {
                Pattern::parse(p)?;
            }
            Some(patterns)
        }
        None => None,
    };
    let on_failure = body
        .get("DestinationConfig")
        .and_then(|d| d.get("OnFailure"))
        .map(|f| f.get("Destination").and_then(Value::as_str).map(str::to_owned));
    if let Some(Some(d)) = &on_failure {
        let ok = nimbus_core::arn::Arn::parse(d).is_some_and(|a| matches!(a.service, "sqs" | "sns" | "s3"));
        if !ok {
            return Err(invalid(format!("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={d})) is invalid.")));
        }
    }
    if let Some(n) = int("BatchSize") {
        m.batch_size = n as u32;
    }
    if let Some(n) = int("MaximumBatchingWindowInSeconds") {
        m.batching_window_seconds = n as u32;
    }
    if let Some(n) = int("ParallelizationFactor") {
        m.parallelization_factor = n as u32;
    }
    if let Some(n) = int("MaximumRetryAttempts") {
        m.maximum_retry_attempts = n;
    }
    if let Some(n) = int("MaximumRecordAgeInSeconds") {
        m.maximum_record_age_seconds = n;
    }
    if let Some(n) = int("TumblingWindowInSeconds") {
        m.tumbling_window_seconds = n as u32;
    }
    if let Some(b) = body.get("BisectBatchOnFunctionError").and_then(Value::as_bool) {
        m.bisect_on_error = b;
    }
    if let Some(types) = response_types {
        m.function_response_types = types.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    }
    if let Some(f) = filters {
        m.filters = f;
    }
    if let Some(d) = on_failure {
        m.on_failure = d;
    }
    m.last_modified = nimbus_core::time::now_epoch_millis() as f64 / 1000.0;
    Ok(())
}

/// The function a FunctionName member names (it must exist): name and qualifier.
fn target_function(engine: &Engine, body: &Value) -> Result<(String, Option<String>), AwsError> {
    let text = body.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() {
        let mut v = Violations::default();
        v.add("null", "functionName", "must not be null");
        v.into_result()?;
    }
    let (name, qualifier) = parse_function_ref(text)?;
    super::resolve(engine, &name, qualifier.as_deref(), false)?;
    Ok((name, qualifier))
}

/// Lambda reads the stream as the function's role: refuse a role that may not.
async fn check_role_reads_stream(
    engine: &Engine,
    request: &AwsRequest,
    function: &str,
    stream_arn: &str,
) -> Result<(), AwsError> {
    let Some(authorizer) = request.authorizer.clone() else { return Ok(()) };
    let record = super::resolve(engine, function, None, false)?;
    let Some(principal) = engine.iam.role_principal(&engine.ctx, &record).await? else { return Ok(()) };
    for action in STREAM_ACTIONS {
        let question = AuthzRequest {
            principal: &principal,
            action,
            resource: stream_arn,
            source_ip: request.source_ip,
            context_keys: &[],
        };
        if authorizer.authorize(&question).is_err() {
            return Err(invalid(format!(
                "Cannot access stream {stream_arn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
            )));
        }
    }
    Ok(())
}

pub async fn create(engine: &Arc<Engine>, mappings: &Mappings, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("lambda:CreateEventSourceMapping", "*")?;
    let body = body_json(request)?;
    let (name, qualifier) = target_function(engine, &body)?;
    let arn = body.get("EventSourceArn").and_then(Value::as_str).unwrap_or_default().to_owned();
    if !is_dynamodb_stream(&arn) {
        return Err(invalid("Unrecognized event source."));
    }
    let start = match body.get("StartingPosition").and_then(Value::as_str) {
        Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
        Some("LATEST") => StartingPosition::Latest,
        Some(other) => {
            return Err(invalid(format!("Unsupported starting position for DynamoDB streams: {other}")));
        }
        None => {
            // AWS words this one as a validation error, with Lambda's error type.
            return Err(invalid(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
            ));
        }
    };
    let existing = mappings.store.list()?;
    if let Some(m) =
        existing.iter().find(|m| m.event_source_arn == arn && m.function_name == name && m.qualifier == qualifier)
    {
        let function = function_arn(&engine.ctx, &name);
        return Err(AwsError::new(
            409,
            "ResourceConflictException",
            format!("The event source arn (\" {arn} \") and function (\" {function} \") provided mapping already exists. Please update or delete the existing mapping with UUID {}", m.uuid),
        ));
    }
    let enabled = body.get("Enabled").and_then(Value::as_bool).unwrap_or(true);
    let starting = body["StartingPosition"].as_str().unwrap_or_default();
    let mut record = MappingRecord::for_stream(&arn, &name, qualifier, enabled, starting);
    apply_settings(&body, &mut record)?;
    let Some(reader) = mappings.reader() else {
        return Err(invalid("Nimbus has no DynamoDB Streams connected to read the stream from."));
    };
    let position = reader.starting_position(&arn, start).map_err(|e| match e.code.as_ref() {
        "ResourceNotFoundException" => invalid(format!("Stream not found: {arn}")),
        _ => e,
    })?;
    check_role_reads_stream(engine, request, &name, &arn).await?;
    mappings.store.create(&record, &position).await?;
    mappings.start(&record.uuid);
    Ok(json_response(202, &record.to_json(&engine.ctx)))
}

fn uuid_of(
    engine: &Engine,
    mappings: &Mappings,
    request: &AwsRequest,
    uuid: &str,
    action: &str,
) -> Result<MappingRecord, AwsError> {
    request.authorize(action, &mapping_arn(engine, uuid))?;
    mappings.store.get(uuid)?.ok_or_else(|| not_found(uuid))
}

pub fn get(engine: &Engine, mappings: &Mappings, request: &AwsRequest, uuid: &str) -> Result<AwsResponse, AwsError> {
    let record = uuid_of(engine, mappings, request, uuid, "lambda:GetEventSourceMapping")?;
    Ok(json_response(200, &record.to_json(&engine.ctx)))
}

pub fn list(engine: &Engine, mappings: &Mappings, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("lambda:ListEventSourceMappings", "*")?;
    let source = query_param(request, "EventSourceArn");
    let function = match query_param(request, "FunctionName") {
        Some(f) => Some(parse_function_ref(&f)?),
        None => None,
    };
    let max_items = match query_param(request, "MaxItems") {
        Some(text) => {
            let n: i64 = text.parse().map_err(|_| invalid(format!("Invalid MaxItems: {text}")))?;
            let mut v = Violations::default();
            v.range(n, "maxItems", 1, 10000);
            v.into_result()?;
            n as usize
        }
        None => DEFAULT_LIST_ITEMS,
    };
    let marker = query_param(request, "Marker");
    let matching: Vec<MappingRecord> = mappings
        .store
        .list()?
        .into_iter()
        .filter(|m| source.as_ref().is_none_or(|s| &m.event_source_arn == s))
        .filter(|m| {
            function.as_ref().is_none_or(|(name, q)| &m.function_name == name && (q.is_none() || &m.qualifier == q))
        })
        .filter(|m| marker.as_ref().is_none_or(|after| m.uuid.as_str() > after.as_str()))
        .collect();
    let page = &matching[..matching.len().min(max_items)];
    let mut out = json!({ "EventSourceMappings": page.iter().map(|m| m.to_json(&engine.ctx)).collect::<Vec<_>>() });
    if matching.len() > page.len() {
        if let Some(last) = page.last() {
            out["NextMarker"] = json!(last.uuid);
        }
    }
    Ok(json_response(200, &out))
}

pub async fn update(
    engine: &Arc<Engine>,
    mappings: &Mappings,
    request: &AwsRequest,
    uuid: &str,
) -> Result<AwsResponse, AwsError> {
    uuid_of(engine, mappings, request, uuid, "lambda:UpdateEventSourceMapping")?;
    let body = body_json(request)?;
    let function = match body.get("FunctionName") {
        Some(_) => Some(target_function(engine, &body)?),
        None => None,
    };
    // Checked before the transaction so its errors come first.
    apply_settings(&body, &mut MappingRecord::default())?;
    let enabled = body.get("Enabled").and_then(Value::as_bool);
    let record = mappings
        .store
        .update(uuid, move |m| {
            apply_settings(&body, m)?;
            if let Some((name, qualifier)) = function {
                m.function_name = name;
                m.qualifier = qualifier;
            }
            m.state = match enabled {
                Some(true) if !m.enabled => "Enabling",
                Some(false) if m.enabled => "Disabling",
                _ => "Updating",
            }
            .to_owned();
            if let Some(e) = enabled {
                m.enabled = e;
            }
            m.state_transition_reason = USER_ACTION.into();
            Ok(())
        })
        .await?;
    mappings.start(uuid);
    Ok(json_response(202, &record.to_json(&engine.ctx)))
}

pub async fn delete(
    engine: &Engine,
    mappings: &Mappings,
    request: &AwsRequest,
    uuid: &str,
) -> Result<AwsResponse, AwsError> {
    let mut record = uuid_of(engine, mappings, request, uuid, "lambda:DeleteEventSourceMapping")?;
    mappings.store.delete(uuid).await?;
    record.state = "Deleting".into();
    record.state_transition_reason = USER_ACTION.into();
    Ok(json_response(202, &record.to_json(&engine.ctx)))
}

/// Route `/2015-03-31/event-source-mappings[/{UUID}]`.
pub async fn handle(engine: &Arc<Engine>, mappings: &Mappings, request: AwsRequest) -> Result<AwsResponse, AwsError> {
    let path = request.uri.path().trim_end_matches('/').to_owned();
    let uuid = path.strip_prefix("/2015-03-31/event-source-mappings").unwrap_or_default().trim_start_matches('/');
    let method = request.method.clone();
    match (method.as_str(), uuid) {
        ("POST", "") => create(engine, mappings, &request).await,
        ("GET", "") => list(engine, mappings, &request),
        ("GET", id) => get(engine, mappings, &request, id),
        ("PUT", id) => update(engine, mappings, &request, id).await,
        ("DELETE", id) => delete(engine, mappings, &request, id).await,
        _ => Err(AwsError::new(
            404,
            "UnknownOperationException",
            format!("Nimbus Lambda does not implement {method} {path}"),
        )),
    }
}
