//! API keys and usage plans (`/apikeys`, `/usageplans`).

use std::collections::BTreeMap;

use http::Method as HttpMethod;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::control::{accepted, body_object, items, now_epoch, patched, str_field, wants};
use super::model::{ApiKey, ApiStage, QuotaSettings, ThrottleSettings, UsagePlan};
use crate::v2::control::{bad_request, json_response, not_found};
use crate::{ids, ApiGateway};

fn missing_key(id: &str) -> AwsError {
    not_found(format!("Invalid API Key identifier specified {id}"))
}

fn missing_plan(id: &str) -> AwsError {
    not_found(format!("Invalid Usage Plan ID specified {id}"))
}

/// An API key as returned: its value only when asked for.
fn shown(key: &ApiKey, include_value: bool) -> Value {
    let mut value = serde_json::to_value(key).unwrap_or(Value::Null);
    if !include_value {
        if let Some(map) = value.as_object_mut() {
            map.remove("value");
        }
    }
    value
}

pub async fn api_keys(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    match (method, rest) {
        (HttpMethod::POST, []) => {
            let body = body_object(request)?;
            let value = match str_field(&body, "value") {
                Some(v) if v.len() < 20 => return Err(bad_request("API Key value should be at least 20 characters")),
                Some(v) => v,
                None => ids::new_id(40),
            };
            if gw.api_keys.list().iter().any(|k| k.value == value) {
                return Err(AwsError::new(409, "ConflictException", "API Key already exists"));
            }
            let now = now_epoch();
            let key = ApiKey {
                id: ids::api_id(),
                value,
                name: str_field(&body, "name").unwrap_or_default(),
                description: str_field(&body, "description"),
                enabled: body.get("enabled").and_then(Value::as_bool).unwrap_or(false),
                created_date: now,
                last_updated_date: now,
                stage_keys: body
                    .get("stageKeys")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default(),
                tags: body.get("tags").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
            };
            let key = gw.api_keys.insert(key).await?;
            json_response(201, &shown(&key, true))
        }
        (HttpMethod::GET, []) => {
            let include = wants(request, "includeValues");
            items(gw.api_keys.list().iter().map(|k| shown(k, include)).collect())
        }
        (HttpMethod::GET, [id]) => {
            let key = gw.api_keys.get(id).ok_or_else(|| missing_key(id))?;
            json_response(200, &shown(&key, wants(request, "includeValue")))
        }
        (HttpMethod::PATCH, [id]) => {
            let (key, ()) = gw
                .api_keys
                .update(
                    id,
                    || missing_key(id),
                    |k| {
                        *k = patched(k, request, &["name", "description", "enabled"])?;
                        k.last_updated_date = now_epoch();
                        Ok(())
                    },
                )
                .await?;
            json_response(200, &shown(&key, false))
        }
        (HttpMethod::DELETE, [id]) => {
            gw.api_keys.remove(id).await?.ok_or_else(|| missing_key(id))?;
            accepted()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

pub async fn usage_plans(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    match (method, rest) {
        (HttpMethod::POST, []) => {
            let body = body_object(request)?;
            let name = str_field(&body, "name").unwrap_or_default();
            if name.is_empty() {
                return Err(bad_request("Usage Plan name must be non-empty"));
            }
            let api_stages: Vec<ApiStage> = match body.get("apiStages") {
                Some(v) => serde_json::from_value(v.clone()).map_err(|_| bad_request("Invalid apiStages"))?,
                None => vec![],
            };
            for stage in &api_stages {
                let api = gw
                    .rest_apis
                    .get(&stage.api_id)
                    .ok_or_else(|| bad_request(format!("Invalid API identifier specified {}", stage.api_id)))?;
                if !api.stages.contains_key(&stage.stage) {
                    return Err(bad_request(format!("Invalid stage identifier specified {}", stage.stage)));
                }
            }
            let throttle: Option<ThrottleSettings> =
                body.get("throttle").and_then(|v| serde_json::from_value(v.clone()).ok());
            let quota: Option<QuotaSettings> = match body.get("quota") {
                Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| bad_request("Invalid quota"))?),
                None => None,
            };
            if let Some(q) = &quota {
                if !["DAY", "WEEK", "MONTH"].contains(&q.period.as_str()) || q.limit < 0 {
                    return Err(bad_request("Quota period must be DAY, WEEK or MONTH, with a non-negative limit"));
                }
            }
            let plan = UsagePlan {
                id: ids::child_id(),
                name,
                description: str_field(&body, "description"),
                api_stages,
                throttle,
                quota,
                tags: body.get("tags").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default(),
                key_ids: vec![],
            };
            let plan = gw.usage_plans.insert(plan).await?;
            json_response(201, &*plan)
        }
        (HttpMethod::GET, []) => items(gw.usage_plans.list().iter().map(|p| (**p).clone()).collect()),
        (HttpMethod::GET, [id]) => json_response(200, &*gw.usage_plans.get(id).ok_or_else(|| missing_plan(id))?),
        (HttpMethod::DELETE, [id]) => {
            gw.usage_plans.remove(id).await?.ok_or_else(|| missing_plan(id))?;
            accepted()
        }
        (HttpMethod::POST, [id, "keys"]) => {
            let body = body_object(request)?;
            let key_id = str_field(&body, "keyId").unwrap_or_default();
            let key = gw.api_keys.get(&key_id).ok_or_else(|| missing_key(&key_id))?;
            gw.usage_plans
                .update(
                    id,
                    || missing_plan(id),
                    |plan| {
                        if plan.key_ids.contains(&key_id) {
                            return Err(AwsError::new(409, "ConflictException", "Usage Plan Key already exists"));
                        }
                        plan.key_ids.push(key_id.clone());
                        Ok(())
                    },
                )
                .await?;
            json_response(201, &json!({ "id": key.id, "type": "API_KEY", "value": key.value, "name": key.name }))
        }
        (HttpMethod::GET, [id, "keys"]) => {
            let plan = gw.usage_plans.get(id).ok_or_else(|| missing_plan(id))?;
            let keys: Vec<Value> = plan
                .key_ids
                .iter()
                .filter_map(|k| gw.api_keys.get(k))
                .map(|k| json!({ "id": k.id, "type": "API_KEY", "value": k.value, "name": k.name }))
                .collect();
            items(keys)
        }
        (HttpMethod::DELETE, [id, "keys", key_id]) => {
            gw.usage_plans
                .update(
                    id,
                    || missing_plan(id),
                    |plan| {
                        let before = plan.key_ids.len();
                        plan.key_ids.retain(|k| k != key_id);
                        if plan.key_ids.len() == before {
                            return Err(not_found(format!("Invalid Usage Plan Key identifier specified {key_id}")));
                        }
                        Ok(())
                    },
                )
                .await?;
            accepted()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

/// Count of requests per (plan, key, period start), for quotas.
pub type QuotaCounters = std::sync::Mutex<BTreeMap<(String, String, i64), i64>>;

/// The start (epoch seconds) of the quota period containing `now`.
pub fn period_start(period: &str, now: i64) -> i64 {
    let day = now.div_euclid(86400);
    match period {
        "WEEK" => (day - (day + 3).rem_euclid(7)) * 86400, // weeks start on Monday
        "MONTH" => {
            let (y, m, _) = nimbus_core::time::civil_from_days(day);
            nimbus_core::time::days_from_civil(y, m, 1) * 86400
        }
        _ => day * 86400,
    }
}
