//! The data plane: HTTP requests to deployed APIs.
//!
//! A request names its API by host (`{apiId}.execute-api.localhost`) or by
//! path (`/_aws/execute-api/{apiId}/…`), then its stage by the first path
//! segment (or the `$default` stage, which has no prefix). The route is
//! matched, throttled, answered for CORS, and integrated.

pub mod access_log;
pub mod authorizers;
pub mod events;
pub mod http_proxy;
pub mod jwt;
pub mod lambda;
pub mod metrics;
pub mod response;
pub mod rest;
pub mod routes;
pub mod throttle;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use nimbus_core::time::now_epoch_millis;
use nimbus_core::{AwsRequest, AwsResponse};

use crate::v2::model::{ApiRecord, Cors, Definition, Integration, Stage};
use crate::ApiGateway;

pub const PATH_PREFIX: &str = "/_aws/execute-api/";
pub const HOST_SUFFIX: &str = ".execute-api.localhost";
/// The access-log format used when a stage names a destination but no format.
const DEFAULT_ACCESS_LOG: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","path":"$context.path","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength"}"#;

/// Which API a data-plane request is for, and the path after its id.
pub struct Target {
    pub api_id: String,
    /// The path after the API id: `/{stage}/…` or `/…` for `$default`.
    pub path: String,
}

/// Recognise a data-plane request (by host or by path).
pub fn target(request: &AwsRequest) -> Option<Target> {
    let path = request.uri.path();
    if let Some(rest) = path.strip_prefix(PATH_PREFIX) {
        let (api_id, rest) = rest.split_once('/').unwrap_or((rest, ""));
        return Some(Target { api_id: api_id.to_owned(), path: format!("/{rest}") });
    }
    let host = request.header("host")?;
    let host = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let api_id = host.strip_suffix(HOST_SUFFIX)?;
    Some(Target { api_id: api_id.to_owned(), path: path.to_owned() })
}

/// A gateway-generated answer: `{"message": …}` with the given status.
pub(crate) fn message(status: u16, text: &str) -> AwsResponse {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(serde_json::json!({ "message": text }).to_string()))
        .unwrap_or_default()
}

fn not_found() -> AwsResponse {
    message(404, "Not Found")
}

/// Split `/{stage}/rest` into the stage to serve and the path to route.
fn resolve_stage<'a>(record: &'a ApiRecord, path: &str) -> Option<(&'a Stage, String)> {
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if !first.is_empty() && first != "$default" {
        if let Some(stage) = record.stages.get(first) {
            return Some((stage, format!("/{rest}")));
        }
    }
    record.stages.get("$default").map(|stage| (stage, path.to_owned()))
}

/// What serving one request learned, for its metrics and access-log line.
#[derive(Default)]
pub(crate) struct Trace<'a> {
    /// Known once the API and stage are: whom the metrics are reported for.
    pub scope: Option<metrics::Scope<'a>>,
    /// The stage's access-log destination ARN and format, if it logs.
    pub access_log: Option<(&'a str, &'a str)>,
    pub integration_latency: Option<Duration>,
}

impl ApiGateway {
    pub(crate) async fn serve_data_plane(&self, request: AwsRequest, target: Target) -> AwsResponse {
        let started = Instant::now();
        let http_api = self.registry.get(&target.api_id);
        let rest_api = if http_api.is_none() { self.rest_apis.get(&target.api_id) } else { None };
        let mut trace = Trace::default();
        let response = match (&http_api, &rest_api) {
            (Some(record), _) => self.serve_http(&request, record, &target, &mut trace).await,
            (None, Some(record)) => self.serve_rest(&request, record, &target, &mut trace).await,
            (None, None) => return not_found(),
        };
        self.observe(&request, &response, started, &trace);
        response
    }

    /// Report the request's metrics and write its access-log line.
    fn observe(&self, request: &AwsRequest, response: &AwsResponse, started: Instant, trace: &Trace<'_>) {
        let Some(scope) = &trace.scope else { return };
        let latency = started.elapsed();
        if self.metrics.enabled() {
            let measured = metrics::Measurement {
                status: response.status(),
                latency,
                integration_latency: trace.integration_latency,
                bytes: request.body.len() + response.body().len(),
            };
            self.metrics.record(|recorder| metrics::record(recorder, scope, &measured));
        }
        if let Some((destination, format)) = trace.access_log {
            let (api_id, stage) = scope.api_and_stage();
            self.access_log(destination, format, request, api_id, stage, response, latency, trace.integration_latency);
        }
    }

    /// An HTTP API: stage, CORS preflight, route, integration.
    async fn serve_http<'a>(
        &self,
        request: &AwsRequest,
        record: &'a ApiRecord,
        target: &Target,
        trace: &mut Trace<'a>,
    ) -> AwsResponse {
        if record.api.disable_execute_api_endpoint {
            return message(403, "Forbidden");
        }
        let Some((stage, route_path)) = resolve_stage(record, &target.path) else { return not_found() };
        let Some(definition) = record.served_by(stage) else { return not_found() };
        trace.scope =
            Some(metrics::Scope::Http { api_id: &record.api.api_id, stage: &stage.stage_name, detailed_route: None });
        trace.access_log = stage
            .access_log_settings
            .as_ref()
            .and_then(|s| Some((s.destination_arn.as_deref()?, s.format.as_deref().unwrap_or(DEFAULT_ACCESS_LOG))));

        if let Some(cors) = &definition.cors {
            if let Some(preflight) = preflight(cors, request) {
                return preflight;
            }
        }
        let mut response = self.route_and_integrate(request, record, stage, definition, &route_path, trace).await;
        if let (Some(cors), Some(origin)) = (&definition.cors, request.header("origin")) {
            add_cors_headers(cors, origin, response.headers_mut());
        }
        if let Ok(id) = HeaderValue::from_str(&request.request_id) {
            response.headers_mut().insert("apigw-requestid", id);
        }
        response
    }

    async fn route_and_integrate<'a>(
        &self,
        request: &AwsRequest,
        record: &ApiRecord,
        stage: &'a Stage,
        definition: &'a Definition,
        route_path: &str,
        trace: &mut Trace<'a>,
    ) -> AwsResponse {
        let method = request.method.as_str();
        let Some(matched) = definition.table.find(method, route_path) else { return not_found() };
        let Some(route) = definition.routes.get(matched.route_id) else { return not_found() };

        let settings = stage.route_settings.get(&route.route_key).unwrap_or(&stage.default_route_settings);
        if settings.detailed_metrics_enabled == Some(true) {
            if let Some(metrics::Scope::Http { detailed_route, .. }) = &mut trace.scope {
                *detailed_route = Some(&route.route_key);
            }
        }
        let rate = settings.throttling_rate_limit.unwrap_or(throttle::ACCOUNT_RATE);
        let burst = settings.throttling_burst_limit.map_or(throttle::ACCOUNT_BURST, |b| b as f64);
        let bucket = format!("{}/{}/{}", record.api.api_id, stage.stage_name, route.route_key);
        if !self.throttle.admit(&bucket, rate, burst) {
            return message(429, "Too Many Requests");
        }

        let integration = route
            .target
            .as_deref()
            .and_then(|t| t.strip_prefix("integrations/"))
            .and_then(|id| definition.integrations.get(id));
        let Some(integration) = integration else { return not_found() };

        let epoch_millis = now_epoch_millis() as i64;
        let raw_path = request.uri.path();
        let raw_path = raw_path
            .strip_prefix(PATH_PREFIX)
            .map_or(raw_path.to_owned(), |rest| format!("/{}", rest.split_once('/').map_or("", |(_, p)| p)));
        let mut facts = events::RequestFacts {
            api_id: &record.api.api_id,
            account_id: &self.context.account_id,
            stage: &stage.stage_name,
            request_id: &request.request_id,
            method,
            raw_path: &raw_path,
            path: route_path,
            raw_query: request.uri.query().unwrap_or(""),
            headers: &request.headers,
            body: &request.body,
            source_ip: request.source_ip.to_string(),
            domain_name: format!("{}{}", record.api.api_id, HOST_SUFFIX),
            route_key: &route.route_key,
            resource: &matched.resource,
            path_parameters: &matched.path_parameters,
            stage_variables: &stage.stage_variables,
            epoch_millis,
            authorizer: None,
        };
        match route.authorization_type.as_str() {
            "AWS_IAM" => {
                let arn = self.execute_api_arn(&record.api.api_id, &stage.stage_name, method, route_path);
                if let Some(refusal) = iam_check(request, &arn) {
                    return refusal;
                }
            }
            "CUSTOM" => {
                let Some(authorizer) = route.authorizer_id.as_ref().and_then(|id| definition.authorizers.get(id))
                else {
                    return message(500, "Internal Server Error");
                };
                let route_arn = self.execute_api_arn(&record.api.api_id, &stage.stage_name, method, route_path);
                match self.http_api_authorize(authorizer, &facts, &route_arn).await {
                    authorizers::Decision::Allow(context) => facts.authorizer = Some(context),
                    authorizers::Decision::Unauthorized => return message(401, "Unauthorized"),
                    authorizers::Decision::Failed => return message(500, "Internal Server Error"),
                    _ => return message(403, "Forbidden"),
                }
            }
            "JWT" => {
                let Some(authorizer) = route.authorizer_id.as_ref().and_then(|id| definition.authorizers.get(id))
                else {
                    return message(500, "Internal Server Error");
                };
                let source = authorizer.identity_source.first().map_or("$request.header.Authorization", String::as_str);
                let header = source.strip_prefix("$request.header.").unwrap_or("Authorization").to_ascii_lowercase();
                let Some(token) = request.headers.get(header.as_str()).and_then(|v| v.to_str().ok()) else {
                    return message(401, "Unauthorized");
                };
                let config = authorizer.jwt_configuration.clone().unwrap_or_default();
                let now = nimbus_core::time::now_epoch_seconds();
                match self.jwt.authorize(&config, token, &route.authorization_scopes, now).await {
                    authorizers::Decision::Allow(context) => facts.authorizer = Some(context),
                    authorizers::Decision::NotAllowed => return message(403, "Forbidden"),
                    _ => return message(401, "Unauthorized"),
                }
            }
            _ => {}
        }
        match integration.integration_type.as_str() {
            "AWS_PROXY" => self.invoke_lambda(integration, &facts, &mut trace.integration_latency).await,
            "HTTP_PROXY" => {
                let uri = integration.integration_uri.as_deref().unwrap_or_default();
                let timeout = Duration::from_millis(integration.timeout_in_millis.max(50) as u64);
                let started = Instant::now();
                let result = self.http_proxy.forward(uri, request, &matched, timeout).await;
                trace.integration_latency = Some(started.elapsed());
                match result {
                    Ok(response) => response,
                    Err(http_proxy::ProxyError::Timeout) => message(504, "Service Unavailable"),
                    Err(http_proxy::ProxyError::Failed(reason)) => {
                        tracing::debug!(%reason, "HTTP_PROXY integration failed");
                        message(500, "Internal Server Error")
                    }
                }
            }
            _ => message(500, "Internal Server Error"),
        }
    }

    async fn invoke_lambda(
        &self,
        integration: &Integration,
        facts: &events::RequestFacts<'_>,
        integration_latency: &mut Option<Duration>,
    ) -> AwsResponse {
        let version_2 = integration.payload_format_version.as_deref() == Some("2.0");
        let query = events::query_values(facts.raw_query);
        let event = if version_2 {
            serde_json::to_vec(&events::v2(facts, &query))
        } else {
            let content_type = facts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            serde_json::to_vec(&events::v1(facts, &query, true, events::is_textual(content_type)))
        };
        let Ok(event) = event else { return message(500, "Internal Server Error") };
        let Some(invoker) = self.invoker.get() else {
            tracing::warn!("API Gateway has no Lambda invoker wired");
            return message(500, "Internal Server Error");
        };
        let uri = integration.integration_uri.as_deref().unwrap_or_default();
        let invoke = lambda::invoke(invoker, uri, Bytes::from(event));
        let started = Instant::now();
        let timeout = Duration::from_millis(integration.timeout_in_millis.max(50) as u64);
        let outcome = tokio::time::timeout(timeout, invoke).await;
        *integration_latency = Some(started.elapsed());
        let outcome = match outcome {
            Err(_) => return message(504, "Service Unavailable"),
            Ok(Err(err)) => {
                tracing::debug!(%err, "integration invoke failed");
                return if err.status.as_u16() == 429 {
                    message(429, "Too Many Requests")
                } else {
                    message(500, "Internal Server Error")
                };
            }
            Ok(Ok(outcome)) => outcome,
        };
        if outcome.function_error.is_some() {
            return message(502, "Internal Server Error");
        }
        let mapped = if version_2 { response::v2(&outcome.payload) } else { response::v1(&outcome.payload, true) };
        mapped.unwrap_or_else(|malformed| {
            tracing::debug!(reason = malformed.0, "malformed Lambda proxy response");
            message(502, "Internal Server Error")
        })
    }

    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}{path}`,
    /// the resource that authorizer policies and IAM name.
    pub(crate) fn execute_api_arn(&self, api_id: &str, stage: &str, method: &str, path: &str) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{api_id}/{stage}/{method}{path}",
            self.context.region, self.context.account_id
        )
    }

    /// An HTTP API Lambda REQUEST authorizer (payload 1.0 or 2.0, simple or
    /// policy responses), cached by its identity sources.
    async fn http_api_authorize(
        &self,
        authorizer: &crate::v2::model::Authorizer,
        facts: &events::RequestFacts<'_>,
        route_arn: &str,
    ) -> authorizers::Decision {
        let mut identity = Vec::new();
        for source in &authorizer.identity_source {
            match authorizers::identity_value(source, facts) {
                Some(v) => identity.push(v),
                None => return authorizers::Decision::Unauthorized,
            }
        }
        let identity_key = identity.join("\u{0}");
        let cacheable = !identity.is_empty();
        if cacheable {
            if let Some(decision) = self.authorizer_cache.get(&authorizer.authorizer_id, &identity_key) {
                return decision;
            }
        }
        let version_2 = authorizer.authorizer_payload_format_version.as_deref() != Some("1.0");
        let query = events::query_values(facts.raw_query);
        let event = if version_2 {
            let mut event = serde_json::to_value(events::v2(facts, &query)).unwrap_or_default();
            event["type"] = serde_json::json!("REQUEST");
            event["routeArn"] = serde_json::json!(route_arn);
            event["identitySource"] = serde_json::json!(identity);
            event
        } else {
            let mut event = serde_json::to_value(events::v1(facts, &query, true, true)).unwrap_or_default();
            event["type"] = serde_json::json!("REQUEST");
            event["methodArn"] = serde_json::json!(route_arn);
            event
        };
        let Some(invoker) = self.invoker.get() else { return authorizers::Decision::Failed };
        let uri = authorizer.authorizer_uri.as_deref().unwrap_or_default();
        let simple = version_2 && authorizer.enable_simple_responses == Some(true);
        let decision = match authorizers::call(invoker, uri, event).await {
            Some(output) => authorizers::http_api_decision(&output, simple, route_arn),
            None => authorizers::Decision::Failed,
        };
        if cacheable {
            let ttl = authorizer.authorizer_result_ttl_in_seconds.unwrap_or(0);
            self.authorizer_cache.put(&authorizer.authorizer_id, &identity_key, ttl, &decision);
        }
        decision
    }

    /// Write one access-log line in the background (never delays the response).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn access_log(
        &self,
        destination: &str,
        format: &str,
        request: &AwsRequest,
        api_id: &str,
        stage: &str,
        response: &AwsResponse,
        latency: Duration,
        integration_latency: Option<Duration>,
    ) {
        let (Some(sink), Some(group)) = (self.logs.get(), access_log::log_group(destination)) else { return };
        let now = now_epoch_millis() as i64;
        let vars = [
            ("requestId", request.request_id.clone()),
            ("extendedRequestId", request.request_id.clone()),
            ("apiId", api_id.to_owned()),
            ("stage", stage.to_owned()),
            ("httpMethod", request.method.to_string()),
            ("path", request.uri.path().to_owned()),
            ("protocol", "HTTP/1.1".to_owned()),
            ("status", response.status().as_u16().to_string()),
            ("responseLength", response.body().len().to_string()),
            ("requestTime", events::clf_time(now)),
            ("requestTimeEpoch", (now / 1000).to_string()),
            ("identity.sourceIp", request.source_ip.to_string()),
            ("identity.userAgent", request.header("user-agent").unwrap_or("-").to_owned()),
            ("responseLatency", latency.as_millis().to_string()),
            ("integrationLatency", integration_latency.map_or("-".to_owned(), |d| d.as_millis().to_string())),
            ("domainName", format!("{api_id}{HOST_SUFFIX}")),
        ];
        let line = access_log::render(format, &vars);
        let sink = sink.clone();
        let group = group.to_owned();
        let stream = format!("{api_id}_{stage}");
        tokio::spawn(async move {
            let event = nimbus_core::LogEvent { timestamp_ms: now, message: line };
            if let Err(err) = sink.put_log_events(&group, &stream, vec![event]).await {
                tracing::debug!(%err, "access log write failed");
            }
        });
    }
}

/// AWS_IAM routes: the request must be SigV4-signed for `execute-api` (the
/// edge verified it) by a principal allowed `execute-api:Invoke` on `arn`.
pub(crate) fn iam_check(request: &AwsRequest, arn: &str) -> Option<AwsResponse> {
    if request.principal.kind == nimbus_core::request::PrincipalKind::Anonymous {
        return Some(message(403, "Missing Authentication Token"));
    }
    match request.authorize("execute-api:Invoke", arn) {
        Ok(()) => None,
        Err(err) => Some(message(403, &err.message)),
    }
}

fn origin_allowed(cors: &Cors, origin: &str) -> Option<String> {
    if cors.allow_origins.iter().any(|o| o == "*") {
        return Some(if cors.allow_credentials == Some(true) { origin.to_owned() } else { "*".to_owned() });
    }
    cors.allow_origins.iter().any(|o| o.eq_ignore_ascii_case(origin)).then(|| origin.to_owned())
}

/// Answer a CORS preflight (OPTIONS with Origin and
/// Access-Control-Request-Method) from the API's configuration, without
/// invoking any integration.
fn preflight(cors: &Cors, request: &AwsRequest) -> Option<AwsResponse> {
    if request.method != Method::OPTIONS {
        return None;
    }
    let origin = request.header("origin")?;
    let requested_method = request.header("access-control-request-method")?;
    let mut builder = Response::builder().status(StatusCode::NO_CONTENT);
    let allowed_method = cors.allow_methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(requested_method));
    if let (Some(allowed_origin), true) = (origin_allowed(cors, origin), allowed_method) {
        builder = builder.header("access-control-allow-origin", allowed_origin);
        let methods = if cors.allow_methods.iter().any(|m| m == "*") {
            "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT".to_owned()
        } else {
            cors.allow_methods.join(",")
        };
        builder = builder.header("access-control-allow-methods", methods);
        if !cors.allow_headers.is_empty() {
            let headers = if cors.allow_headers.iter().any(|h| h == "*") {
                request.header("access-control-request-headers").unwrap_or("*").to_owned()
            } else {
                cors.allow_headers.join(",").to_ascii_lowercase()
            };
            builder = builder.header("access-control-allow-headers", headers);
        }
        if let Some(max_age) = cors.max_age {
            builder = builder.header("access-control-max-age", max_age.to_string());
        }
        if cors.allow_credentials == Some(true) {
            builder = builder.header("access-control-allow-credentials", "true");
        }
    }
    Some(builder.body(Bytes::new()).unwrap_or_default())
}

fn add_cors_headers(cors: &Cors, origin: &str, headers: &mut HeaderMap) {
    let Some(allowed) = origin_allowed(cors, origin) else { return };
    if let Ok(value) = HeaderValue::from_str(&allowed) {
        headers.insert("access-control-allow-origin", value);
    }
    if cors.allow_credentials == Some(true) {
        headers.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
    }
    if !cors.expose_headers.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&cors.expose_headers.join(",")) {
            headers.insert("access-control-expose-headers", value);
        }
    }
}
