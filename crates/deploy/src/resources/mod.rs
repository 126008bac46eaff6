//! One file per resource type: how CloudFormation's properties become AWS
//! API calls (create, update, delete), and what `Ref` and `Fn::GetAtt`
//! return afterwards, as CloudFormation defines them for that type.

pub mod apigateway_v1;
pub mod apigateway_v2;
pub mod dynamodb_table;
pub mod events_rule;
pub mod iam_policy;
pub mod iam_role;
pub mod lambda_alias;
pub mod lambda_event_invoke_config;
pub mod lambda_event_source_mapping;
pub mod lambda_function;
pub mod lambda_permission;
pub mod lambda_version;
pub mod logs_log_group;
pub mod zip;

use serde_json::{Map, Value};

use crate::api::{uri_encode, ApiError, AwsApi};
use crate::template::intrinsics::to_text;

/// The resource types the engine can provision.
pub const SUPPORTED: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Logs::LogGroup",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::Events::Rule",
];

/// The service (SigV4 signing name) a resource type is provisioned through.
pub fn service_of(ty: &str) -> &'static str {
    match ty.split("::").nth(1).unwrap_or("") {
        "DynamoDB" => "dynamodb",
        "IAM" => "iam",
        "Lambda" => "lambda",
        "Logs" => "logs",
        "ApiGateway" | "ApiGatewayV2" => "apigateway",
        "Events" => "events",
        _ => "",
    }
}

/// Whether IAM calls are skipped because this server runs no IAM service:
/// roles then exist in name only (their ARNs are still what AWS would give),
/// so a template deploys before IAM is part of the server.
pub fn iam_absent(ctx: &Ctx<'_>) -> bool {
    ctx.api.has_service("iam") == Some(false)
}

/// Where a resource is being provisioned.
pub struct Ctx<'a> {
    pub api: &'a dyn AwsApi,
    pub region: &'a str,
    pub account_id: &'a str,
    pub stack_name: &'a str,
    pub logical_id: &'a str,
}

/// What exists after a create or update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provisioned {
    pub physical_id: String,
    /// What `Ref` returns.
    pub reference: Value,
    /// What `Fn::GetAtt` can return.
    pub attributes: Map<String, Value>,
}

impl Provisioned {
    pub fn named(physical_id: impl Into<String>) -> Self {
        let physical_id = physical_id.into();
        Provisioned { reference: Value::String(physical_id.clone()), physical_id, attributes: Map::new() }
    }

    pub fn with(mut self, attribute: &str, value: impl Into<Value>) -> Self {
        self.attributes.insert(attribute.to_owned(), value.into());
        self
    }
}

/// What a previous create or update left: enough to update or delete it.
pub struct Existing<'a> {
    pub physical_id: &'a str,
    pub properties: &'a Value,
    pub attributes: &'a Map<String, Value>,
}

type Result<T> = std::result::Result<T, ApiError>;

pub async fn create(ty: &str, ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    match ty {
        "AWS::DynamoDB::Table" => dynamodb_table::create(ctx, props).await,
        "AWS::IAM::Role" => iam_role::create(ctx, props).await,
        "AWS::IAM::Policy" => iam_policy::create(ctx, props).await,
        "AWS::Lambda::Function" => lambda_function::create(ctx, props).await,
        "AWS::Lambda::Permission" => lambda_permission::create(ctx, props).await,
        "AWS::Lambda::Version" => lambda_version::create(ctx, props).await,
        "AWS::Lambda::Alias" => lambda_alias::create(ctx, props).await,
        "AWS::Lambda::EventInvokeConfig" => lambda_event_invoke_config::put(ctx, props).await,
        "AWS::Lambda::EventSourceMapping" => lambda_event_source_mapping::create(ctx, props).await,
        "AWS::Logs::LogGroup" => logs_log_group::create(ctx, props).await,
        "AWS::ApiGatewayV2::Api" => apigateway_v2::create_api(ctx, props).await,
        "AWS::ApiGatewayV2::Route" => apigateway_v2::create_route(ctx, props).await,
        "AWS::ApiGatewayV2::Integration" => apigateway_v2::create_integration(ctx, props).await,
        "AWS::ApiGatewayV2::Stage" => apigateway_v2::create_stage(ctx, props).await,
        "AWS::ApiGateway::RestApi" => apigateway_v1::create_rest_api(ctx, props).await,
        "AWS::ApiGateway::Resource" => apigateway_v1::create_resource(ctx, props).await,
        "AWS::ApiGateway::Method" => apigateway_v1::create_method(ctx, props).await,
        "AWS::ApiGateway::Deployment" => apigateway_v1::create_deployment(ctx, props).await,
        "AWS::ApiGateway::Stage" => apigateway_v1::create_stage(ctx, props).await,
        "AWS::Events::Rule" => events_rule::create(ctx, props).await,
        other => Err(invalid(format!("resource type {other} is not supported"))),
    }
}

/// Update in place. Only called when `needs_replacement` said no.
pub async fn update(ty: &str, ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    match ty {
        "AWS::DynamoDB::Table" => dynamodb_table::update(ctx, old, props).await,
        "AWS::IAM::Role" => iam_role::update(ctx, old, props).await,
        "AWS::IAM::Policy" => iam_policy::update(ctx, old, props).await,
        "AWS::Lambda::Function" => lambda_function::update(ctx, old, props).await,
        "AWS::Lambda::Alias" => lambda_alias::update(ctx, old, props).await,
        "AWS::Lambda::EventInvokeConfig" => lambda_event_invoke_config::put(ctx, props).await,
        "AWS::Lambda::EventSourceMapping" => lambda_event_source_mapping::update(ctx, old, props).await,
        "AWS::Logs::LogGroup" => logs_log_group::update(ctx, old, props).await,
        "AWS::ApiGatewayV2::Api" => apigateway_v2::update_api(ctx, old, props).await,
        "AWS::ApiGatewayV2::Stage" => apigateway_v2::update_stage(ctx, old, props).await,
        "AWS::ApiGateway::RestApi" => apigateway_v1::update_rest_api(ctx, old, props).await,
        "AWS::ApiGateway::Stage" => apigateway_v1::update_stage(ctx, old, props).await,
        "AWS::Events::Rule" => events_rule::update(ctx, old, props).await,
        // Everything else is replaced on any change (see `needs_replacement`).
        other => Err(invalid(format!("{other} cannot be updated in place"))),
    }
}

pub async fn delete(ty: &str, ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let result = match ty {
        "AWS::DynamoDB::Table" => dynamodb_table::delete(ctx, old).await,
        "AWS::IAM::Role" => iam_role::delete(ctx, old).await,
        "AWS::IAM::Policy" => iam_policy::delete(ctx, old).await,
        "AWS::Lambda::Function" => lambda_function::delete(ctx, old).await,
        "AWS::Lambda::Permission" => lambda_permission::delete(ctx, old).await,
        "AWS::Lambda::Version" => lambda_version::delete(ctx, old).await,
        "AWS::Lambda::Alias" => lambda_alias::delete(ctx, old).await,
        "AWS::Lambda::EventInvokeConfig" => lambda_event_invoke_config::delete(ctx, old).await,
        "AWS::Lambda::EventSourceMapping" => lambda_event_source_mapping::delete(ctx, old).await,
        "AWS::Logs::LogGroup" => logs_log_group::delete(ctx, old).await,
        "AWS::ApiGatewayV2::Api" => apigateway_v2::delete_api(ctx, old).await,
        "AWS::ApiGatewayV2::Route" => apigateway_v2::delete_route(ctx, old).await,
        "AWS::ApiGatewayV2::Integration" => apigateway_v2::delete_integration(ctx, old).await,
        "AWS::ApiGatewayV2::Stage" => apigateway_v2::delete_stage(ctx, old).await,
        "AWS::ApiGateway::RestApi" => apigateway_v1::delete_rest_api(ctx, old).await,
        "AWS::ApiGateway::Resource" => apigateway_v1::delete_resource(ctx, old).await,
        "AWS::ApiGateway::Method" => apigateway_v1::delete_method(ctx, old).await,
        "AWS::ApiGateway::Deployment" => apigateway_v1::delete_deployment(ctx, old).await,
        "AWS::ApiGateway::Stage" => apigateway_v1::delete_stage(ctx, old).await,
        "AWS::Events::Rule" => events_rule::delete(ctx, old).await,
        _ => Ok(()),
    };
    // Already gone is what a delete wants.
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// Whether a change from `old` to `new` properties needs a new resource
/// (CloudFormation's "Replacement" update behaviour).
pub fn needs_replacement(ty: &str, old: &Value, new: &Value) -> bool {
    let changed = |keys: &[&str]| keys.iter().any(|k| old.get(*k) != new.get(*k));
    match ty {
        "AWS::DynamoDB::Table" => dynamodb_table::needs_replacement(old, new),
        "AWS::IAM::Role" => changed(&["RoleName", "Path"]),
        "AWS::IAM::Policy" => changed(&["PolicyName"]),
        "AWS::Lambda::Function" => changed(&["FunctionName", "PackageType"]),
        "AWS::Lambda::Alias" => changed(&["Name", "FunctionName"]),
        "AWS::Lambda::EventInvokeConfig" => changed(&["FunctionName", "Qualifier"]),
        "AWS::Lambda::EventSourceMapping" => {
            changed(&["EventSourceArn", "StartingPosition", "StartingPositionTimestamp"])
        }
        "AWS::Logs::LogGroup" => changed(&["LogGroupName"]),
        "AWS::ApiGatewayV2::Api" => changed(&["ProtocolType"]),
        "AWS::ApiGatewayV2::Stage" => changed(&["ApiId", "StageName"]),
        "AWS::ApiGateway::Stage" => changed(&["RestApiId", "StageName"]),
        // A REST API's body is rebuilt in place; its other settings replace it.
        "AWS::ApiGateway::RestApi" => {
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(m) = v.as_object_mut() {
                    m.remove("Body");
                }
                v
            };
            strip(old) != strip(new)
        }
        "AWS::Events::Rule" => changed(&["Name"]),
        // Permissions, versions, deployments, routes, integrations, methods,
        // resources and REST APIs are immutable here: any change replaces them.
        _ => old != new,
    }
}

/// The physical name a template gives a resource that must be replaced,
/// when the replacement would keep it: the new resource cannot be made
/// beside the old one, so CloudFormation refuses the update.
pub fn kept_custom_name(ty: &str, old: &Value, new: &Value) -> Option<String> {
    let property = match ty {
        "AWS::DynamoDB::Table" => "TableName",
        "AWS::IAM::Role" => "RoleName",
        "AWS::Lambda::Function" => "FunctionName",
        "AWS::Logs::LogGroup" => "LogGroupName",
        "AWS::Events::Rule" => "Name",
        _ => return None,
    };
    optional_str(new, property).filter(|name| optional_str(old, property).as_ref() == Some(name))
}

/// A validation failure before any call is made.
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationError", message)
}

/// A required string property (numbers are accepted as their text).
pub fn required_str(props: &Value, key: &str) -> Result<String> {
    props.get(key).and_then(to_text).ok_or_else(|| invalid(format!("property {key} is required")))
}

pub fn optional_str(props: &Value, key: &str) -> Option<String> {
    props.get(key).and_then(to_text)
}

/// A number property, which a `Ref` to a Number parameter delivers as text.
pub fn optional_i64(props: &Value, key: &str) -> Result<Option<i64>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(format!("{key} must be a whole number"))),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| invalid(format!("{key} must be a whole number, not '{s}'")))
        }
        Some(other) => Err(invalid(format!("{key} must be a number, not {other}"))),
    }
}

/// A boolean property, which may arrive as `"true"`/`"false"`.
pub fn optional_bool(props: &Value, key: &str) -> Option<bool> {
    match props.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A name CloudFormation would generate: `{stack}-{logical id}-{random}`,
/// cut to fit `max` characters.
pub fn generated_name(ctx: &Ctx<'_>, max: usize) -> String {
    let suffix: String = nimbus_core::request::new_request_id().replace('-', "").to_ascii_uppercase()[..12].to_owned();
    let budget = max.saturating_sub(suffix.len() + 2);
    let stack_budget = budget / 2;
    let stack: String = ctx.stack_name.chars().take(stack_budget).collect();
    let logical: String = ctx.logical_id.chars().take(budget - stack.len()).collect();
    format!("{stack}-{logical}-{suffix}")
}

/// A path segment, percent-encoded.
pub fn seg(text: &str) -> String {
    uri_encode(text)
}

/// CloudFormation's `Tags: [{Key, Value}]` as the `{key: value}` map most APIs take.
pub fn tags_map(props: &Value) -> Option<Value> {
    match props.get("Tags")? {
        Value::Array(items) => {
            let mut map = Map::new();
            for t in items {
                if let (Some(k), Some(v)) = (t.get("Key").and_then(to_text), t.get("Value").and_then(to_text)) {
                    map.insert(k, Value::String(v));
                }
            }
            Some(Value::Object(map))
        }
        Value::Object(map) => Some(Value::Object(map.clone())),
        _ => None,
    }
}

/// Copy the listed properties that are present into a request body.
pub fn copy_props(props: &Value, keys: &[&str], body: &mut Value) {
    for key in keys {
        if let Some(v) = props.get(*key) {
            body[*key] = v.clone();
        }
    }
}
