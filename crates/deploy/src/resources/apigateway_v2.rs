//! API Gateway v2 (HTTP APIs): Api, Route, Integration, Stage through the
//! restJson `/v2/apis` API. An Api with an OpenAPI `Body` (what SAM makes)
//! is created as CreateApi plus one Integration and Route per operation,
//! which are then re-made when the body changes: the API keeps its id (and
//! URL) across redeploys.
//! Ref: Api → api id (GetAtt ApiEndpoint, ApiId); Stage → stage name;
//! Route → route id; Integration → integration id.

use http::Method;
use serde_json::{json, Map, Value};

use super::{invalid, optional_str, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

fn call(method: Method, path: String, body: Option<Value>) -> ApiCall {
    ApiCall::rest(method, path, body)
}

/// The Lambda function ARN inside an `arn:…:apigateway:…:lambda:path/2015-03-31/functions/{arn}/invocations` URI.
pub fn lambda_arn_of(uri: &str) -> String {
    match (uri.find("/functions/"), uri.rfind("/invocations")) {
        (Some(start), Some(end)) if start + 11 <= end => uri[start + 11..end].to_owned(),
        _ => uri.to_owned(),
    }
}

/// `AllowOrigins` → `allowOrigins`: the v2 API's JSON names are camelCase
/// where CloudFormation's are PascalCase.
pub fn camel(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// A structure's member names in camelCase, recursively (not for maps of user keys).
pub fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (camel(k), camel_keys(v))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

/// Copy CloudFormation properties into a request under their wire names:
/// structures get camelCase members, maps of user keys are kept as they are.
fn wire(props: &Value, structures: &[&str], maps: &[&str]) -> Value {
    let mut out = json!({});
    for key in structures {
        if let Some(v) = props.get(*key) {
            out[camel(key)] = camel_keys(v);
        }
    }
    for key in maps {
        if let Some(v) = props.get(*key) {
            out[camel(key)] = v.clone();
        }
    }
    out
}

/// Every (route key, integration) of an OpenAPI body.
fn operations(body: &Value) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (path, methods) in body.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, op) in methods.as_object().into_iter().flatten() {
            let Some(integration) = op.get("x-amazon-apigateway-integration") else { continue };
            let verb =
                if method == "x-amazon-apigateway-any-method" { "ANY".to_owned() } else { method.to_ascii_uppercase() };
            let key = if path == "$default" { "$default".to_owned() } else { format!("{verb} {path}") };
            out.push((key, integration.clone()));
        }
    }
    if out.is_empty() && body.get("paths").is_none() {
        return Err(invalid("the API's Body has no paths"));
    }
    Ok(out)
}

/// Make the integrations and routes of a body; returns their ids for later removal.
async fn build_routes(ctx: &Ctx<'_>, api_id: &str, body: &Value) -> Result<Value> {
    let mut made = Vec::new();
    for (route_key, integration) in operations(body)? {
        let mut request = json!({
            "integrationType": "AWS_PROXY",
            "integrationMethod": integration.get("httpMethod").cloned().unwrap_or(json!("POST")),
            "payloadFormatVersion": integration.get("payloadFormatVersion").cloned().unwrap_or(json!("2.0")),
        });
        if let Some(uri) = integration.get("uri").and_then(Value::as_str) {
            request["integrationUri"] = json!(lambda_arn_of(uri));
        }
        if let Some(t) = integration.get("timeoutInMillis") {
            request["timeoutInMillis"] = t.clone();
        }
        let created = ctx
            .api
            .call("apigateway", call(Method::POST, format!("/v2/apis/{}/integrations", seg(api_id)), Some(request)))
            .await?;
        let integration_id = created.get("integrationId").and_then(Value::as_str).unwrap_or_default().to_owned();
        let route = json!({"routeKey": route_key, "target": format!("integrations/{integration_id}")});
        let created = ctx
            .api
            .call("apigateway", call(Method::POST, format!("/v2/apis/{}/routes", seg(api_id)), Some(route)))
            .await?;
        let route_id = created.get("routeId").and_then(Value::as_str).unwrap_or_default().to_owned();
        made.push(json!({"RouteId": route_id, "IntegrationId": integration_id}));
    }
    Ok(Value::Array(made))
}

async fn remove_routes(ctx: &Ctx<'_>, api_id: &str, made: Option<&Value>) -> Result<()> {
    for m in made.and_then(Value::as_array).into_iter().flatten() {
        for (kind, key) in [("routes", "RouteId"), ("integrations", "IntegrationId")] {
            if let Some(id) = m.get(key).and_then(Value::as_str) {
                let path = format!("/v2/apis/{}/{kind}/{}", seg(api_id), seg(id));
                match ctx.api.call("apigateway", call(Method::DELETE, path, None)).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn api_request(props: &Value) -> Value {
    let body = props.get("Body");
    let name = optional_str(props, "Name")
        .or_else(|| {
            body.and_then(|b| b.get("info")).and_then(|i| i.get("title")).and_then(crate::template::intrinsics::to_text)
        })
        .unwrap_or_else(|| "api".to_owned());
    let mut request = wire(
        props,
        &[
            "Description",
            "DisableExecuteApiEndpoint",
            "RouteSelectionExpression",
            "Version",
            "ApiKeySelectionExpression",
            "CorsConfiguration",
        ],
        &[],
    );
    request["name"] = json!(name);
    request["protocolType"] = json!(optional_str(props, "ProtocolType").unwrap_or_else(|| "HTTP".into()));
    if props.get("CorsConfiguration").is_none() {
        // OpenAPI's extension already uses the wire's camelCase names.
        if let Some(cors) = body.and_then(|b| b.get("x-amazon-apigateway-cors")) {
            request["corsConfiguration"] = cors.clone();
        }
    }
    request
}

fn api_outcome(ctx: &Ctx<'_>, api_id: &str, response: &Value, routes: Value) -> Provisioned {
    let endpoint = response
        .get("apiEndpoint")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("https://{api_id}.execute-api.{}.amazonaws.com", ctx.region));
    let mut p = Provisioned::named(api_id).with("ApiEndpoint", endpoint).with("ApiId", api_id);
    p.attributes.insert("Nimbus::Routes".into(), routes);
    p
}

pub async fn create_api(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let mut request = api_request(props);
    if props.get("Body").is_none() {
        for key in ["RouteKey", "Target", "CredentialsArn"] {
            if let Some(v) = props.get(key) {
                request[camel(key)] = v.clone();
            }
        }
    }
    if let Some(tags) = props.get("Tags") {
        request["tags"] = tags.clone();
    }
    let response = ctx.api.call("apigateway", call(Method::POST, "/v2/apis".into(), Some(request))).await?;
    let api_id =
        response.get("apiId").and_then(Value::as_str).ok_or_else(|| invalid("CreateApi returned no apiId"))?.to_owned();
    let routes = match props.get("Body") {
        Some(body) => match build_routes(ctx, &api_id, body).await {
            Ok(r) => r,
            Err(e) => {
                let _ =
                    ctx.api.call("apigateway", call(Method::DELETE, format!("/v2/apis/{}", seg(&api_id)), None)).await;
                return Err(e);
            }
        },
        None => json!([]),
    };
    Ok(api_outcome(ctx, &api_id, &response, routes))
}

pub async fn update_api(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = old.physical_id;
    let response = ctx
        .api
        .call("apigateway", call(Method::PATCH, format!("/v2/apis/{}", seg(api_id)), Some(api_request(props))))
        .await?;
    let mut routes = old.attributes.get("Nimbus::Routes").cloned().unwrap_or(json!([]));
    if old.properties.get("Body") != props.get("Body") {
        remove_routes(ctx, api_id, Some(&routes)).await?;
        routes = match props.get("Body") {
            Some(body) => build_routes(ctx, api_id, body).await?,
            None => json!([]),
        };
    }
    let mut p = api_outcome(ctx, api_id, &response, routes);
    if response.get("apiEndpoint").is_none() {
        if let Some(e) = old.attributes.get("ApiEndpoint") {
            p.attributes.insert("ApiEndpoint".into(), e.clone());
        }
    }
    Ok(p)
}

pub async fn delete_api(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    ctx.api.call("apigateway", call(Method::DELETE, format!("/v2/apis/{}", seg(old.physical_id)), None)).await.map(drop)
}

pub async fn create_route(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "ApiId")?;
    let body = wire(
        props,
        &[
            "RouteKey",
            "Target",
            "AuthorizationType",
            "AuthorizerId",
            "AuthorizationScopes",
            "ApiKeyRequired",
            "OperationName",
        ],
        &["RequestParameters"],
    );
    let response =
        ctx.api.call("apigateway", call(Method::POST, format!("/v2/apis/{}/routes", seg(&api_id)), Some(body))).await?;
    let id = response.get("routeId").and_then(Value::as_str).unwrap_or_default();
    Ok(Provisioned::named(id).with("RouteId", id))
}

pub async fn delete_route(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("ApiId").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/v2/apis/{}/routes/{}", seg(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

pub async fn create_integration(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "ApiId")?;
    let mut body = wire(
        props,
        &[
            "IntegrationType",
            "IntegrationMethod",
            "PayloadFormatVersion",
            "TimeoutInMillis",
            "Description",
            "ConnectionType",
            "CredentialsArn",
            "IntegrationSubtype",
        ],
        &["RequestParameters"],
    );
    if let Some(uri) = props.get("IntegrationUri").and_then(Value::as_str) {
        body["integrationUri"] = json!(lambda_arn_of(uri));
    }
    let response = ctx
        .api
        .call("apigateway", call(Method::POST, format!("/v2/apis/{}/integrations", seg(&api_id)), Some(body)))
        .await?;
    let id = response.get("integrationId").and_then(Value::as_str).unwrap_or_default();
    Ok(Provisioned::named(id))
}

pub async fn delete_integration(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("ApiId").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/v2/apis/{}/integrations/{}", seg(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

const STAGE_STRUCTURES: &[&str] =
    &["AutoDeploy", "Description", "DefaultRouteSettings", "AccessLogSettings", "DeploymentId"];

/// A stage request; `RouteSettings` is a map of route keys to structures.
fn stage_request(props: &Value) -> Value {
    let mut body = wire(props, STAGE_STRUCTURES, &["StageVariables"]);
    if let Some(Value::Object(routes)) = props.get("RouteSettings") {
        body["routeSettings"] = Value::Object(routes.iter().map(|(k, v)| (k.clone(), camel_keys(v))).collect());
    }
    body
}

pub async fn create_stage(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "ApiId")?;
    let name = required_str(props, "StageName")?;
    let mut body = stage_request(props);
    body["stageName"] = json!(name);
    if let Some(tags) = props.get("Tags") {
        body["tags"] = tags.clone();
    }
    ctx.api.call("apigateway", call(Method::POST, format!("/v2/apis/{}/stages", seg(&api_id)), Some(body))).await?;
    Ok(Provisioned::named(name))
}

pub async fn update_stage(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let api_id = required_str(props, "ApiId")?;
    let path = format!("/v2/apis/{}/stages/{}", seg(&api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::PATCH, path, Some(stage_request(props)))).await?;
    Ok(Provisioned::named(old.physical_id))
}

pub async fn delete_stage(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let api_id = old.properties.get("ApiId").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/v2/apis/{}/stages/{}", seg(api_id), seg(old.physical_id));
    ctx.api.call("apigateway", call(Method::DELETE, path, None)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_operations_become_route_keys() {
        let body = json!({"paths": {
            "/hello": {"get": {"x-amazon-apigateway-integration": {"uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:0:function:f/invocations"}}},
            "$default": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {}}},
            "/items/{id}": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": {}}, "parameters": []}
        }});
        let keys: Vec<String> = operations(&body).unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["$default", "GET /hello", "ANY /items/{id}"]);
        assert_eq!(
            lambda_arn_of("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:0:function:f/invocations"),
            "arn:aws:lambda:us-east-1:0:function:f"
        );
        let props = json!({"CorsConfiguration": {"AllowOrigins": ["*"]}, "StageVariables": {"MyVar": "x"}});
        assert_eq!(
            wire(&props, &["CorsConfiguration"], &["StageVariables"]),
            json!({"corsConfiguration": {"allowOrigins": ["*"]}, "stageVariables": {"MyVar": "x"}})
        );
    }
}
