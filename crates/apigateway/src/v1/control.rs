//! The apigateway (v1) management API for REST APIs: `/restapis/...`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method as HttpMethod;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::model::*;
use super::patch;
use crate::v2::control::{bad_request, json_response, not_found, query_map};
use crate::{ids, ApiGateway};

pub fn now_epoch() -> i64 {
    nimbus_core::time::now_epoch_seconds()
}

fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

pub fn accepted() -> Result<AwsResponse, AwsError> {
    Ok(http::Response::builder().status(202).body(Bytes::new()).unwrap_or_default())
}

pub fn body_object(request: &AwsRequest) -> Result<Map<String, Value>, AwsError> {
    if request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request("Invalid request body")),
    }
}

pub fn str_field(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn map_field<T: serde::de::DeserializeOwned>(
    body: &Map<String, Value>,
    key: &str,
) -> Result<BTreeMap<String, T>, AwsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| bad_request(format!("Invalid {key}"))),
    }
}

/// `{"item": [...]}`: how apigateway v1 lists collections.
pub fn items<T: Serialize>(list: Vec<T>) -> Result<AwsResponse, AwsError> {
    json_response(200, &json!({ "item": list }))
}

/// Re-read a resource after applying `patchOperations` to its JSON form.
pub fn patched<T: Serialize + serde::de::DeserializeOwned>(
    current: &T,
    request: &AwsRequest,
    allowed: &[&str],
) -> Result<T, AwsError> {
    let body = body_object(request)?;
    let operations = body.get("patchOperations").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut value = serde_json::to_value(current).map_err(|e| AwsError::internal(e.to_string()))?;
    let map = value.as_object_mut().ok_or_else(|| AwsError::internal("not an object"))?;
    patch::apply(map, &operations, allowed)?;
    serde_json::from_value(value).map_err(|e| bad_request(format!("Invalid patch value: {e}")))
}

fn arn(gw: &ApiGateway, path: &str) -> String {
    format!("arn:aws:apigateway:{}::{path}", gw.context.region)
}

fn invalid_api(gw: &ApiGateway, id: &str) -> AwsError {
    not_found(format!("Invalid API identifier specified {}:{id}", gw.context.account_id))
}

fn invalid_resource(id: &str) -> AwsError {
    not_found(format!("Invalid Resource identifier specified {id}"))
}

fn invalid_method() -> AwsError {
    not_found("Invalid Method identifier specified")
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

pub async fn handle(gw: &ApiGateway, request: AwsRequest) -> Result<AwsResponse, AwsError> {
    let path = request.uri.path().to_owned();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    let action = format!("apigateway:{method}");
    request.authorize(&action, &arn(gw, &path))?;
    match (method, segs.as_slice()) {
        (HttpMethod::POST, ["restapis"]) => create_rest_api(gw, &request).await,
        (HttpMethod::GET, ["restapis"]) => items(gw.rest_apis.list().iter().map(|r| r.api.clone()).collect()),
        (HttpMethod::GET, ["restapis", id]) => {
            json_response(200, &gw.rest_apis.get(id).ok_or_else(|| invalid_api(gw, id))?.api)
        }
        (HttpMethod::PATCH, ["restapis", id]) => {
            let (record, ()) = gw
                .rest_apis
                .update(
                    id,
                    || invalid_api(gw, id),
                    |r| {
                        r.api = patched(
                            &r.api,
                            &request,
                            &["name", "description", "binaryMediaTypes", "disableExecuteApiEndpoint", "apiKeySource"],
                        )?;
                        Ok(())
                    },
                )
                .await?;
            json_response(200, &record.api)
        }
        (HttpMethod::DELETE, ["restapis", id]) => {
            gw.rest_apis.remove(id).await?.ok_or_else(|| invalid_api(gw, id))?;
            accepted()
        }
        (m, ["restapis", id, "resources", rest @ ..]) => resources(gw, &request, m, id, rest).await,
        (m, ["restapis", id, "deployments", rest @ ..]) => deployments(gw, &request, m, id, rest).await,
        (m, ["restapis", id, "stages", rest @ ..]) => stages(gw, &request, m, id, rest).await,
        (m, ["restapis", id, "authorizers", rest @ ..]) => authorizers(gw, &request, m, id, rest).await,
        (m, ["apikeys", rest @ ..]) => super::keys::api_keys(gw, &request, m, rest).await,
        (m, ["usageplans", rest @ ..]) => super::keys::usage_plans(gw, &request, m, rest).await,
        _ => Err(not_found("Unknown resource path")),
    }
}

async fn create_rest_api(gw: &ApiGateway, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    let body = body_object(request)?;
    let name = str_field(&body, "name").unwrap_or_default();
    if name.is_empty() {
        return Err(bad_request("Invalid REST API name specified"));
    }
    let api_key_source = str_field(&body, "apiKeySource").unwrap_or_else(|| "HEADER".into());
    if api_key_source != "HEADER" && api_key_source != "AUTHORIZER" {
        return Err(bad_request(format!("Invalid apiKeySource specified: {api_key_source}")));
    }
    let types = body
        .get("endpointConfiguration")
        .and_then(|c| c.get("types"))
        .and_then(|t| serde_json::from_value::<Vec<String>>(t.clone()).ok())
        .unwrap_or_else(|| vec!["EDGE".into()]);
    let root = Resource {
        id: ids::child_id(),
        parent_id: None,
        path_part: None,
        path: "/".into(),
        resource_methods: BTreeMap::new(),
    };
    let api = RestApi {
        id: ids::api_id(),
        name,
        description: str_field(&body, "description"),
        created_date: now_epoch(),
        version: str_field(&body, "version"),
        binary_media_types: body
            .get("binaryMediaTypes")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        api_key_source,
        endpoint_configuration: EndpointConfiguration { types },
        disable_execute_api_endpoint: body.get("disableExecuteApiEndpoint").and_then(Value::as_bool).unwrap_or(false),
        root_resource_id: root.id.clone(),
        tags: map_field(&body, "tags")?,
    };
    let mut live = Definition::default();
    live.resources.insert(root.id.clone(), root);
    let record =
        RestApiRecord { api, live, deployments: BTreeMap::new(), snapshots: BTreeMap::new(), stages: BTreeMap::new() };
    let record = gw.rest_apis.insert(record).await?;
    json_response(201, &record.api)
}

async fn resources(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let get_record = || gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id));
    match (method, rest) {
        (HttpMethod::GET, []) => items(get_record()?.live.resources.values().cloned().collect()),
        (HttpMethod::GET, [rid]) => {
            let record = get_record()?;
            json_response(200, record.live.resources.get(*rid).ok_or_else(|| invalid_resource(rid))?)
        }
        (HttpMethod::POST, [parent]) => {
            let body = body_object(request)?;
            let part = str_field(&body, "pathPart").unwrap_or_default();
            valid_path_part(&part)?;
            let (_, resource) =
                gw.rest_apis
                    .update(
                        api_id,
                        || invalid_api(gw, api_id),
                        |r| {
                            let parent_path =
                                r.live.resources.get(*parent).ok_or_else(|| invalid_resource(parent))?.path.clone();
                            if r.live.resources.values().any(|x| {
                                x.parent_id.as_deref() == Some(*parent) && x.path_part.as_deref() == Some(&part)
                            }) {
                                return Err(conflict(format!(
                                    "Another resource with the same parent already has this name: {part}"
                                )));
                            }
                            let path =
                                if parent_path == "/" { format!("/{part}") } else { format!("{parent_path}/{part}") };
                            let resource = Resource {
                                id: ids::child_id(),
                                parent_id: Some((*parent).to_owned()),
                                path_part: Some(part.clone()),
                                path,
                                resource_methods: BTreeMap::new(),
                            };
                            r.live.resources.insert(resource.id.clone(), resource.clone());
                            Ok(resource)
                        },
                    )
                    .await?;
            json_response(201, &resource)
        }
        (HttpMethod::DELETE, [rid]) => {
            gw.rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        if r.api.root_resource_id == *rid {
                            return Err(bad_request("Cannot delete root resource"));
                        }
                        let path = r.live.resources.get(*rid).ok_or_else(|| invalid_resource(rid))?.path.clone();
                        let prefix = format!("{path}/");
                        r.live.resources.retain(|_, x| x.path != path && !x.path.starts_with(&prefix));
                        Ok(())
                    },
                )
                .await?;
            accepted()
        }
        (m, [rid, "methods", http_method, rest @ ..]) => methods(gw, request, m, api_id, rid, http_method, rest).await,
        _ => Err(not_found("Unknown resource path")),
    }
}

fn valid_path_part(part: &str) -> Result<(), AwsError> {
    let ok = !part.is_empty()
        && !part.contains('/')
        && match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                !name.is_empty()
                    && name.trim_end_matches('+').chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }
            None => part.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:@!$&'()*,;=".contains(c)),
        };
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace. Got: {part}"
        )))
    }
}

#[allow(clippy::too_many_arguments)]
async fn methods(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    api_id: &str,
    rid: &str,
    http_method: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let http_method = http_method.to_ascii_uppercase();
    if !METHODS.contains(&http_method.as_str()) {
        return Err(bad_request(format!("Invalid HttpMethod specified. Valid options are {}", METHODS.join(","))));
    }
    let body = body_object(request)?;
    let read = || -> Result<Method, AwsError> {
        let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
        let resource = record.live.resources.get(rid).ok_or_else(|| invalid_resource(rid))?;
        resource.resource_methods.get(&http_method).cloned().ok_or_else(invalid_method)
    };
    let edit = |f| edit_method(gw, api_id, rid, &http_method, f);
    match (method, rest) {
        (HttpMethod::PUT, []) => {
            let authorization_type = str_field(&body, "authorizationType").unwrap_or_else(|| "NONE".into());
            if !["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"].contains(&authorization_type.as_str()) {
                return Err(bad_request(format!("Invalid authorization type specified: {authorization_type}")));
            }
            let authorizer_id = str_field(&body, "authorizerId");
            if authorization_type == "CUSTOM" {
                let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
                if authorizer_id.as_ref().is_none_or(|id| !record.live.authorizers.contains_key(id)) {
                    return Err(bad_request("Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer."));
                }
            }
            let new = Method {
                http_method: http_method.clone(),
                authorization_type,
                authorizer_id,
                api_key_required: body.get("apiKeyRequired").and_then(Value::as_bool).unwrap_or(false),
                operation_name: str_field(&body, "operationName"),
                request_parameters: map_field(&body, "requestParameters")?,
                method_responses: BTreeMap::new(),
                method_integration: None,
            };
            let value = edit(Box::new(|slot| {
                *slot = Some(new.clone());
                Ok(to_json(&new))
            }))
            .await?;
            json_response(201, &value)
        }
        (HttpMethod::GET, []) => json_response(200, &read()?),
        (HttpMethod::DELETE, []) => {
            edit(Box::new(|slot| slot.take().map(|_| Value::Null).ok_or_else(invalid_method))).await?;
            accepted()
        }
        (HttpMethod::PUT, ["integration"]) => {
            let kind = str_field(&body, "type").unwrap_or_default();
            if !["AWS_PROXY", "MOCK", "HTTP_PROXY", "HTTP", "AWS"].contains(&kind.as_str()) {
                return Err(bad_request(format!("Invalid integration type specified: {kind}")));
            }
            let uri = str_field(&body, "uri");
            if kind != "MOCK" && uri.is_none() {
                return Err(bad_request("Enumeration value for Integration uri must be non-empty"));
            }
            let integration_method = str_field(&body, "httpMethod");
            if matches!(kind.as_str(), "AWS_PROXY" | "AWS" | "HTTP" | "HTTP_PROXY") && integration_method.is_none() {
                return Err(bad_request("Enumeration value for HttpMethod must be non-empty"));
            }
            let timeout = body.get("timeoutInMillis").and_then(Value::as_i64).unwrap_or(29000);
            if !(50..=29000).contains(&timeout) {
                return Err(bad_request("Timeout should be between 50 ms and 29000 ms"));
            }
            let integration = Integration {
                kind,
                http_method: integration_method,
                uri,
                connection_type: "INTERNET".into(),
                request_parameters: map_field(&body, "requestParameters")?,
                request_templates: map_field(&body, "requestTemplates")?,
                passthrough_behavior: str_field(&body, "passthroughBehavior").unwrap_or_else(|| "WHEN_NO_MATCH".into()),
                timeout_in_millis: timeout,
                cache_namespace: rid.to_owned(),
                cache_key_parameters: vec![],
                integration_responses: BTreeMap::new(),
            };
            let value = edit(Box::new(|slot| {
                let m = slot.as_mut().ok_or_else(invalid_method)?;
                m.method_integration = Some(integration.clone());
                Ok(to_json(&integration))
            }))
            .await?;
            json_response(201, &value)
        }
        (HttpMethod::GET, ["integration"]) => json_response(
            200,
            &read()?.method_integration.ok_or_else(|| not_found("No integration defined for method"))?,
        ),
        (HttpMethod::DELETE, ["integration"]) => {
            edit(Box::new(|slot| {
                let m = slot.as_mut().ok_or_else(invalid_method)?;
                m.method_integration
                    .take()
                    .map(|_| Value::Null)
                    .ok_or_else(|| not_found("No integration defined for method"))
            }))
            .await?;
            accepted()
        }
        (HttpMethod::PUT, ["responses", code]) => {
            let response = MethodResponse {
                status_code: (*code).to_owned(),
                response_parameters: map_field(&body, "responseParameters")?,
                response_models: map_field(&body, "responseModels")?,
            };
            let value = edit(Box::new(|slot| {
                let m = slot.as_mut().ok_or_else(invalid_method)?;
                m.method_responses.insert((*code).to_owned(), response.clone());
                Ok(to_json(&response))
            }))
            .await?;
            json_response(201, &value)
        }
        (HttpMethod::GET, ["responses", code]) => json_response(
            200,
            read()?.method_responses.get(*code).ok_or_else(|| not_found("Invalid Response status code specified"))?,
        ),
        (HttpMethod::DELETE, ["responses", code]) => {
            edit(Box::new(|slot| {
                let m = slot.as_mut().ok_or_else(invalid_method)?;
                m.method_responses
                    .remove(*code)
                    .map(|_| Value::Null)
                    .ok_or_else(|| not_found("Invalid Response status code specified"))
            }))
            .await?;
            accepted()
        }
        (HttpMethod::PUT, ["integration", "responses", code]) => {
            let response = IntegrationResponse {
                status_code: (*code).to_owned(),
                selection_pattern: str_field(&body, "selectionPattern"),
                response_parameters: map_field(&body, "responseParameters")?,
                response_templates: map_field(&body, "responseTemplates")?,
            };
            let value = edit(Box::new(|slot| {
                let m = slot.as_mut().ok_or_else(invalid_method)?;
                let integration =
                    m.method_integration.as_mut().ok_or_else(|| not_found("No integration defined for method"))?;
                integration.integration_responses.insert((*code).to_owned(), response.clone());
                Ok(to_json(&response))
            }))
            .await?;
            json_response(201, &value)
        }
        (HttpMethod::GET, ["integration", "responses", code]) => {
            let integration =
                read()?.method_integration.ok_or_else(|| not_found("No integration defined for method"))?;
            json_response(
                200,
                integration
                    .integration_responses
                    .get(*code)
                    .ok_or_else(|| not_found("Invalid Response status code specified"))?,
            )
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

type MethodEdit<'a> = Box<dyn FnOnce(&mut Option<Method>) -> Result<Value, AwsError> + Send + 'a>;

/// Edit the `http_method` method of resource `rid`: `f` sees the method
/// (or `None`) and may replace or remove it.
async fn edit_method(
    gw: &ApiGateway,
    api_id: &str,
    rid: &str,
    http_method: &str,
    f: MethodEdit<'_>,
) -> Result<Value, AwsError> {
    let (_, value) = gw
        .rest_apis
        .update(
            api_id,
            || invalid_api(gw, api_id),
            |r| {
                let resource = r.live.resources.get_mut(rid).ok_or_else(|| invalid_resource(rid))?;
                let mut slot = resource.resource_methods.remove(http_method);
                let result = f(&mut slot);
                if let Some(m) = slot {
                    resource.resource_methods.insert(http_method.to_owned(), m);
                }
                result
            },
        )
        .await?;
    Ok(value)
}

async fn deployments(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let missing = |id: &str| not_found(format!("Invalid Deployment identifier specified {id}"));
    match (method, rest) {
        (HttpMethod::POST, []) => {
            let body = body_object(request)?;
            let stage_name = str_field(&body, "stageName");
            let variables: BTreeMap<String, String> = map_field(&body, "variables")?;
            let description = str_field(&body, "description");
            let stage_description = str_field(&body, "stageDescription");
            let (_, deployment) = gw
                .rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        if !r.live.resources.values().any(|res| !res.resource_methods.is_empty()) {
                            return Err(bad_request("The REST API doesn't contain any methods"));
                        }
                        let deployment = Deployment {
                            id: ids::child_id(),
                            description: description.clone(),
                            created_date: now_epoch(),
                        };
                        r.snapshots.insert(deployment.id.clone(), r.live.clone());
                        r.deployments.insert(deployment.id.clone(), deployment.clone());
                        if let Some(name) = &stage_name {
                            let now = now_epoch();
                            let stage =
                                r.stages.entry(name.clone()).or_insert_with(|| new_stage(name, &deployment.id, now));
                            stage.deployment_id = deployment.id.clone();
                            stage.last_updated_date = now;
                            stage.variables.extend(variables.clone());
                            if stage_description.is_some() {
                                stage.description = stage_description.clone();
                            }
                        }
                        Ok(deployment)
                    },
                )
                .await?;
            json_response(201, &deployment)
        }
        (HttpMethod::GET, []) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            items(record.deployments.values().cloned().collect())
        }
        (HttpMethod::GET, [id]) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            json_response(200, record.deployments.get(*id).ok_or_else(|| missing(id))?)
        }
        (HttpMethod::DELETE, [id]) => {
            gw.rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        if r.stages.values().any(|s| s.deployment_id == *id) {
                            return Err(bad_request(
                                "Active stages pointing to this deployment must be moved or deleted",
                            ));
                        }
                        r.deployments.remove(*id).ok_or_else(|| missing(id))?;
                        r.snapshots.remove(*id);
                        Ok(())
                    },
                )
                .await?;
            accepted()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

fn new_stage(name: &str, deployment_id: &str, now: i64) -> Stage {
    Stage {
        deployment_id: deployment_id.to_owned(),
        stage_name: name.to_owned(),
        description: None,
        cache_cluster_enabled: false,
        cache_cluster_status: "NOT_AVAILABLE".into(),
        method_settings: BTreeMap::new(),
        variables: BTreeMap::new(),
        access_log_settings: None,
        tracing_enabled: false,
        tags: BTreeMap::new(),
        created_date: now,
        last_updated_date: now,
    }
}

async fn stages(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let missing = |name: &str| not_found(format!("Invalid Stage identifier specified {name}"));
    match (method, rest) {
        (HttpMethod::POST, []) => {
            let body = body_object(request)?;
            let name = str_field(&body, "stageName").unwrap_or_default();
            let deployment_id = str_field(&body, "deploymentId").unwrap_or_default();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(bad_request("Stage name only allows a-zA-Z0-9_"));
            }
            let (_, stage) = gw
                .rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        if !r.deployments.contains_key(&deployment_id) {
                            return Err(bad_request(format!(
                                "Invalid deployment identifier specified {deployment_id}"
                            )));
                        }
                        if r.stages.contains_key(&name) {
                            return Err(conflict("Stage already exists"));
                        }
                        let mut stage = new_stage(&name, &deployment_id, now_epoch());
                        stage.description = str_field(&body, "description");
                        stage.variables = map_field(&body, "variables")?;
                        stage.tags = map_field(&body, "tags")?;
                        stage.tracing_enabled = body.get("tracingEnabled").and_then(Value::as_bool).unwrap_or(false);
                        r.stages.insert(name.clone(), stage.clone());
                        Ok(stage)
                    },
                )
                .await?;
            json_response(201, &stage)
        }
        (HttpMethod::GET, []) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            items(record.stages.values().cloned().collect())
        }
        (HttpMethod::GET, [name]) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            json_response(200, record.stages.get(*name).ok_or_else(|| missing(name))?)
        }
        (HttpMethod::PATCH, [name]) => {
            let (_, stage) = gw
                .rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        let current = r.stages.get(*name).ok_or_else(|| missing(name))?.clone();
                        let stage = patch_stage(&current, request)?;
                        if !r.deployments.contains_key(&stage.deployment_id) {
                            return Err(bad_request(format!(
                                "Invalid deployment identifier specified {}",
                                stage.deployment_id
                            )));
                        }
                        r.stages.insert((*name).to_owned(), stage.clone());
                        Ok(stage)
                    },
                )
                .await?;
            json_response(200, &stage)
        }
        (HttpMethod::DELETE, [name]) => {
            gw.rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| r.stages.remove(*name).map(|_| ()).ok_or_else(|| missing(name)),
                )
                .await?;
            accepted()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

/// Stage patches: plain members and variables go through the generic patch;
/// `/{resourcePath}/{method}/{setting}` paths (e.g. `/*/*/throttling/rateLimit`)
/// edit `methodSettings`.
fn patch_stage(current: &Stage, request: &AwsRequest) -> Result<Stage, AwsError> {
    let body = body_object(request)?;
    let operations = body.get("patchOperations").and_then(Value::as_array).cloned().unwrap_or_default();
    let (settings_ops, plain_ops): (Vec<Value>, Vec<Value>) = operations.into_iter().partition(|op| {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        path.trim_start_matches('/').split('/').count() >= 3
            && !path.starts_with("/variables/")
            && !path.starts_with("/accessLogSettings/")
    });
    let mut value = serde_json::to_value(current).map_err(|e| AwsError::internal(e.to_string()))?;
    let map = value.as_object_mut().ok_or_else(|| AwsError::internal("not an object"))?;
    patch::apply(
        map,
        &plain_ops,
        &["description", "deploymentId", "variables", "tracingEnabled", "cacheClusterEnabled", "accessLogSettings"],
    )?;
    let mut stage: Stage =
        serde_json::from_value(value).map_err(|e| bad_request(format!("Invalid patch value: {e}")))?;
    for op in settings_ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let value = op.get("value").and_then(Value::as_str).unwrap_or("");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // The last one or two parts name the setting; the rest is resource/method.
        let (key, setting) = match parts.as_slice() {
            [resource, method, group, name] => {
                (format!("{}/{}", resource.replace("~1", "/"), method), format!("{group}/{name}"))
            }
            [resource, method, name] => (format!("{}/{}", resource.replace("~1", "/"), method), (*name).to_owned()),
            _ => return Err(bad_request(format!("Invalid patch path {path}"))),
        };
        let entry = stage.method_settings.entry(key).or_insert_with(MethodSetting::account_default);
        let number = || value.parse::<f64>().map_err(|_| bad_request(format!("Invalid value for {path}: {value}")));
        match setting.as_str() {
            "throttling/rateLimit" => entry.throttling_rate_limit = number()?,
            "throttling/burstLimit" => entry.throttling_burst_limit = number()? as i64,
            "metrics/enabled" => entry.metrics_enabled = value == "true",
            "logging/loglevel" => entry.logging_level = Some(value.to_owned()),
            "logging/dataTrace" => entry.data_trace_enabled = value == "true",
            "caching/enabled" => entry.caching_enabled = value == "true",
            "caching/ttlInSeconds" => entry.cache_ttl_in_seconds = number()? as i64,
            other => return Err(bad_request(format!("Invalid method setting path: {other}"))),
        }
    }
    stage.last_updated_date = now_epoch();
    Ok(stage)
}

async fn authorizers(
    gw: &ApiGateway,
    request: &AwsRequest,
    method: HttpMethod,
    api_id: &str,
    rest: &[&str],
) -> Result<AwsResponse, AwsError> {
    let missing = |id: &str| not_found(format!("Invalid Authorizer identifier specified {id}"));
    match (method, rest) {
        (HttpMethod::POST, []) => {
            let body = body_object(request)?;
            let kind = str_field(&body, "type").unwrap_or_default();
            if kind != "TOKEN" && kind != "REQUEST" {
                return Err(bad_request(format!(
                    "Invalid authorizer type specified: {kind}; Nimbus supports TOKEN and REQUEST"
                )));
            }
            let name = str_field(&body, "name").unwrap_or_default();
            if name.is_empty() {
                return Err(bad_request("Authorizer name must be non-empty"));
            }
            let uri =
                str_field(&body, "authorizerUri").ok_or_else(|| bad_request("Authorizer URI must be non-empty"))?;
            let identity_source = str_field(&body, "identitySource");
            if kind == "TOKEN" && identity_source.is_none() {
                return Err(bad_request("Identity source must be non-empty for TOKEN authorizers"));
            }
            let ttl = body.get("authorizerResultTtlInSeconds").and_then(Value::as_i64).unwrap_or(300);
            if !(0..=3600).contains(&ttl) {
                return Err(bad_request("Authorizer TTL must be between 0 and 3600 seconds"));
            }
            let authorizer = Authorizer {
                id: ids::child_id(),
                name,
                kind,
                auth_type: str_field(&body, "authType"),
                authorizer_uri: Some(uri),
                identity_source,
                identity_validation_expression: str_field(&body, "identityValidationExpression"),
                authorizer_result_ttl_in_seconds: ttl,
            };
            let (_, created) = gw
                .rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| {
                        r.live.authorizers.insert(authorizer.id.clone(), authorizer.clone());
                        Ok(authorizer.clone())
                    },
                )
                .await?;
            json_response(201, &created)
        }
        (HttpMethod::GET, []) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            items(record.live.authorizers.values().cloned().collect())
        }
        (HttpMethod::GET, [id]) => {
            let record = gw.rest_apis.get(api_id).ok_or_else(|| invalid_api(gw, api_id))?;
            json_response(200, record.live.authorizers.get(*id).ok_or_else(|| missing(id))?)
        }
        (HttpMethod::DELETE, [id]) => {
            gw.rest_apis
                .update(
                    api_id,
                    || invalid_api(gw, api_id),
                    |r| r.live.authorizers.remove(*id).map(|_| ()).ok_or_else(|| missing(id)),
                )
                .await?;
            accepted()
        }
        _ => Err(not_found("Unknown resource path")),
    }
}

/// Whether `includeValue(s)=true` was asked for.
pub fn wants(request: &AwsRequest, flag: &str) -> bool {
    query_map(request).get(flag).is_some_and(|v| v == "true")
}
