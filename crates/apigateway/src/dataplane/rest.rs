//! The data plane of REST APIs: `/{stage}/{path}` only (no `$default`),
//! resource-tree routes, API keys and usage plans, Lambda authorizers, and
//! AWS_PROXY, HTTP_PROXY and MOCK integrations.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Response};
use nimbus_core::time::now_epoch_millis;
use nimbus_core::{AwsRequest, AwsResponse};
use serde_json::{json, Value};

use super::authorizers::{self, Decision};
use super::metrics::Scope;
use super::{events, message, response, throttle, Target, Trace, HOST_SUFFIX, PATH_PREFIX};
use crate::v1::keys::period_start;
use crate::v1::model::{Authorizer, Integration, MethodSetting, RestApiRecord};
use crate::ApiGateway;

/// What a stage applies to methods it sets nothing for.
static ACCOUNT_DEFAULT: LazyLock<MethodSetting> = LazyLock::new(MethodSetting::account_default);

/// REST APIs say "Internal server error" (HTTP APIs capitalise it).
fn internal_error() -> AwsResponse {
    message(500, "Internal server error")
}

fn bad_gateway() -> AwsResponse {
    message(502, "Internal server error")
}

impl ApiGateway {
    pub(crate) async fn serve_rest<'a>(
        &self,
        request: &AwsRequest,
        record: &'a RestApiRecord,
        target: &Target,
        trace: &mut Trace<'a>,
    ) -> AwsResponse {
        if record.api.disable_execute_api_endpoint {
            return message(403, "Forbidden");
        }
        let trimmed = target.path.trim_start_matches('/');
        let (stage_name, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let Some(stage) = record.stages.get(stage_name) else { return message(403, "Forbidden") };
        trace.scope = Some(Scope::Rest {
            api_name: &record.api.name,
            api_id: &record.api.id,
            stage: &stage.stage_name,
            detailed_method: None,
        });
        trace.access_log = stage.access_log_settings.as_ref().and_then(|s| {
            Some((s.destination_arn.as_deref()?, s.format.as_deref().unwrap_or(super::DEFAULT_ACCESS_LOG)))
        });
        let Some(definition) = record.snapshots.get(&stage.deployment_id) else { return message(403, "Forbidden") };
        let route_path = format!("/{rest}");
        let method_name = request.method.as_str();
        let Some(matched) = definition.table.find(method_name, &route_path) else {
            return message(403, "Missing Authentication Token");
        };
        let Some((resource_id, http_method)) = matched.route_id.split_once(' ') else { return internal_error() };
        let Some(resource) = definition.resources.get(resource_id) else { return internal_error() };
        let Some(method) = resource.resource_methods.get(http_method) else { return internal_error() };

        // The method's own settings, else the stage-wide `*/*`.
        let settings = stage
            .method_settings
            .get(&format!("{}/{}", resource.path, http_method))
            .or_else(|| stage.method_settings.get("*/*"))
            .unwrap_or(&ACCOUNT_DEFAULT);
        if settings.metrics_enabled {
            if let Some(Scope::Rest { detailed_method, .. }) = &mut trace.scope {
                *detailed_method = Some((http_method, &resource.path));
            }
        }
        let bucket = format!("rest/{}/{}/{}/{}", record.api.id, stage.stage_name, resource.id, http_method);
        if !self.throttle.admit(&bucket, settings.throttling_rate_limit, settings.throttling_burst_limit as f64) {
            return message(429, "Too Many Requests");
        }
        if method.api_key_required {
            if let Some(refusal) = self.check_api_key(request, &record.api.id, &stage.stage_name) {
                return refusal;
            }
        }

        let epoch_millis = now_epoch_millis() as i64;
        let raw_path = match request.uri.path().strip_prefix(PATH_PREFIX) {
            Some(rest) => format!("/{}", rest.split_once('/').map_or("", |(_, p)| p)),
            None => request.uri.path().to_owned(),
        };
        let binary_types = &record.api.binary_media_types;
        let textual = !is_binary(binary_types, request.header("content-type"));
        let mut facts = events::RequestFacts {
            api_id: &record.api.id,
            account_id: &self.context.account_id,
            stage: &stage.stage_name,
            request_id: &request.request_id,
            method: method_name,
            raw_path: &raw_path,
            path: &route_path,
            raw_query: request.uri.query().unwrap_or(""),
            headers: &request.headers,
            body: &request.body,
            source_ip: request.source_ip.to_string(),
            domain_name: format!("{}{}", record.api.id, HOST_SUFFIX),
            route_key: resource_id,
            resource: &resource.path,
            path_parameters: &matched.path_parameters,
            stage_variables: &stage.variables,
            epoch_millis,
            authorizer: None,
        };

        if method.authorization_type == "AWS_IAM" {
            let arn = self.execute_api_arn(&record.api.id, &stage.stage_name, method_name, &route_path);
            if let Some(refusal) = super::iam_check(request, &arn) {
                return refusal;
            }
        }
        if method.authorization_type == "CUSTOM" {
            let Some(authorizer) = method.authorizer_id.as_ref().and_then(|id| definition.authorizers.get(id)) else {
                return internal_error();
            };
            let method_arn = self.execute_api_arn(&record.api.id, &stage.stage_name, method_name, &route_path);
            match self.rest_authorize(authorizer, &facts, &method_arn, textual).await {
                Decision::Allow(context) => facts.authorizer = Some(context),
                Decision::Unauthorized => return message(401, "Unauthorized"),
                Decision::ExplicitDeny => {
                    return message(403, "User is not authorized to access this resource with an explicit deny")
                }
                Decision::NotAllowed => return message(403, "User is not authorized to access this resource"),
                Decision::Failed => return internal_error(),
            }
        }

        let Some(integration) = &method.method_integration else { return internal_error() };
        let timeout = Duration::from_millis(integration.timeout_in_millis.clamp(50, 29_000) as u64);
        let integration_started = Instant::now();
        let response = match integration.kind.as_str() {
            "AWS_PROXY" => {
                let query = events::query_values(facts.raw_query);
                let event = serde_json::to_vec(&events::v1(&facts, &query, false, textual));
                let Ok(event) = event else { return internal_error() };
                // The client's first Accept type decides whether a base64 body goes out as binary.
                let first_accept = request.header("accept").and_then(|a| a.split(',').next());
                self.rest_lambda(integration, event, timeout, is_binary(binary_types, first_accept)).await
            }
            "MOCK" => mock(integration),
            "HTTP_PROXY" => {
                let uri = integration.uri.as_deref().unwrap_or_default();
                match self.http_proxy.forward(uri, request, &matched, timeout).await {
                    Ok(response) => response,
                    Err(super::http_proxy::ProxyError::Timeout) => message(504, "Endpoint request timed out"),
                    Err(super::http_proxy::ProxyError::Failed(_)) => internal_error(),
                }
            }
            _ => internal_error(),
        };
        trace.integration_latency = Some(integration_started.elapsed());
        response
    }

    async fn rest_lambda(
        &self,
        integration: &Integration,
        event: Vec<u8>,
        timeout: Duration,
        // Whether a base64 body (`isBase64Encoded`) is decoded to binary or sent as the text it is.
        binary: bool,
    ) -> AwsResponse {
        let Some(invoker) = self.invoker.get() else { return internal_error() };
        let invoke = super::lambda::invoke(invoker, integration.uri.as_deref().unwrap_or_default(), Bytes::from(event));
        let outcome = match tokio::time::timeout(timeout, invoke).await {
            Err(_) => return message(504, "Endpoint request timed out"),
            Ok(Err(err)) if err.status.as_u16() == 429 => return message(429, "Too Many Requests"),
            Ok(Err(_)) => return internal_error(),
            Ok(Ok(outcome)) => outcome,
        };
        if outcome.function_error.is_some() {
            return bad_gateway();
        }
        response::v1(&outcome.payload, binary).unwrap_or_else(|_| bad_gateway())
    }

    async fn rest_authorize(
        &self,
        authorizer: &Authorizer,
        facts: &events::RequestFacts<'_>,
        method_arn: &str,
        textual: bool,
    ) -> Decision {
        let sources: Vec<&str> = authorizer
            .identity_source
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let mut identity = Vec::new();
        for source in &sources {
            match authorizers::identity_value(source, facts) {
                Some(value) => identity.push(value),
                None => return Decision::Unauthorized,
            }
        }
        let identity_key = identity.join("\u{0}");
        let cacheable = !identity.is_empty();
        if cacheable {
            if let Some(decision) = self.authorizer_cache.get(&authorizer.id, &identity_key) {
                return decision;
            }
        }
        let event = if authorizer.kind == "TOKEN" {
            json!({ "type": "TOKEN", "authorizationToken": identity.first().cloned().unwrap_or_default(), "methodArn": method_arn })
        } else {
            let query = events::query_values(facts.raw_query);
            let mut event = serde_json::to_value(events::v1(facts, &query, false, textual)).unwrap_or_default();
            event["type"] = json!("REQUEST");
            event["methodArn"] = json!(method_arn);
            event
        };
        let Some(invoker) = self.invoker.get() else { return Decision::Failed };
        let uri = authorizer.authorizer_uri.as_deref().unwrap_or_default();
        let decision = match authorizers::call(invoker, uri, event).await {
            Some(output) => authorizers::evaluate_policy(&output, method_arn),
            None => Decision::Failed,
        };
        if cacheable {
            self.authorizer_cache.put(
                &authorizer.id,
                &identity_key,
                authorizer.authorizer_result_ttl_in_seconds,
                &decision,
            );
        }
        decision
    }

    /// Enforce `x-api-key`: a known, enabled key in a usage plan for this
    /// stage, within the plan's throttle and quota. `None` lets it through.
    fn check_api_key(&self, request: &AwsRequest, api_id: &str, stage: &str) -> Option<AwsResponse> {
        let forbidden = || Some(message(403, "Forbidden"));
        let Some(value) = request.header("x-api-key") else { return forbidden() };
        let Some(key) = self.api_keys.list().into_iter().find(|k| k.value == value && k.enabled) else {
            return forbidden();
        };
        let plans = self.usage_plans.list();
        let Some(plan) = plans.iter().find(|p| {
            p.key_ids.contains(&key.id) && p.api_stages.iter().any(|s| s.api_id == api_id && s.stage == stage)
        }) else {
            return forbidden();
        };
        if let Some(throttle) = &plan.throttle {
            let rate = throttle.rate_limit.unwrap_or(throttle::ACCOUNT_RATE);
            let burst = throttle.burst_limit.map_or(throttle::ACCOUNT_BURST, |b| b as f64);
            if !self.throttle.admit(&format!("plan/{}/{}", plan.id, key.id), rate, burst) {
                return Some(message(429, "Too Many Requests"));
            }
        }
        if let Some(quota) = &plan.quota {
            let start = period_start(&quota.period, nimbus_core::time::now_epoch_seconds());
            let mut counters = self.quotas.lock().unwrap_or_else(|e| e.into_inner());
            let used = counters.entry((plan.id.clone(), key.id.clone(), start)).or_insert(0);
            if *used >= quota.limit {
                return Some(message(429, "Limit Exceeded"));
            }
            *used += 1;
        }
        None
    }
}

/// Whether `media_type` (parameters ignored) is one of the API's binary
/// media types, whose patterns may use `*` for the type or the subtype
/// (`image/*`, `*/*`).
fn is_binary(binary_media_types: &[String], media_type: Option<&str>) -> bool {
    let Some(media_type) = media_type else { return false };
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    let (kind, subtype) = media_type.split_once('/').unwrap_or((media_type, ""));
    binary_media_types.iter().any(|pattern| {
        let (p_kind, p_subtype) = pattern.split_once('/').unwrap_or((pattern, ""));
        let part = |p: &str, v: &str| p == "*" || p.eq_ignore_ascii_case(v);
        part(p_kind, kind) && part(p_subtype, subtype)
    })
}

/// MOCK: the request template's `statusCode` picks the integration
/// response; its `application/json` template is the body (verbatim; Nimbus
/// does not evaluate VTL) and its static `'…'` header mappings apply.
fn mock(integration: &Integration) -> AwsResponse {
    let requested = integration
        .request_templates
        .get("application/json")
        .and_then(|t| t.as_deref())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.get("statusCode").and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse().ok()))))
        .unwrap_or(200)
        .to_string();
    let responses = &integration.integration_responses;
    let chosen = responses
        .get(&requested)
        .or_else(|| responses.values().find(|r| r.selection_pattern.as_deref().is_none_or(str::is_empty)));
    let Some(chosen) = chosen else { return internal_error() };
    let status = chosen.status_code.parse::<u16>().unwrap_or(200);
    let body = chosen.response_templates.get("application/json").cloned().flatten().unwrap_or_default();
    let mut builder = Response::builder().status(status).header(http::header::CONTENT_TYPE, "application/json");
    for (target, source) in &chosen.response_parameters {
        let (Some(name), Some(value)) = (
            target.strip_prefix("method.response.header."),
            source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')),
        ) else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_str(value) {
            builder = builder.header(name, value);
        }
    }
    builder.body(Bytes::from(body)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_media_type_patterns() {
        let types = vec!["image/*".to_owned(), "application/octet-stream".to_owned()];
        assert!(is_binary(&types, Some("image/png")));
        assert!(is_binary(&types, Some("Application/Octet-Stream; charset=x")));
        assert!(!is_binary(&types, Some("text/plain")));
        assert!(!is_binary(&types, Some("*/*")), "a client's */* is not one of the API's types");
        assert!(!is_binary(&types, None));
        assert!(is_binary(&["*/*".to_owned()], Some("text/html")));
        assert!(!is_binary(&[], Some("image/png")));
    }
}
