//! The apigatewayv2 management API: `/v2/apis/...` (restJson).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, StatusCode};
use nimbus_core::time::now_epoch_millis;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::model::{Api, ApiRecord, Authorizer, Definition, Deployment, Integration, Route, Stage};
use crate::dataplane::routes::parse_route_key;
use crate::{ids, ApiGateway};

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NotFoundException", message)
}

pub fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "BadRequestException", message)
}

fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

/// ISO 8601 to the second, as API Gateway returns dates.
pub fn now_iso() -> String {
    let text = nimbus_core::time::format_iso8601_millis(now_epoch_millis() as i64);
    format!("{}Z", &text[..19])
}

pub fn json_response(status: u16, value: &impl Serialize) -> Result<AwsResponse, AwsError> {
    let body = serde_json::to_vec(value).map_err(|e| AwsError::internal(e.to_string()))?;
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body))
        .map_err(|e| AwsError::internal(e.to_string()))
}

fn no_content() -> Result<AwsResponse, AwsError> {
    Ok(http::Response::builder().status(StatusCode::NO_CONTENT).body(Bytes::new()).unwrap_or_default())
}

fn body_object(request: &AwsRequest) -> Result<Map<String, Value>, AwsError> {
    if request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request("Invalid request body")),
    }
}

/// Overlay `patch`'s members on `current`'s JSON form and read it back, so
/// create (from defaults) and update (from the current state) share one path.
fn merged<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: &Map<String, Value>,
    allowed: &[&str],
) -> Result<T, AwsError> {
    let mut value = serde_json::to_value(current).map_err(|e| AwsError::internal(e.to_string()))?;
    if let Value::Object(map) = &mut value {
        for (key, v) in patch {
            if allowed.contains(&key.as_str()) {
                map.insert(key.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(value).map_err(|e| bad_request(format!("Invalid request body: {e}")))
}

fn api_arn(gw: &ApiGateway, api_id: &str) -> String {
    format!("arn:aws:apigateway:{}::/apis/{api_id}", gw.context.region)
}

fn invalid_api(gw: &ApiGateway, api_id: &str) -> AwsError {
    not_found(format!("Invalid API identifier specified {}:{api_id}", gw.context.account_id))
}

pub async fn handle(gw: &ApiGateway, request: AwsRequest) -> Result<AwsResponse, AwsError> {
    let path = request.uri.path().to_owned();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    match (method, segs.as_slice()) {
        (Method::POST, ["v2", "apis"]) => create_api(gw, &request).await,
        (Method::GET, ["v2", "apis"]) => get_apis(gw, &request),
        (Method::GET, ["v2", "apis", id]) => {
            request.authorize("apigateway:GET", &api_arn(gw, id))?;
            let record = gw.registry.get(id).ok_or_else(|| invalid_api(gw, id))?;
            json_response(200, &record.api)
        }
        (Method::PATCH, ["v2", "apis", id]) => update_api(gw, &request, id).await,
        (Method::DELETE, ["v2", "apis", id]) => {
            request.authorize("apigateway:DELETE", &api_arn(gw, id))?;
            gw.registry.remove(id).await?.ok_or_else(|| invalid_api(gw, id))?;
            no_content()
        }
        (m, ["v2", "apis", id, "routes", rest @ ..]) => child::<Route>(gw, &request, m, id, rest).await,
        (m, ["v2", "apis", id, "integrations", rest @ ..]) => child::<Integration>(gw, &request, m, id, rest).await,
        (m, ["v2", "apis", id, "authorizers", rest @ ..]) => child::<Authorizer>(gw, &request, m, id, rest).await,
        (m, ["v2", "apis", id, "stages", rest @ ..]) => stages(gw, &request, m, id, rest).await,
        (m, ["v2", "apis", id, "deployments", rest @ ..]) => deployments(gw, &request, m, id, rest).await,
        (m, ["v2", "tags", ..]) => tags(gw, &request, m, &path).await,
        _ => Err(not_found("Unknown resource path")),
    }
}

async fn create_api(gw: &ApiGateway, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("apigateway:POST", &format!("arn:aws:apigateway:{}::/apis", gw.context.region))?;
    let body = body_object(request)?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        return Err(bad_request("Name is required"));
    }
    let protocol = body.get("protocolType").and_then(Value::as_str).unwrap_or_default();
    if protocol != "HTTP" {
        return Err(bad_request(format!(
            "Invalid protocol type specified: '{protocol}'. Nimbus serves HTTP APIs; WebSocket APIs are not supported"
        )));
    }
    let api_id = ids::api_id();
    let now = now_iso();
    let defaults = Api {
        api_endpoint: format!("http://{api_id}.execute-api.localhost:{}", gw.port),
        api_id: api_id.clone(),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        cors_configuration: None,
        created_date: now.clone(),
        description: None,
        disable_execute_api_endpoint: false,
        name: name.to_owned(),
        protocol_type: "HTTP".into(),
        route_selection_expression: "${request.method} ${request.path}".into(),
        tags: BTreeMap::new(),
        version: None,
    };
    let api: Api = merged(
        &defaults,
        &body,
        &[
            "corsConfiguration",
            "description",
            "disableExecuteApiEndpoint",
            "tags",
            "version",
            "apiKeySelectionExpression",
        ],
    )?;
    let mut record = ApiRecord {
        api,
        live: Definition::default(),
        stages: BTreeMap::new(),
        deployments: BTreeMap::new(),
        snapshots: BTreeMap::new(),
    };
    // Quick create: an integration, a route and an auto-deployed $default stage.
    if let Some(target) = body.get("target").and_then(Value::as_str) {
        // A URL target proxies HTTP; anything else names a Lambda function.
        let http = target.starts_with("http://") || target.starts_with("https://");
        let integration = Integration {
            connection_type: "INTERNET".into(),
            description: None,
            integration_id: ids::child_id(),
            integration_method: Some(if http { "ANY" } else { "POST" }.into()),
            integration_type: if http { "HTTP_PROXY" } else { "AWS_PROXY" }.into(),
            integration_uri: Some(target.to_owned()),
            payload_format_version: Some(if http { "1.0" } else { "2.0" }.into()),
            timeout_in_millis: 30000,
        };
        let route_key = body.get("routeKey").and_then(Value::as_str).unwrap_or("$default").to_owned();
        validate_route_key(&route_key)?;
        let route = Route {
            api_key_required: false,
            authorization_scopes: vec![],
            authorization_type: "NONE".into(),
            authorizer_id: None,
            operation_name: None,
            route_id: ids::child_id(),
            route_key,
            target: Some(format!("integrations/{}", integration.integration_id)),
        };
        record.live.routes.insert(route.route_id.clone(), route);
        record.live.integrations.insert(integration.integration_id.clone(), integration);
        let stage = new_stage("$default", true, &now, true);
        record.stages.insert(stage.stage_name.clone(), stage);
        auto_deploy(&mut record);
    }
    let record = gw.registry.insert(record).await?;
    json_response(201, &record.api)
}

fn get_apis(gw: &ApiGateway, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    request.authorize("apigateway:GET", &format!("arn:aws:apigateway:{}::/apis", gw.context.region))?;
    let items: Vec<Api> = gw.registry.list().iter().map(|r| r.api.clone()).collect();
    paginate(request, items)
}

/// `maxResults` / `nextToken` paging over a list; the token is an offset.
fn paginate<T: Serialize>(request: &AwsRequest, items: Vec<T>) -> Result<AwsResponse, AwsError> {
    let query = query_map(request);
    let start: usize = match query.get("nextToken") {
        Some(token) => token.parse().map_err(|_| bad_request("Invalid nextToken"))?,
        None => 0,
    };
    let max: usize = match query.get("maxResults") {
        Some(n) => n.parse().map_err(|_| bad_request("Invalid maxResults"))?,
        None => 500,
    };
    let end = (start + max.max(1)).min(items.len());
    let page: Vec<&T> = items.iter().skip(start).take(end.saturating_sub(start)).collect();
    let mut out = json!({ "items": page });
    if end < items.len() {
        out["nextToken"] = Value::String(end.to_string());
    }
    json_response(200, &out)
}

pub fn query_map(request: &AwsRequest) -> BTreeMap<String, String> {
    crate::dataplane::events::query_pairs(request.uri.query().unwrap_or("")).into_iter().collect()
}

async fn update_api(gw: &ApiGateway, request: &AwsRequest, id: &str) -> Result<AwsResponse, AwsError> {
    request.authorize("apigateway:PATCH", &api_arn(gw, id))?;
    let body = body_object(request)?;
    let (record, ()) = gw
        .registry
        .update(
            id,
            || invalid_api(gw, id),
            |record| {
                record.api = merged(
                    &record.api,
                    &body,
                    &[
                        "name",
                        "corsConfiguration",
                        "description",
                        "disableExecuteApiEndpoint",
                        "version",
                        "apiKeySelectionExpression",
                    ],
                )?;
                auto_deploy(record);
                Ok(())
            },
        )
        .await?;
    json_response(200, &record.api)
}

fn validate_route_key(key: &str) -> Result<(), AwsError> {
    if key == "$default" || parse_route_key(key).is_some() {
        Ok(())
    } else {
        Err(bad_request(format!("Invalid route key: {key}")))
    }
}

/// A child resource of an API's live definition (route, integration, authorizer).
trait Child: Serialize + DeserializeOwned + Clone {
    const KIND: &'static str;
    const ALLOWED: &'static [&'static str];
    fn collection(definition: &mut Definition) -> &mut BTreeMap<String, Self>;
    fn defaults(id: String) -> Self;
    fn validate(&self, definition: &Definition) -> Result<(), AwsError>;
}

impl Child for Route {
    const KIND: &'static str = "Route";
    const ALLOWED: &'static [&'static str] = &[
        "apiKeyRequired",
        "authorizationScopes",
        "authorizationType",
        "authorizerId",
        "operationName",
        "routeKey",
        "target",
    ];
    fn collection(definition: &mut Definition) -> &mut BTreeMap<String, Self> {
        &mut definition.routes
    }
    fn defaults(id: String) -> Self {
        Route {
            api_key_required: false,
            authorization_scopes: vec![],
            authorization_type: "NONE".into(),
            authorizer_id: None,
            operation_name: None,
            route_id: id,
            route_key: String::new(),
            target: None,
        }
    }
    fn validate(&self, definition: &Definition) -> Result<(), AwsError> {
        validate_route_key(&self.route_key)?;
        if definition.routes.values().any(|r| r.route_key == self.route_key && r.route_id != self.route_id) {
            return Err(conflict(format!("Route with key {} already exists for this API", self.route_key)));
        }
        if let Some(target) = &self.target {
            let id =
                target.strip_prefix("integrations/").ok_or_else(|| bad_request(format!("Invalid target: {target}")))?;
            if !definition.integrations.contains_key(id) {
                return Err(bad_request(format!("Invalid integration identifier specified in target {target}")));
            }
        }
        match self.authorization_type.as_str() {
            "NONE" | "AWS_IAM" => Ok(()),
            "JWT" | "CUSTOM" => match &self.authorizer_id {
                Some(id) if definition.authorizers.contains_key(id) => Ok(()),
                _ => Err(bad_request("Invalid authorizer identifier specified")),
            },
            other => Err(bad_request(format!("Invalid authorization type specified: {other}"))),
        }
    }
}

impl Child for Integration {
    const KIND: &'static str = "Integration";
    const ALLOWED: &'static [&'static str] = &[
        "description",
        "integrationMethod",
        "integrationType",
        "integrationUri",
        "payloadFormatVersion",
        "timeoutInMillis",
    ];
    fn collection(definition: &mut Definition) -> &mut BTreeMap<String, Self> {
        &mut definition.integrations
    }
    fn defaults(id: String) -> Self {
        Integration {
            connection_type: "INTERNET".into(),
            description: None,
            integration_id: id,
            integration_method: None,
            integration_type: String::new(),
            integration_uri: None,
            payload_format_version: None,
            timeout_in_millis: 30000,
        }
    }
    fn validate(&self, _definition: &Definition) -> Result<(), AwsError> {
        match self.integration_type.as_str() {
            "AWS_PROXY" => {
                if self.integration_uri.is_none() {
                    return Err(bad_request("IntegrationUri is required for AWS_PROXY integrations"));
                }
                match self.payload_format_version.as_deref() {
                    Some("1.0") | Some("2.0") => {}
                    _ => return Err(bad_request("PayloadFormatVersion must be 1.0 or 2.0 for AWS_PROXY integrations")),
                }
            }
            "HTTP_PROXY" => {
                if self.integration_uri.as_deref().is_none_or(|u| !u.starts_with("http")) {
                    return Err(bad_request("IntegrationUri must be an http(s) URL for HTTP_PROXY integrations"));
                }
            }
            other => return Err(bad_request(format!("Invalid integration type specified: {other}"))),
        }
        if !(50..=30000).contains(&self.timeout_in_millis) {
            return Err(bad_request("TimeoutInMillis must be between 50 and 30000"));
        }
        Ok(())
    }
}

impl Child for Authorizer {
    const KIND: &'static str = "Authorizer";
    const ALLOWED: &'static [&'static str] = &[
        "authorizerPayloadFormatVersion",
        "authorizerResultTtlInSeconds",
        "authorizerType",
        "authorizerUri",
        "enableSimpleResponses",
        "identitySource",
        "jwtConfiguration",
        "name",
    ];
    fn collection(definition: &mut Definition) -> &mut BTreeMap<String, Self> {
        &mut definition.authorizers
    }
    fn defaults(id: String) -> Self {
        Authorizer {
            authorizer_payload_format_version: None,
            authorizer_id: id,
            authorizer_result_ttl_in_seconds: None,
            authorizer_type: String::new(),
            authorizer_uri: None,
            enable_simple_responses: None,
            identity_source: vec![],
            jwt_configuration: None,
            name: String::new(),
        }
    }
    fn validate(&self, _definition: &Definition) -> Result<(), AwsError> {
        if self.name.is_empty() {
            return Err(bad_request("Name is required"));
        }
        match self.authorizer_type.as_str() {
            "JWT" => match &self.jwt_configuration {
                Some(jwt) if jwt.issuer.is_some() => Ok(()),
                _ => Err(bad_request("JwtConfiguration with an Issuer is required for JWT authorizers")),
            },
            "REQUEST" => {
                if self.authorizer_uri.is_none() {
                    return Err(bad_request("AuthorizerUri is required for REQUEST authorizers"));
                }
                Ok(())
            }
            other => Err(bad_request(format!("Invalid authorizer type specified: {other}"))),
        }
    }
}

async fn child<T: Child>(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: Method,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let arn = api_arn(gw, api_id);
    let missing = |id: &str| not_found(format!("Invalid {} identifier specified {id}", T::KIND));
    match (method, rest) {
        (Method::POST, []) => {
            request.authorize("apigateway:POST", &arn)?;
            let body = body_object(request)?;
            let (_, created) = gw
                .registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        let item: T = merged(&T::defaults(ids::child_id()), &body, T::ALLOWED)?;
                        item.validate(&record.live)?;
                        let id = serde_json::to_value(&item).ok().and_then(|v| id_of::<T>(&v)).unwrap_or_default();
                        T::collection(&mut record.live).insert(id, item.clone());
                        auto_deploy(record);
                        Ok(item)
                    },
                )
                .await?;
            json_response(201, &created)
        }
        (Method::GET, []) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            let mut definition = record.live.clone();
            let items: Vec<T> = T::collection(&mut definition).values().cloned().collect();
            paginate(request, items)
        }
        (Method::GET, [id]) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            let mut definition = record.live.clone();
            let item = T::collection(&mut definition).get(*id).cloned().ok_or_else(|| missing(id))?;
            json_response(200, &item)
        }
        (Method::PATCH, [id]) => {
            request.authorize("apigateway:PATCH", &arn)?;
            let body = body_object(request)?;
            let (_, updated) = gw
                .registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        let current = T::collection(&mut record.live).get(*id).cloned().ok_or_else(|| missing(id))?;
                        let item: T = merged(&current, &body, T::ALLOWED)?;
                        item.validate(&record.live)?;
                        T::collection(&mut record.live).insert((*id).to_owned(), item.clone());
                        auto_deploy(record);
                        Ok(item)
                    },
                )
                .await?;
            json_response(200, &updated)
        }
        (Method::DELETE, [id]) => {
            request.authorize("apigateway:DELETE", &arn)?;
            gw.registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        T::collection(&mut record.live).remove(*id).ok_or_else(|| missing(id))?;
                        auto_deploy(record);
                        Ok(())
                    },
                )
                .await?;
            no_content()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

/// The id member of a child's JSON form (`routeId`, `integrationId`, `authorizerId`).
fn id_of<T: Child>(value: &Value) -> Option<String> {
    let key = match T::KIND {
        "Route" => "routeId",
        "Integration" => "integrationId",
        _ => "authorizerId",
    };
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn new_stage(name: &str, auto_deploy: bool, now: &str, managed: bool) -> Stage {
    Stage {
        access_log_settings: None,
        api_gateway_managed: managed.then_some(true),
        auto_deploy,
        created_date: now.to_owned(),
        default_route_settings: Default::default(),
        deployment_id: None,
        description: None,
        last_updated_date: now.to_owned(),
        route_settings: BTreeMap::new(),
        stage_name: name.to_owned(),
        stage_variables: BTreeMap::new(),
        tags: BTreeMap::new(),
    }
}

/// Stages with AutoDeploy get a fresh deployment of every change.
fn auto_deploy(record: &mut ApiRecord) {
    let auto: Vec<String> = record.stages.values().filter(|s| s.auto_deploy).map(|s| s.stage_name.clone()).collect();
    if auto.is_empty() {
        return;
    }
    let deployment = Deployment {
        auto_deployed: true,
        created_date: now_iso(),
        deployment_id: ids::child_id(),
        deployment_status: "DEPLOYED".into(),
        description: Some("Automatic deployment triggered by changes to the Api configuration".into()),
    };
    for name in auto {
        if let Some(stage) = record.stages.get_mut(&name) {
            stage.deployment_id = Some(deployment.deployment_id.clone());
            stage.last_updated_date = deployment.created_date.clone();
        }
    }
    record.deployments.insert(deployment.deployment_id.clone(), deployment);
}

const STAGE_FIELDS: &[&str] = &[
    "accessLogSettings",
    "autoDeploy",
    "defaultRouteSettings",
    "deploymentId",
    "description",
    "routeSettings",
    "stageVariables",
    "tags",
];

async fn stages(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: Method,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let arn = api_arn(gw, api_id);
    let missing = |name: &str| not_found(format!("Invalid stage identifier specified {name}"));
    match (method, rest) {
        (Method::POST, []) => {
            request.authorize("apigateway:POST", &arn)?;
            let body = body_object(request)?;
            let name = body.get("stageName").and_then(Value::as_str).unwrap_or_default().to_owned();
            if name.is_empty() {
                return Err(bad_request("StageName is required"));
            }
            let (_, stage) = gw
                .registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        if record.stages.contains_key(&name) {
                            return Err(conflict(format!("Stage {name} already exists")));
                        }
                        let stage: Stage = merged(&new_stage(&name, false, &now_iso(), false), &body, STAGE_FIELDS)?;
                        check_deployment(record, &stage)?;
                        record.stages.insert(name.clone(), stage);
                        if record.stages[&name].auto_deploy {
                            auto_deploy(record);
                        }
                        Ok(record.stages[&name].clone())
                    },
                )
                .await?;
            json_response(201, &stage)
        }
        (Method::GET, []) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            paginate(request, record.stages.values().cloned().collect())
        }
        (Method::GET, [name]) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            json_response(200, record.stages.get(*name).ok_or_else(|| missing(name))?)
        }
        (Method::PATCH, [name]) => {
            request.authorize("apigateway:PATCH", &arn)?;
            let body = body_object(request)?;
            let (_, stage) = gw
                .registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        let current = record.stages.get(*name).ok_or_else(|| missing(name))?;
                        let mut stage: Stage = merged(current, &body, STAGE_FIELDS)?;
                        stage.last_updated_date = now_iso();
                        check_deployment(record, &stage)?;
                        record.stages.insert((*name).to_owned(), stage);
                        Ok(record.stages[*name].clone())
                    },
                )
                .await?;
            json_response(200, &stage)
        }
        (Method::DELETE, [name]) => {
            request.authorize("apigateway:DELETE", &arn)?;
            gw.registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| record.stages.remove(*name).map(|_| ()).ok_or_else(|| missing(name)),
                )
                .await?;
            no_content()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

fn check_deployment(record: &ApiRecord, stage: &Stage) -> Result<(), AwsError> {
    match &stage.deployment_id {
        Some(id) if !record.deployments.contains_key(id) => {
            Err(bad_request(format!("Invalid deployment identifier specified {id}")))
        }
        _ => Ok(()),
    }
}

async fn deployments(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: Method,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let arn = api_arn(gw, api_id);
    let missing = |id: &str| not_found(format!("Invalid Deployment identifier specified {id}"));
    match (method, rest) {
        (Method::POST, []) => {
            request.authorize("apigateway:POST", &arn)?;
            let body = body_object(request)?;
            let stage_name = body.get("stageName").and_then(Value::as_str).map(str::to_owned);
            let description = body.get("description").and_then(Value::as_str).map(str::to_owned);
            let (_, deployment) = gw
                .registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        if let Some(name) = &stage_name {
                            match record.stages.get(name) {
                                None => return Err(bad_request(format!("Invalid stage identifier specified {name}"))),
                                Some(stage) if stage.auto_deploy => {
                                    return Err(bad_request(format!(
                                        "Stage {name} has AutoDeploy enabled and cannot be deployed manually"
                                    )))
                                }
                                Some(_) => {}
                            }
                        }
                        let deployment = Deployment {
                            auto_deployed: false,
                            created_date: now_iso(),
                            deployment_id: ids::child_id(),
                            deployment_status: "DEPLOYED".into(),
                            description,
                        };
                        record.snapshots.insert(deployment.deployment_id.clone(), record.live.clone());
                        if let Some(stage) = stage_name.as_ref().and_then(|n| record.stages.get_mut(n)) {
                            stage.deployment_id = Some(deployment.deployment_id.clone());
                            stage.last_updated_date = deployment.created_date.clone();
                        }
                        record.deployments.insert(deployment.deployment_id.clone(), deployment.clone());
                        Ok(deployment)
                    },
                )
                .await?;
            json_response(201, &deployment)
        }
        (Method::GET, []) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            paginate(request, record.deployments.values().cloned().collect())
        }
        (Method::GET, [id]) => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            json_response(200, record.deployments.get(*id).ok_or_else(|| missing(id))?)
        }
        (Method::DELETE, [id]) => {
            request.authorize("apigateway:DELETE", &arn)?;
            gw.registry
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |record| {
                        record.deployments.remove(*id).ok_or_else(|| missing(id))?;
                        record.snapshots.remove(*id);
                        Ok(())
                    },
                )
                .await?;
            no_content()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

/// `/v2/tags/{resource-arn}`: tags of APIs (the resource this service tags).
async fn tags(gw: &ApiGateway, request: &AwsRequest, method: Method, path: &str) -> Result<AwsResponse, AwsError> {
    let arn =
        percent_encoding::percent_decode_str(path.trim_start_matches("/v2/tags/")).decode_utf8_lossy().into_owned();
    let api_id = arn
        .rsplit_once("/apis/")
        .map(|(_, id)| id.to_owned())
        .ok_or_else(|| not_found(format!("Invalid resource {arn}")))?;
    match method {
        Method::GET => {
            request.authorize("apigateway:GET", &arn)?;
            let record = gw.registry.get(&api_id).ok_or_else(|| invalid_api(gw, &api_id))?;
            json_response(200, &json!({ "tags": record.api.tags }))
        }
        Method::POST => {
            request.authorize("apigateway:POST", &arn)?;
            let body = body_object(request)?;
            let new: BTreeMap<String, String> = body
                .get("tags")
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
                .unwrap_or_default();
            gw.registry
                .update(
                    &api_id,
                    || invalid_api(gw, &api_id),
                    |record| {
                        record.api.tags.extend(new);
                        Ok(())
                    },
                )
                .await?;
            json_response(201, &json!({}))
        }
        Method::DELETE => {
            request.authorize("apigateway:DELETE", &arn)?;
            let keys: Vec<String> = request
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .filter_map(|p| p.strip_prefix("tagKeys="))
                .map(|k| percent_encoding::percent_decode_str(k).decode_utf8_lossy().into_owned())
                .collect();
            gw.registry
                .update(
                    &api_id,
                    || invalid_api(gw, &api_id),
                    |record| {
                        for key in &keys {
                            record.api.tags.remove(key);
                        }
                        Ok(())
                    },
                )
                .await?;
            no_content()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}
