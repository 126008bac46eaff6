//! `AWS::Serverless::Api` / `AWS::Serverless::HttpApi`, explicit or implicit
//! (`ServerlessRestApi`, `ServerlessHttpApi`): an API whose OpenAPI body
//! holds the routes of the functions' events, and its stage (and, for REST,
//! its deployment).

use serde_json::{json, Map, Value};

use super::{code, tags_list, Route, Transformer};
use crate::template::{resource_path, TemplateError};

/// The Lambda proxy integration of a route, as SAM writes it into OpenAPI.
fn integration(route: &Route, http: bool) -> Value {
    let uri = json!({"Fn::Sub": [
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${__Target__}/invocations",
        {"__Target__": route.target_arn}
    ]});
    let mut integration = json!({"type": "aws_proxy", "httpMethod": "POST", "uri": uri});
    if http {
        integration["payloadFormatVersion"] = route.payload_format.clone();
        if let Some(timeout) = &route.timeout {
            integration["timeoutInMillis"] = timeout.clone();
        }
    }
    json!({"x-amazon-apigateway-integration": integration, "responses": {}})
}

/// Add routes to an OpenAPI body's `paths`; a route already in the body is an error.
fn add_paths(
    t: &Transformer<'_>,
    api_id: &str,
    body: &mut Value,
    routes: &[Route],
    http: bool,
) -> Result<(), TemplateError> {
    if !body.get("paths").is_some_and(Value::is_object) {
        body["paths"] = json!({});
    }
    for route in routes {
        let path = route.path.clone().unwrap_or_else(|| "$default".to_owned());
        let methods = body["paths"].as_object_mut().and_then(|p| {
            p.entry(path.clone()).or_insert_with(|| json!({}));
            p.get_mut(&path).and_then(Value::as_object_mut)
        });
        let Some(methods) = methods else { continue };
        if methods.contains_key(&route.method) {
            return Err(t.error(
                &resource_path(&route.function_id),
                format!(
                    "{}: event {} repeats route {} {path} of {api_id}",
                    route.function_id, route.event_id, route.method
                ),
            ));
        }
        methods.insert(route.method.clone(), integration(route, http));
    }
    Ok(())
}

fn routes_of(routes: &[(String, Route)], api_id: &str) -> Vec<Route> {
    routes.iter().filter(|(a, _)| a == api_id).map(|(_, r)| r.clone()).collect()
}

fn stack_title() -> Value {
    json!({"Ref": "AWS::StackName"})
}

/// Refuse properties this transform would otherwise drop silently.
fn check_properties(t: &Transformer<'_>, id: &str, props: &Value, known: &[&str]) -> Result<(), TemplateError> {
    for key in props.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains(&key.as_str()) {
            let path = format!("{}/Properties/{}", resource_path(id), crate::template::yaml::escape(key));
            return Err(t.error(&path, format!("{id}: property {key} is not supported by Nimbus")));
        }
    }
    Ok(())
}

/// A REST API: RestApi with the body, a Deployment named by the body's
/// hash (so a changed API is redeployed), and the stage.
fn rest_api(
    t: &mut Transformer<'_>,
    id: &str,
    from: &Value,
    props: &Value,
    routes: &[Route],
) -> Result<(), TemplateError> {
    check_properties(
        t,
        id,
        props,
        &[
            "StageName",
            "DefinitionBody",
            "DefinitionUri",
            "Name",
            "Description",
            "EndpointConfiguration",
            "BinaryMediaTypes",
            "MinimumCompressionSize",
            "Tags",
            "Variables",
            "OpenApiVersion",
        ],
    )?;
    let stage = match props.get("StageName") {
        Some(Value::String(s)) => s.clone(),
        None => return Err(t.error(&resource_path(id), format!("{id}: StageName is required"))),
        Some(_) => return Err(t.error(&resource_path(id), format!("{id}: StageName must be a plain string in Nimbus"))),
    };
    let mut body = props.get("DefinitionBody").cloned().unwrap_or_else(|| {
        json!({"swagger": "2.0", "info": {"version": "1.0", "title": props.get("Name").cloned().unwrap_or_else(stack_title)}, "paths": {}})
    });
    if props.get("DefinitionUri").is_some() {
        return Err(t.error(
            &resource_path(id),
            format!("{id}: DefinitionUri is not supported; inline the definition as DefinitionBody"),
        ));
    }
    add_paths(t, id, &mut body, routes, false)?;
    let mut api = json!({"Body": body});
    for key in ["Name", "Description", "EndpointConfiguration", "BinaryMediaTypes", "MinimumCompressionSize", "Tags"] {
        if let Some(v) = props.get(key) {
            api[key] = if key == "Tags" { tags_list(v) } else { v.clone() };
        }
    }
    let api_resource = t.carry(from, "AWS::ApiGateway::RestApi", api);
    t.add(id, id, api_resource)?;
    let hash = code::short_hash(&body);
    let deployment_id = format!("{id}Deployment{hash}");
    let deployment = t.resource(
        from,
        "AWS::ApiGateway::Deployment",
        json!({
            "RestApiId": {"Ref": id},
            "Description": format!("RestApi deployment id: {hash}"),
            "StageName": "Stage",
        }),
    );
    t.add(&deployment_id, id, deployment)?;
    let mut stage_props = json!({"DeploymentId": {"Ref": deployment_id}, "RestApiId": {"Ref": id}, "StageName": stage});
    if let Some(v) = props.get("Variables") {
        stage_props["Variables"] = v.clone();
    }
    let stage_resource = t.resource(from, "AWS::ApiGateway::Stage", stage_props);
    let stage_id = format!("{id}{}Stage", alnum(&stage));
    t.add(&stage_id, id, stage_resource)?;
    t.referable.insert(format!("{id}.Stage"), stage_id);
    t.referable.insert(format!("{id}.Deployment"), deployment_id);
    Ok(())
}

/// An HTTP API: the Api with the body and its stage (`$default`, auto-deployed, unless named).
fn http_api(
    t: &mut Transformer<'_>,
    id: &str,
    from: &Value,
    props: &Value,
    routes: &[Route],
) -> Result<(), TemplateError> {
    check_properties(
        t,
        id,
        props,
        &[
            "StageName",
            "DefinitionBody",
            "DefinitionUri",
            "Name",
            "Description",
            "CorsConfiguration",
            "Tags",
            "StageVariables",
            "DisableExecuteApiEndpoint",
            "FailOnWarnings",
        ],
    )?;
    if props.get("DefinitionUri").is_some() {
        return Err(t.error(
            &resource_path(id),
            format!("{id}: DefinitionUri is not supported; inline the definition as DefinitionBody"),
        ));
    }
    let mut body = props.get("DefinitionBody").cloned().unwrap_or_else(|| {
        json!({
            "openapi": "3.0.1",
            "info": {"version": "1.0", "title": props.get("Name").cloned().unwrap_or_else(stack_title)},
            "tags": [{"name": "httpapi:createdBy", "x-amazon-apigateway-tag-value": "SAM"}],
            "paths": {},
        })
    });
    add_paths(t, id, &mut body, routes, true)?;
    if let Some(cors) = props.get("CorsConfiguration") {
        body["x-amazon-apigateway-cors"] = match cors {
            Value::Bool(true) => json!({"allowOrigins": ["*"], "allowHeaders": ["*"], "allowMethods": ["*"]}),
            other => lower_first_keys(other),
        };
    }
    let mut api = json!({"Body": body});
    for key in ["Description", "DisableExecuteApiEndpoint", "FailOnWarnings"] {
        if let Some(v) = props.get(key) {
            api[key] = v.clone();
        }
    }
    if let Some(tags) = props.get("Tags") {
        api["Tags"] = tags.clone();
    }
    let api_resource = t.carry(from, "AWS::ApiGatewayV2::Api", api);
    t.add(id, id, api_resource)?;
    let (stage_id, stage_name) = match props.get("StageName") {
        None => (format!("{id}ApiGatewayDefaultStage"), json!("$default")),
        Some(Value::String(s)) => (format!("{id}{}Stage", alnum(s)), json!(s)),
        Some(_) => return Err(t.error(&resource_path(id), format!("{id}: StageName must be a plain string in Nimbus"))),
    };
    let mut stage = json!({"ApiId": {"Ref": id}, "StageName": stage_name, "AutoDeploy": true});
    if let Some(v) = props.get("StageVariables") {
        stage["StageVariables"] = v.clone();
    }
    let stage_resource = t.resource(from, "AWS::ApiGatewayV2::Stage", stage);
    t.add(&stage_id, id, stage_resource)?;
    t.referable.insert(format!("{id}.Stage"), stage_id);
    Ok(())
}

/// CORS in SAM's `AllowOrigins` spelling becomes OpenAPI's `allowOrigins`.
fn lower_first_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let mut chars = k.chars();
                let key = chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default();
                out.insert(key, v.clone());
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn alnum(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

pub fn explicit_rest_api(t: &mut Transformer<'_>, id: &str) -> Result<(), TemplateError> {
    let from = t.source.section("Resources").and_then(|r| r.get(id)).cloned().unwrap_or_default();
    let props = t.properties_with_globals(&from, "Api");
    let routes = routes_of(&t.rest_routes, id);
    rest_api(t, id, &from, &props, &routes)
}

pub fn explicit_http_api(t: &mut Transformer<'_>, id: &str) -> Result<(), TemplateError> {
    let from = t.source.section("Resources").and_then(|r| r.get(id)).cloned().unwrap_or_default();
    let props = t.properties_with_globals(&from, "HttpApi");
    let routes = routes_of(&t.http_routes, id);
    http_api(t, id, &from, &props, &routes)
}

/// The implicit APIs, when some event names no API.
pub fn implicit_apis(t: &mut Transformer<'_>) -> Result<(), TemplateError> {
    let before: Vec<String> = t.resources.keys().cloned().collect();
    implicit_apis_inner(t)?;
    // An implicit API has no place in the template; point at the first
    // function whose event made it.
    let origin = t
        .rest_routes
        .iter()
        .chain(&t.http_routes)
        .find(|(api, _)| api.starts_with("Serverless"))
        .map(|(_, r)| r.function_id.clone());
    if let Some(line) = origin.and_then(|f| t.source.line_of(&resource_path(&f))) {
        for id in t.resources.keys().filter(|k| !before.contains(k)) {
            t.positions.insert(resource_path(id), line);
        }
    }
    Ok(())
}

fn implicit_apis_inner(t: &mut Transformer<'_>) -> Result<(), TemplateError> {
    let rest = routes_of(&t.rest_routes, "ServerlessRestApi");
    if !rest.is_empty() {
        let mut props = t.globals.get("Api").cloned().unwrap_or_else(|| json!({}));
        props["StageName"] = json!("Prod");
        let from = json!({});
        rest_api(t, "ServerlessRestApi", &from, &props, &rest)?;
    }
    let http = routes_of(&t.http_routes, "ServerlessHttpApi");
    if !http.is_empty() {
        let mut props = t.globals.get("HttpApi").cloned().unwrap_or_else(|| json!({}));
        if let Some(map) = props.as_object_mut() {
            map.remove("StageName");
        }
        let from = json!({});
        http_api(t, "ServerlessHttpApi", &from, &props, &http)?;
    }
    Ok(())
}
