//! PublishVersion, ListVersionsByFunction, and Create/Get/List/Update/DeleteAlias.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::{body_json, empty_response, json_response, parse_function_ref, query_param};
use crate::engine::Engine;
use crate::model::{function_arn, not_found, AliasRecord};
use crate::util::Violations;

fn unqualified(engine: &Engine, request: &AwsRequest, name: &str, action: &str) -> Result<String, AwsError> {
    let (name, _) = parse_function_ref(name)?;
    request.authorize(action, &function_arn(&engine.ctx, &name))?;
    Ok(name)
}

pub async fn publish(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:PublishVersion")?;
    let body = body_json(request)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let version = engine
        .functions
        .publish(&engine.ctx, &name, text("CodeSha256"), text("Description"), text("RevisionId"))
        .await?;
    Ok(json_response(201, &version.configuration(&engine.ctx)))
}

/// Paginate `items` by position: Marker is the index to start at.
fn page(request: &AwsRequest, items: Vec<Value>, key: &str) -> Result<AwsResponse, AwsError> {
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
    let start: usize = query_param(request, "Marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let end = (start + max).min(items.len());
    let slice: Vec<Value> = items.get(start..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut out = json!({ key: slice });
    if end < items.len() {
        out["NextMarker"] = end.to_string().into();
    }
    Ok(json_response(200, &out))
}

pub fn list_versions(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:ListVersionsByFunction")?;
    let latest = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    let mut items = vec![latest.configuration(&engine.ctx)];
    items.extend(engine.functions.list_versions(&name)?.iter().map(|v| v.configuration(&engine.ctx)));
    page(request, items, "Versions")
}

/// Validate and read `RoutingConfig.AdditionalVersionWeights`.
fn weights(body: &Value, primary: &str) -> Result<Option<BTreeMap<String, f64>>, AwsError> {
    let Some(routing) = body.get("RoutingConfig") else { return Ok(None) };
    let map = routing.get("AdditionalVersionWeights").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut out = BTreeMap::new();
    for (version, weight) in map {
        let w = weight.as_f64().unwrap_or(-1.0);
        if !(0.0..=1.0).contains(&w) {
            let mut v = Violations::default();
            v.add(w, "routingConfig.additionalVersionWeights", "must have value between 0.0 and 1.0");
            v.into_result()?;
        }
        if version == primary || version == "$LATEST" || version.parse::<u64>().is_err() {
            return Err(AwsError::new(
                400,
                "InvalidParameterValueException",
                "Invalid function version in AdditionalVersionWeights: the additional version must be a published version other than the alias's FunctionVersion.",
            ));
        }
        out.insert(version, w);
    }
    if out.len() > 1 {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    Ok(Some(out))
}

fn check_alias_name(alias: &str) -> Result<(), AwsError> {
    let mut v = Violations::default();
    if !crate::util::is_name(alias) || alias.bytes().all(|b| b.is_ascii_digit()) {
        v.add(alias, "name", "must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    }
    v.max_len(alias, "name", 128);
    v.into_result()
}

pub async fn create_alias(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:CreateAlias")?;
    let body = body_json(request)?;
    let alias = body.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned();
    check_alias_name(&alias)?;
    let version = body.get("FunctionVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let weights = weights(&body, &version)?.unwrap_or_default();
    let description = body.get("Description").and_then(Value::as_str).unwrap_or_default().to_owned();
    let alias_name = alias.clone();
    let record = engine
        .functions
        .put_alias(&engine.ctx, &name, &alias, true, move |_| {
            Ok(AliasRecord {
                name: alias_name,
                function_version: version,
                description,
                weights,
                revision_id: nimbus_core::request::new_request_id(),
            })
        })
        .await?;
    Ok(json_response(201, &record.configuration(&engine.ctx, &name)))
}

pub fn get_alias(engine: &Arc<Engine>, request: &AwsRequest, name: &str, alias: &str) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:GetAlias")?;
    let record = engine.functions.get_alias(&name, alias)?.ok_or_else(|| {
        AwsError::new(
            404,
            "ResourceNotFoundException",
            format!("Alias not found: {}:{alias}", function_arn(&engine.ctx, &name)),
        )
    })?;
    Ok(json_response(200, &record.configuration(&engine.ctx, &name)))
}

pub fn list_aliases(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:ListAliases")?;
    if engine.functions.get(&name)?.is_none() {
        return Err(not_found(&engine.ctx, &name));
    }
    let version = query_param(request, "FunctionVersion");
    let items: Vec<Value> = engine
        .functions
        .list_aliases(&name)?
        .iter()
        .filter(|a| version.as_ref().is_none_or(|v| *v == a.function_version))
        .map(|a| a.configuration(&engine.ctx, &name))
        .collect();
    page(request, items, "Aliases")
}

pub async fn update_alias(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
    alias: &str,
) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:UpdateAlias")?;
    let body = body_json(request)?;
    let record = engine
        .functions
        .put_alias(&engine.ctx, &name, alias, false, move |existing| {
            let mut record = existing.ok_or_else(|| AwsError::internal("alias vanished"))?;
            if body.get("RevisionId").and_then(Value::as_str).is_some_and(|r| r != record.revision_id) {
                return Err(AwsError::new(
                    412,
                    "PreconditionFailedException",
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                ));
            }
            if let Some(v) = body.get("FunctionVersion").and_then(Value::as_str) {
                record.function_version = v.to_owned();
            }
            if let Some(d) = body.get("Description").and_then(Value::as_str) {
                record.description = d.to_owned();
            }
            if let Some(w) = weights(&body, &record.function_version)? {
                record.weights = w;
            }
            record.revision_id = nimbus_core::request::new_request_id();
            Ok(record)
        })
        .await?;
    Ok(json_response(200, &record.configuration(&engine.ctx, &name)))
}

pub async fn delete_alias(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
    alias: &str,
) -> Result<AwsResponse, AwsError> {
    let name = unqualified(engine, request, name, "lambda:DeleteAlias")?;
    engine.functions.delete_alias(&name, alias).await?;
    Ok(empty_response(204))
}
