//! API Gateway v1 (REST APIs): RestApi, Resource, Method, Deployment, Stage
//! through the restJson `/restapis` API. A RestApi with an OpenAPI `Body`
//! (what SAM makes) is created as CreateRestApi plus its resource tree,
//! methods and Lambda proxy integrations; a changed body rebuilds the tree
//! under the same API id.
//! Ref: RestApi → id (GetAtt RootResourceId); Resource → id; Deployment →
//! id; Stage → stage name.

use std::collections::BTreeMap;

use http::Method;
use serde_json::{json, Value};

use super::{invalid, optional_str, required_str, seg, tags_map, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;
use crate::template::intrinsics::to_text;

fn call(method: Method, path: String, body: Option<Value>) -> ApiCall {
    ApiCall::rest(method, path, body)
}

fn api_path(api_id: &str) -> String {
    format!("/restapis/{}", seg(api_id))
}

/// Create each path's resources and methods under the root.
async fn build_tree(ctx: &Ctx<'_>, api_id: &str, root_id: &str, body: &Value) -> Result<()> {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    ids.insert(String::new(), root_id.to_owned());
    for (path, methods) in body.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let mut parent = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let here = format!("{parent}/{part}");
            if !ids.contains_key(&here) {
                let parent_id = ids.get(&parent).cloned().unwrap_or_default();
                let created = ctx
                    .api
                    .call(
                        "apigateway",
                        call(
                            Method::POST,
                            format!("{}/resources/{}", api_path(api_id), seg(&parent_id)),
                            Some(json!({"pathPart": part})),
                        ),
                    )
                    .await?;
                let id = created
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("CreateResource returned no id"))?;
                ids.insert(here.clone(), id.to_owned());
            }
            parent = here;
        }
        let resource_id = ids.get(&parent).cloned().unwrap_or_default();
        for (method, op) in methods.as_object().into_iter().flatten() {
            let Some(integration) = op.get("x-amazon-apigateway-integration") else { continue };
            let verb =
                if method == "x-amazon-apigateway-any-method" { "ANY".to_owned() } else { method.to_ascii_uppercase() };
            let method_path = format!("{}/resources/{}/methods/{verb}", api_path(api_id), seg(&resource_id));
            ctx.api
                .call("apigateway", call(Method::PUT, method_path.clone(), Some(json!({"authorizationType": "NONE"}))))
                .await?;
            let request = json!({
                "type": integration.get("type").and_then(Value::as_str).unwrap_or("aws_proxy").to_ascii_uppercase(),
                // The API names integrationHttpMethod `httpMethod` on the wire.
                "httpMethod": integration.get("httpMethod").cloned().unwrap_or(json!("POST")),
                "uri": integration.get("uri").cloned().unwrap_or(Value::Null),
            });
            ctx.api.call("apigateway", call(Method::PUT, format!("{method_path}/integration"), Some(request))).await?;
        }
    }
    Ok(())
}

/// Remove every resource under the root (deleting a resource deletes its children).
async fn clear_tree(ctx: &Ctx<'_>, api_id: &str, root_id: &str) -> Result<()> {
    let listed = ctx
        .api
        .call("apigateway", call(Method::GET, format!("{}/resources?limit=500", api_path(api_id)), None))
        .await?;
    for item in listed.get("item").and_then(Value::as_array).into_iter().flatten() {
        if item.get("parentId").and_then(Value::as_str) == Some(root_id) {
            if let Some(id) = item.get("id").and_then(Value::as_str) {
                let path = format!("{}/resources/{}", api_path(api_id), seg(id));
                match ctx.api.call("apigateway", call(Method::DELETE, path, None)).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn rest_api_request(props: &Value) -> Value {
    let title = props.get("Body").and_then(|b| b.get("info")).and_then(|i| i.get("title")).and_then(to_text);
    let mut request = json!({"name": optional_str(props, "Name").or(title).unwrap_or_else(|| "api".into())});
    for (cfn, api) in [
        ("Description", "description"),
        ("BinaryMediaTypes", "binaryMediaTypes"),
        ("MinimumCompressionSize", "minimumCompressionSize"),
        ("ApiKeySourceType", "apiKeySource"),
        ("DisableExecuteApiEndpoint", "disableExecuteApiEndpoint"),
    ] {
        if let Some(v) = props.get(cfn) {
            request[api] = v.clone();
        }
    }
    if let Some(types) = props.get("EndpointConfiguration").and_then(|e| e.get("Types")) {
        request["endpointConfiguration"] = json!({"types": types});
    }
    if let Some(tags) = tags_map(props) {
        request["tags"] = tags;
    }
    request
}

pub async fn create_rest_api(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let response =
        ctx.api.call("apigateway", call(Method::POST, "/restapis".into(), Some(rest_api_request(props)))).await?;
    let id =
        response.get("id").and_then(Value::as_str).ok_or_else(|| invalid("CreateRestApi returned no id"))?.to_owned();
    let root = response.get("rootResourceId").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(body) = props.get("Body") {
        if let Err(e) = build_tree(ctx, &id, &root, body).await {
            let _ = ctx.api.call("apigateway", call(Method::DELETE, api_path(&id), None)).await;
            return Err(e);
        }
    }
    Ok(Provisioned::named(&id).with("RootResourceId", root).with("RestApiId", id.clone()))
}

/// Only the body changes in place (its tree is rebuilt); anything else replaces the API.
pub async fn update_rest_api(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let id = old.physical_id;
    let root = old.attributes.get("RootResourceId").and_then(Value::as_str).unwrap_or_default().to_owned();
    clear_tree(ctx, id, &root).await?;
    if let Some(body) = props.get("Body") {
        build_tree(ctx, id, &root, body).await?;
    }
    Ok(Provisioned::named(id).with("RootResourceId", root).with("RestApiId", id))
}

pub async fn delete_rest_api(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    ctx.api.call("apigateway", call(Method::DELETE, api_path(old.physical_id), None)).await.map(drop)
}

pub async fn create_resource(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "RestApiId")?;
    let parent = required_str(props, "ParentId")?;
    let body = json!({"pathPart": required_str(props, "PathPart")?});
    let response = ctx
        .api
        .call("apigateway", call(Method::POST, format!("{}/resources/{}", api_path(&api_id), seg(&parent)), Some(body)))
        .await?;
    let id = response.get("id").and_then(Value::as_str).unwrap_or_default();
    Ok(Provisioned::named(id).with("ResourceId", id))
}

pub async fn delete_resource(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("RestApiId").and_then(Value::as_str).unwrap_or_default();
    let path = format!("{}/resources/{}", api_path(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

fn method_path(props: &Value) -> Result<String> {
    let api_id = required_str(props, "RestApiId")?;
    let resource = required_str(props, "ResourceId")?;
    let verb = required_str(props, "HttpMethod")?.to_ascii_uppercase();
    Ok(format!("{}/resources/{}/methods/{verb}", api_path(&api_id), seg(&resource)))
}

/// CloudFormation's `Integration: {Type, Uri, IntegrationHttpMethod…}` in the API's camelCase.
fn integration_request(integration: &Value) -> Value {
    let mut out = json!({});
    for (k, v) in integration.as_object().into_iter().flatten() {
        if k == "IntegrationResponses" {
            continue;
        }
        let key = match k.as_str() {
            "IntegrationHttpMethod" => "httpMethod".to_owned(),
            other => super::apigateway_v2::camel(other),
        };
        out[key] = v.clone();
    }
    out
}

pub async fn create_method(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let path = method_path(props)?;
    let mut body =
        json!({"authorizationType": optional_str(props, "AuthorizationType").unwrap_or_else(|| "NONE".into())});
    for (cfn, api) in [
        ("AuthorizerId", "authorizerId"),
        ("ApiKeyRequired", "apiKeyRequired"),
        ("OperationName", "operationName"),
        ("RequestParameters", "requestParameters"),
    ] {
        if let Some(v) = props.get(cfn) {
            body[api] = v.clone();
        }
    }
    ctx.api.call("apigateway", call(Method::PUT, path.clone(), Some(body))).await?;
    if let Some(integration) = props.get("Integration") {
        ctx.api
            .call(
                "apigateway",
                call(Method::PUT, format!("{path}/integration"), Some(integration_request(integration))),
            )
            .await?;
    }
    Ok(Provisioned::named(format!("{}-{}", ctx.logical_id, required_str(props, "HttpMethod")?)))
}

pub async fn delete_method(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let path = method_path(old.properties)?;
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

pub async fn create_deployment(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "RestApiId")?;
    let mut body = json!({});
    for (cfn, api) in
        [("StageName", "stageName"), ("Description", "description"), ("StageDescription", "stageDescription")]
    {
        if let Some(v) = props.get(cfn) {
            body[api] = if cfn == "StageDescription" {
                json!(v.get("Description").cloned().unwrap_or(Value::Null))
            } else {
                v.clone()
            };
        }
    }
    let response = ctx
        .api
        .call("apigateway", call(Method::POST, format!("{}/deployments", api_path(&api_id)), Some(body)))
        .await?;
    let id = response.get("id").and_then(Value::as_str).unwrap_or_default();
    Ok(Provisioned::named(id).with("DeploymentId", id))
}

pub async fn delete_deployment(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("RestApiId").and_then(Value::as_str).unwrap_or_default();
    // A deployment made with StageName created that stage (SAM names it
    // "Stage") and owns it while the stage still points here; API Gateway
    // refuses to delete a deployment an active stage points to.
    if let Some(stage) = optional_str(old.properties, "StageName") {
        let stage_path = format!("{}/stages/{}", api_path(api_id), seg(&stage));
        if let Ok(found) = ctx.api.call("apigateway", call(Method::GET, stage_path.clone(), None)).await {
            if found.get("deploymentId").and_then(Value::as_str) == Some(old.physical_id) {
                ctx.api.call("apigateway", call(Method::DELETE, stage_path, None)).await?;
            }
        }
    }
    let path = format!("{}/deployments/{}", api_path(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

pub async fn create_stage(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "RestApiId")?;
    let name = required_str(props, "StageName")?;
    let mut body = json!({"stageName": name, "deploymentId": required_str(props, "DeploymentId")?});
    for (cfn, api) in [("Description", "description"), ("Variables", "variables"), ("TracingEnabled", "tracingEnabled")]
    {
        if let Some(v) = props.get(cfn) {
            body[api] = v.clone();
        }
    }
    if let Some(tags) = tags_map(props) {
        body["tags"] = tags;
    }
    ctx.api.call("apigateway", call(Method::POST, format!("{}/stages", api_path(&api_id)), Some(body))).await?;
    Ok(Provisioned::named(name))
}

/// Stage changes go as JSON-patch operations, as UpdateStage takes them.
pub async fn update_stage(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "RestApiId")?;
    let mut ops = Vec::new();
    if old.properties.get("DeploymentId") != props.get("DeploymentId") {
        ops.push(json!({"op": "replace", "path": "/deploymentId", "value": required_str(props, "DeploymentId")?}));
    }
    if old.properties.get("Description") != props.get("Description") {
        ops.push(json!({"op": "replace", "path": "/description", "value": optional_str(props, "Description").unwrap_or_default()}));
    }
    let vars = |p: &Value| p.get("Variables").and_then(Value::as_object).cloned().unwrap_or_default();
    let (before, after) = (vars(old.properties), vars(props));
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        ops.push(json!({"op": "remove", "path": format!("/variables/{k}")}));
    }
    for (k, v) in after.iter().filter(|(k, v)| before.get(*k) != Some(v)) {
        ops.push(json!({"op": "replace", "path": format!("/variables/{k}"), "value": to_text(v).unwrap_or_default()}));
    }
    if !ops.is_empty() {
        let path = format!("{}/stages/{}", api_path(&api_id), seg(old.physical_id));
        ctx.api.call("apigateway", call(Method::PATCH, path, Some(json!({"patchOperations": ops})))).await?;
    }
    Ok(Provisioned::named(old.physical_id))
}

pub async fn delete_stage(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("RestApiId").and_then(Value::as_str).unwrap_or_default();
    let path = format!("{}/stages/{}", api_path(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}
