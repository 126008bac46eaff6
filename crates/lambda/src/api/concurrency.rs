//! Put/Get/DeleteFunctionConcurrency and GetAccountSettings.

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::{body_json, empty_response, json_response, parse_function_ref};
use crate::engine::Engine;
use crate::model::{function_arn, not_found};

/// Lambda keeps this much of the account limit unreserved.
const MIN_UNRESERVED: u32 = 100;

fn function_name(engine: &Engine, request: &AwsRequest, name: &str, action: &str) -> Result<String, AwsError> {
    let (name, qualifier) = parse_function_ref(name)?;
    request.authorize(action, &function_arn(&engine.ctx, &name))?;
    if qualifier.is_some() {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            "Concurrency can only be configured on the unqualified function.",
        ));
    }
    Ok(name)
}

pub async fn put(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = function_name(engine, request, name, "lambda:PutFunctionConcurrency")?;
    let body = body_json(request)?;
    let Some(n) = body.get("ReservedConcurrentExecutions").and_then(Value::as_i64) else {
        let mut v = crate::util::Violations::default();
        v.add("null", "reservedConcurrentExecutions", "must not be null");
        return Err(v.into_result().err().unwrap_or_else(|| AwsError::validation("ReservedConcurrentExecutions")));
    };
    let mut v = crate::util::Violations::default();
    v.range(n, "reservedConcurrentExecutions", 0, i64::from(u32::MAX));
    v.into_result()?;
    let n = n as u32;
    let others = engine.pool.reserved_sum_except(&name);
    if engine.functions.get(&name)?.is_none() {
        return Err(not_found(&engine.ctx, &name));
    }
    if others.saturating_add(n) > engine.pool.account_limit.saturating_sub(MIN_UNRESERVED) {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            ),
        ));
    }
    engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            r.reserved_concurrency = Some(n);
            Ok(())
        })
        .await?;
    engine.pool.set_reserved(&name, Some(n));
    Ok(json_response(200, &json!({ "ReservedConcurrentExecutions": n })))
}

pub fn get(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = function_name(engine, request, name, "lambda:GetFunctionConcurrency")?;
    let record = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    let body = match record.reserved_concurrency {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    Ok(json_response(200, &body))
}

pub async fn delete(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let name = function_name(engine, request, name, "lambda:DeleteFunctionConcurrency")?;
    engine
        .functions
        .update(&engine.ctx, &name, |r| {
            r.reserved_concurrency = None;
            Ok(())
        })
        .await?;
    engine.pool.set_reserved(&name, None);
    Ok(empty_response(204))
}

fn provisioned_target(
    engine: &Engine,
    request: &AwsRequest,
    name: &str,
    action: &str,
) -> Result<(String, String), AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let qualifier = super::qualifier(request, from_name)?;
    request.authorize(action, &crate::model::qualified_arn(&engine.ctx, &name, qualifier.as_deref()))?;
    let Some(qualifier) = qualifier else {
        let mut v = crate::util::Violations::default();
        v.add("null", "qualifier", "must not be null");
        return Err(v.into_result().err().unwrap_or_else(|| AwsError::validation("Qualifier")));
    };
    if qualifier == "$LATEST" {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        ));
    }
    // The version or alias must exist.
    super::resolve(engine, &name, Some(&qualifier), false)?;
    Ok((name, qualifier))
}

fn no_provisioned_config() -> AwsError {
    AwsError::new(
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
}

pub async fn put_provisioned(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, qualifier) = provisioned_target(engine, request, name, "lambda:PutProvisionedConcurrencyConfig")?;
    let body = body_json(request)?;
    let n = body.get("ProvisionedConcurrentExecutions").and_then(Value::as_i64).unwrap_or(0);
    let mut v = crate::util::Violations::default();
    v.range(n, "provisionedConcurrentExecutions", 1, i64::from(engine.pool.account_limit));
    v.into_result()?;
    let config = crate::provisioned::ProvisionedConfig {
        function: name,
        qualifier,
        requested: n as u32,
        last_modified: crate::util::lambda_timestamp(nimbus_core::time::now_epoch_millis()),
    };
    engine.put_provisioned(config.clone()).await?;
    let mut out = config.to_json(engine, false);
    out["Status"] = "IN_PROGRESS".into();
    Ok(json_response(202, &out))
}

pub fn get_provisioned(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    if super::query_param(request, "List").as_deref() == Some("ALL") {
        let (name, _) = parse_function_ref(name)?;
        request.authorize("lambda:ListProvisionedConcurrencyConfigs", &function_arn(&engine.ctx, &name))?;
        if engine.functions.get(&name)?.is_none() {
            return Err(not_found(&engine.ctx, &name));
        }
        let configs: Vec<Value> =
            engine.provisioned_configs(Some(&name))?.iter().map(|c| c.to_json(engine, true)).collect();
        return Ok(json_response(200, &json!({ "ProvisionedConcurrencyConfigs": configs })));
    }
    let (name, qualifier) = provisioned_target(engine, request, name, "lambda:GetProvisionedConcurrencyConfig")?;
    let config = engine.provisioned_config(&name, &qualifier)?.ok_or_else(no_provisioned_config)?;
    Ok(json_response(200, &config.to_json(engine, false)))
}

pub async fn delete_provisioned(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
) -> Result<AwsResponse, AwsError> {
    let (name, qualifier) = provisioned_target(engine, request, name, "lambda:DeleteProvisionedConcurrencyConfig")?;
    if engine.provisioned_config(&name, &qualifier)?.is_none() {
        return Err(no_provisioned_config());
    }
    engine.delete_provisioned(&name, &qualifier).await?;
    Ok(empty_response(204))
}

pub fn account_settings(engine: &Arc<Engine>, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("lambda:GetAccountSettings", "*")?;
    let (count, total_size) = engine.functions.count()?;
    let limit = engine.pool.account_limit;
    let body = json!({
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800u64,
            "CodeSizeUnzipped": crate::code::MAX_UNZIPPED,
            "CodeSizeZipped": crate::code::MAX_ZIPPED,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit.saturating_sub(engine.pool.reserved_sum()),
        },
        "AccountUsage": { "TotalCodeSize": total_size, "FunctionCount": count },
    });
    Ok(json_response(200, &body))
}
