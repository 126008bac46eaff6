//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, and the
//! `Code.Location` download.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::{body_json, empty_response, json_response, parse_function_ref, qualifier, query_param};
use crate::engine::Engine;
use crate::model::{not_found, FunctionRecord, RUNTIMES};
use crate::util::{base64_decode, internal, is_role_arn, lambda_timestamp, Violations};

/// Every value of the model's Runtime enum, in its order (for the error text).
const RUNTIME_ENUM: &str = "[nodejs, nodejs4.3, nodejs6.10, nodejs8.10, nodejs10.x, nodejs12.x, nodejs14.x, nodejs16.x, nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x, java8, java8.al2, java11, java17, java21, java25, python2.7, python3.6, python3.7, python3.8, python3.9, python3.10, python3.11, python3.12, python3.13, python3.14, dotnetcore1.0, dotnetcore2.0, dotnetcore2.1, dotnetcore3.1, dotnet6, dotnet8, dotnet10, nodejs4.3-edge, go1.x, ruby2.5, ruby2.7, ruby3.2, ruby3.3, ruby3.4, provided, provided.al2, provided.al2023]";

/// Variables Lambda sets itself and refuses in `Environment`.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

fn int(body: &Value, field: &str) -> Result<Option<i64>, AwsError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| AwsError::new(400, "SerializationException", format!("{field} must be an integer"))),
    }
}

fn string(body: &Value, field: &str) -> Option<String> {
    body.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The configuration fields Create and UpdateFunctionConfiguration share,
/// validated and applied to `record`.
fn apply_configuration(body: &Value, record: &mut FunctionRecord) -> Result<(), AwsError> {
    let mut v = Violations::default();
    let runtime = string(body, "Runtime");
    if let Some(r) = &runtime {
        if !RUNTIME_ENUM.trim_matches(['[', ']']).split(", ").any(|e| e == r) {
            v.add(r, "runtime", &format!("must satisfy enum value set: {RUNTIME_ENUM}"));
        }
    }
    let role = string(body, "Role");
    if let Some(role) = &role {
        if !is_role_arn(role) {
            v.add(
                role,
                "role",
                "must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
            );
        }
    }
    let timeout = int(body, "Timeout")?;
    if let Some(t) = timeout {
        v.range(t, "timeout", 1, 900);
    }
    let memory = int(body, "MemorySize")?;
    if let Some(m) = memory {
        v.range(m, "memorySize", 128, 10240);
    }
    let handler = string(body, "Handler");
    if let Some(h) = &handler {
        v.max_len(h, "handler", 128);
        if h.chars().any(char::is_whitespace) {
            v.add(h, "handler", "must satisfy regular expression pattern: [^\\s]+");
        }
    }
    let description = string(body, "Description");
    if let Some(d) = &description {
        v.max_len(d, "description", 256);
    }
    let storage = match body.get("EphemeralStorage") {
        Some(s) => int(s, "Size")?,
        None => None,
    };
    if let Some(s) = storage {
        v.range(s, "ephemeralStorage.size", 512, 10240);
    }
    v.into_result()?;

    if let Some(r) = runtime {
        if !RUNTIMES.contains(&r.as_str()) {
            return Err(invalid(format!(
                "The runtime parameter of {r} is not supported by Nimbus. Supported runtimes: {}.",
                RUNTIMES.join(", ")
            )));
        }
        record.runtime = r;
    }
    if let Some(vars) = body.get("Environment").and_then(|e| e.get("Variables")) {
        let vars: BTreeMap<String, String> = vars
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default();
        let reserved: Vec<&str> = vars.keys().map(String::as_str).filter(|k| RESERVED_VARIABLES.contains(k)).collect();
        if !reserved.is_empty() {
            return Err(invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
                reserved.join(", ")
            )));
        }
        let size: usize = vars.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > 4096 {
            return Err(invalid(
                "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.",
            ));
        }
        record.environment = Some(vars);
    }
    if let Some(r) = role {
        record.role = r;
    }
    if let Some(h) = handler {
        record.handler = h;
    }
    if let Some(d) = description {
        record.description = d;
    }
    if let Some(t) = timeout {
        record.timeout = t as u32;
    }
    if let Some(m) = memory {
        record.memory = m as u32;
    }
    if let Some(s) = storage {
        record.ephemeral_storage = s as u32;
    }
    Ok(())
}

/// Handing a function its role: the caller needs `iam:PassRole` on it (for
/// Lambda), and Lambda must be able to assume it.
async fn pass_role(engine: &Engine, request: &AwsRequest, role: &str, function: &str) -> Result<(), AwsError> {
    let service = ["lambda.amazonaws.com".to_owned()];
    request.authorize_with("iam:PassRole", role, &[("iam:PassedToService", &service)]).map_err(|mut err| {
        // Lambda answers in its own shape, whichever service's action was denied.
        if err.code == "AccessDenied" {
            err.code = "AccessDeniedException".into();
        }
        err
    })?;
    engine.iam.check_assumable(role, function).await
}

/// Decode `ZipFile` and put it in the code store.
async fn store_code(engine: &Arc<Engine>, code: &Value) -> Result<crate::code::StoredCode, AwsError> {
    if code.get("S3Bucket").is_some() || code.get("ImageUri").is_some() {
        return Err(invalid("Nimbus accepts deployment packages as ZipFile only (no S3 or container images yet)."));
    }
    let Some(zip) = code.get("ZipFile").and_then(Value::as_str) else {
        return Err(invalid("Please provide a source for function code."));
    };
    let bytes = base64_decode(zip).ok_or_else(|| invalid("ZipFile is not valid base64."))?;
    if bytes.len() > crate::code::MAX_ZIPPED {
        return Err(AwsError::new(
            413,
            "RequestEntityTooLargeException",
            format!("Zipped size must be smaller than {} bytes", crate::code::MAX_ZIPPED),
        ));
    }
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || engine.code.put(&bytes)).await.map_err(internal)?
}

pub async fn create(engine: &Arc<Engine>, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    let body = body_json(request)?;
    let name = string(&body, "FunctionName").unwrap_or_default();
    let (name, _) = parse_function_ref(&name)?;
    if name.len() > 64 {
        let mut v = Violations::default();
        v.max_len(&name, "functionName", 64);
        v.into_result()?;
    }
    request.authorize("lambda:CreateFunction", &crate::model::function_arn(&engine.ctx, &name))?;
    if body.get("PackageType").and_then(Value::as_str) == Some("Image") {
        return Err(invalid("Nimbus does not run container image functions yet."));
    }
    let mut record = FunctionRecord {
        name: name.clone(),
        runtime: String::new(),
        handler: String::new(),
        role: String::new(),
        description: String::new(),
        timeout: 3,
        memory: 128,
        ephemeral_storage: 512,
        environment: None,
        architectures: vec![],
        code_id: String::new(),
        code_sha256: String::new(),
        code_size: 0,
        last_modified: String::new(),
        revision_id: nimbus_core::request::new_request_id(),
        tags: BTreeMap::new(),
        reserved_concurrency: None,
        published: None,
        last_version: 0,
        published_revision: None,
        policies: BTreeMap::new(),
        event_invoke: BTreeMap::new(),
    };
    apply_configuration(&body, &mut record)?;
    if record.runtime.is_empty() || (record.handler.is_empty() && !record.runtime.starts_with("provided")) {
        return Err(invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    }
    if record.role.is_empty() {
        let mut v = Violations::default();
        v.add("null", "role", "must not be null");
        v.into_result()?;
    }
    if let Some(arch) = body.get("Architectures").and_then(Value::as_array) {
        let archs: Vec<String> = arch.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        if archs.len() != 1 || !matches!(archs[0].as_str(), "x86_64" | "arm64") {
            return Err(invalid("Architectures must contain exactly one of x86_64, arm64."));
        }
        record.architectures = archs;
    }
    if let Some(tags) = body.get("Tags").and_then(Value::as_object) {
        record.tags = tags.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
    }
    if engine.functions.get(&name)?.is_some() {
        return Err(AwsError::new(409, "ResourceConflictException", format!("Function already exist: {name}")));
    }
    pass_role(engine, request, &record.role, &name).await?;
    let code = store_code(engine, body.get("Code").unwrap_or(&Value::Null)).await?;
    record.code_id = code.id;
    record.code_sha256 = code.sha256;
    record.code_size = code.size;
    record.last_modified = lambda_timestamp(nimbus_core::time::now_epoch_millis());
    engine.functions.create(record.clone()).await?;
    prepare_runtime(engine, &record);
    let mut config = record.configuration(&engine.ctx);
    if body.get("Publish").and_then(Value::as_bool).unwrap_or(false) {
        let version = engine.functions.publish(&engine.ctx, &name, None, None, None).await?;
        config = version.configuration(&engine.ctx);
    }
    // As on AWS, a new function reports Pending until it is ready (here: at once).
    config["State"] = "Pending".into();
    config["StateReason"] = "The function is being created.".into();
    config["StateReasonCode"] = "Creating".into();
    Ok(json_response(201, &config))
}

/// In the background, install what the function's runtime needs for its
/// code (the Node SDK packages it imports) before its first cold start.
fn prepare_runtime(engine: &Arc<Engine>, record: &FunctionRecord) {
    let (engine, runtime, code_dir) = (engine.clone(), record.runtime.clone(), engine.code.dir(&record.code_id));
    tokio::spawn(async move { engine.launcher.prepare_node_sdk(&runtime, &code_dir).await });
}

/// Look up the function (at its qualifier, if any) named by a path segment.
fn load(engine: &Engine, request: &AwsRequest, name: &str, action: &str) -> Result<FunctionRecord, AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?;
    request.authorize(action, &crate::model::qualified_arn(&engine.ctx, &name, qualifier.as_deref()))?;
    super::resolve(engine, &name, qualifier.as_deref(), false)
}

/// `$LATEST` only: the operation changes it.
fn load_latest(engine: &Engine, request: &AwsRequest, name: &str, action: &str) -> Result<FunctionRecord, AwsError> {
    let (name, _) = parse_function_ref(name)?;
    request.authorize(action, &crate::model::function_arn(&engine.ctx, &name))?;
    engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))
}

pub fn get(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let record = load(engine, request, name, "lambda:GetFunction")?;
    let latest = engine.functions.get(&record.name)?.ok_or_else(|| not_found(&engine.ctx, &record.name))?;
    let mut out = json!({
        "Configuration": record.configuration(&engine.ctx),
        "Code": {
            "RepositoryType": "S3",
            "Location": format!(
                "{}{}{}.zip?{}",
                engine.endpoint_url,
                super::CODE_PATH,
                record.code_id,
                engine.code.link_query(&record.code_id)
            ),
        },
    });
    if !latest.tags.is_empty() {
        out["Tags"] = json!(latest.tags);
    }
    if let Some(n) = latest.reserved_concurrency {
        out["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json_response(200, &out))
}

pub fn get_configuration(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let record = load(engine, request, name, "lambda:GetFunctionConfiguration")?;
    Ok(json_response(200, &record.configuration(&engine.ctx)))
}

pub fn list(engine: &Arc<Engine>, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("lambda:ListFunctions", "*")?;
    let max = match query_param(request, "MaxItems") {
        Some(m) => {
            let n: i64 = m.parse().map_err(|_| AwsError::validation(format!("Invalid MaxItems: {m}")))?;
            let mut v = Violations::default();
            v.range(n, "maxItems", 1, 10000);
            v.into_result()?;
            n as usize
        }
        None => 50,
    };
    let marker = query_param(request, "Marker").filter(|m| !m.is_empty());
    let mut page = engine.functions.list(marker.as_deref(), max + 1)?;
    let next = (page.len() > max).then(|| page.pop().map(|f| f.name)).flatten();
    let functions: Vec<Value> = page.iter().map(|f| f.configuration(&engine.ctx)).collect();
    let mut out = json!({ "Functions": functions });
    if let Some(next) = next {
        out["NextMarker"] = next.into();
    }
    Ok(json_response(200, &out))
}

fn check_revision(body: &Value, record: &FunctionRecord) -> Result<(), AwsError> {
    match body.get("RevisionId").and_then(Value::as_str) {
        Some(r) if r != record.revision_id => Err(AwsError::new(
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

pub async fn update_code(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let record = load_latest(engine, request, name, "lambda:UpdateFunctionCode")?;
    let body = body_json(request)?;
    check_revision(&body, &record)?;
    let code = store_code(engine, &body).await?;
    let dry_run = body.get("DryRun").and_then(Value::as_bool).unwrap_or(false);
    let updated = if dry_run {
        record
    } else {
        let revision = body.get("RevisionId").and_then(Value::as_str).map(str::to_owned);
        let updated = engine
            .functions
            .update(&engine.ctx, &record.name, move |r| {
                if revision.is_some_and(|rev| rev != r.revision_id) {
                    return Err(AwsError::new(412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"));
                }
                r.code_id = code.id;
                r.code_sha256 = code.sha256;
                r.code_size = code.size;
                r.last_modified = lambda_timestamp(nimbus_core::time::now_epoch_millis());
                r.revision_id = nimbus_core::request::new_request_id();
                Ok(())
            })
            .await?;
        engine.pool.evict_function(&updated.name);
        prepare_runtime(engine, &updated);
        updated
    };
    let mut config = updated.configuration(&engine.ctx);
    if !dry_run && body.get("Publish").and_then(Value::as_bool).unwrap_or(false) {
        let version = engine.functions.publish(&engine.ctx, &updated.name, None, None, None).await?;
        config = version.configuration(&engine.ctx);
    }
    config["LastUpdateStatus"] = "InProgress".into();
    config["LastUpdateStatusReason"] = "The function is being created.".into();
    config["LastUpdateStatusReasonCode"] = "Creating".into();
    Ok(json_response(200, &config))
}

pub async fn update_configuration(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
) -> Result<AwsResponse, AwsError> {
    let record = load_latest(engine, request, name, "lambda:UpdateFunctionConfiguration")?;
    let body = body_json(request)?;
    check_revision(&body, &record)?;
    // Validate before the transaction so errors do not depend on races.
    apply_configuration(&body, &mut record.clone())?;
    if let Some(role) = string(&body, "Role").filter(|r| *r != record.role) {
        pass_role(engine, request, &role, &record.name).await?;
    }
    let updated = engine
        .functions
        .update(&engine.ctx, &record.name, move |r| {
            apply_configuration(&body, r)?;
            r.last_modified = lambda_timestamp(nimbus_core::time::now_epoch_millis());
            r.revision_id = nimbus_core::request::new_request_id();
            Ok(())
        })
        .await?;
    engine.pool.evict_function(&updated.name);
    let mut config = updated.configuration(&engine.ctx);
    config["LastUpdateStatus"] = "InProgress".into();
    config["LastUpdateStatusReason"] = "The function is being created.".into();
    config["LastUpdateStatusReasonCode"] = "Creating".into();
    Ok(json_response(200, &config))
}

pub async fn delete(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (fn_name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?;
    request.authorize(
        "lambda:DeleteFunction",
        &crate::model::qualified_arn(&engine.ctx, &fn_name, qualifier.as_deref()),
    )?;
    if let Some(q) = qualifier.filter(|q| q != "$LATEST") {
        let Ok(n) = q.parse::<u64>() else {
            return Err(AwsError::new(
                400,
                "InvalidParameterValueException",
                "Deletion of aliases is not supported. Use DeleteAlias instead.",
            ));
        };
        engine.functions.delete_version(&engine.ctx, &fn_name, n).await?;
        engine.pool.evict_function(&fn_name);
        return Ok(empty_response(204));
    }
    let deleted = engine.functions.delete(&engine.ctx, &fn_name).await?;
    for config in engine.provisioned_configs(Some(&deleted.name))? {
        engine.delete_provisioned(&config.function, &config.qualifier).await?;
    }
    engine.pool.evict_function(&deleted.name);
    engine.pool.set_reserved(&deleted.name, None);
    engine.iam.withdraw_all(&engine.ctx, &deleted);
    Ok(empty_response(204))
}

/// `GET /_nimbus/lambda/code/<sha256>.zip?Expires=…&Signature=…`: the
/// package behind `Code.Location`. Unauthenticated like AWS's presigned S3
/// URL, so it carries its own signature and expires after ten minutes.
pub async fn download_code(engine: &Arc<Engine>, request: &AwsRequest, file: &str) -> Result<AwsResponse, AwsError> {
    let id = file.strip_suffix(".zip").unwrap_or(file).to_owned();
    let expires = query_param(request, "Expires");
    let signature = query_param(request, "Signature");
    if !engine.code.link_valid(&id, expires.as_deref(), signature.as_deref()) {
        return Err(AwsError::new(403, "AccessDenied", "Request has expired or the signature does not match"));
    }
    let engine = engine.clone();
    let bytes = tokio::task::spawn_blocking(move || engine.code.read_zip(&id)).await.map_err(internal)?;
    let Some(bytes) = bytes else {
        return Err(AwsError::new(404, "ResourceNotFoundException", "No such code package"));
    };
    let mut response = http::Response::new(bytes::Bytes::from(bytes));
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/zip"));
    Ok(response)
}
