//! `AWS::Serverless::Function` → `AWS::Lambda::Function`, its role, version
//! and alias, event invoke config, and what each of its Events needs.

use serde_json::{json, Map, Value};

use super::{code, policies, tags_list, Route, Transformer};
use crate::template::{resource_path, yaml, TemplateError};

/// Properties that pass to `AWS::Lambda::Function` unchanged.
const PASSED: &[&str] = &[
    "FunctionName",
    "Description",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Environment",
    "Architectures",
    "Layers",
    "EphemeralStorage",
    "LoggingConfig",
    "VpcConfig",
    "KmsKeyArn",
    "ReservedConcurrentExecutions",
    "TracingConfig",
    "SnapStart",
    "RuntimeManagementConfig",
];

/// Properties this transform understands beyond those passed through.
const HANDLED: &[&str] = &[
    "CodeUri",
    "InlineCode",
    "Role",
    "Policies",
    "PermissionsBoundary",
    "RolePath",
    "Tags",
    "Tracing",
    "DeadLetterQueue",
    "AutoPublishAlias",
    "AutoPublishCodeSha256",
    "AutoPublishAliasAllProperties",
    "ProvisionedConcurrencyConfig",
    "EventInvokeConfig",
    "Events",
    "PackageType",
    "AssumeRolePolicyDocument",
    "FunctionUrlConfig",
];

pub fn transform(t: &mut Transformer<'_>, id: &str, resource: &Value) -> Result<(), TemplateError> {
    let path = resource_path(id);
    let props = t.properties_with_globals(resource, "Function");
    let Some(props) = props.as_object() else {
        return Err(t.error(&path, format!("{id}: Properties must be a mapping")));
    };
    let prop_path = |k: &str| format!("{path}/Properties/{}", yaml::escape(k));
    for key in props.keys() {
        if !PASSED.contains(&key.as_str()) && !HANDLED.contains(&key.as_str()) {
            return Err(t.error(
                &prop_path(key),
                format!("{id}: property {key} of AWS::Serverless::Function is not supported by Nimbus"),
            ));
        }
    }
    if props.get("PackageType").and_then(Value::as_str) == Some("Image") {
        return Err(
            t.error(&prop_path("PackageType"), format!("{id}: container image functions are not supported by Nimbus"))
        );
    }
    if props.contains_key("FunctionUrlConfig") {
        return Err(
            t.error(&prop_path("FunctionUrlConfig"), format!("{id}: function URLs are not supported by Nimbus"))
        );
    }

    let mut lambda = Map::new();
    for key in PASSED {
        if let Some(v) = props.get(*key) {
            lambda.insert((*key).into(), v.clone());
        }
    }
    // Code: inline, or a local folder/zip.
    let code = match (props.get("InlineCode"), props.get("CodeUri")) {
        (Some(_), Some(_)) => {
            return Err(t.error(&prop_path("InlineCode"), format!("{id}: give CodeUri or InlineCode, not both")))
        }
        (Some(inline), None) => json!({"ZipFile": inline}),
        (None, Some(Value::String(uri))) => code::local_code(&t.options.base_dir, uri)
            .map_err(|e| t.error(&prop_path("CodeUri"), format!("{id}: {e}")))?,
        (None, Some(_)) => {
            return Err(t.error(
                &prop_path("CodeUri"),
                format!("{id}: CodeUri must be a local folder or zip; code in S3 is not supported"),
            ));
        }
        (None, None) => return Err(t.error(&path, format!("{id}: a function needs CodeUri or InlineCode"))),
    };
    lambda.insert("Code".into(), code);
    if let Some(mode) = props.get("Tracing") {
        lambda.insert("TracingConfig".into(), json!({"Mode": mode}));
    }
    if let Some(dlq) = props.get("DeadLetterQueue") {
        lambda.insert(
            "DeadLetterConfig".into(),
            json!({"TargetArn": dlq.get("TargetArn").cloned().unwrap_or(Value::Null)}),
        );
    }
    let mut tags = vec![json!({"Key": "lambda:createdBy", "Value": "SAM"})];
    if let Some(Value::Array(extra)) = props.get("Tags").map(tags_list) {
        tags.extend(extra);
    }
    lambda.insert("Tags".into(), Value::Array(tags.clone()));

    // The execution role: given, or generated from Policies.
    match props.get("Role") {
        Some(role) => {
            lambda.insert("Role".into(), role.clone());
        }
        None => {
            let role_id = format!("{id}Role");
            let rp = policies::role_policies(props.get("Policies").unwrap_or(&json!([])))
                .map_err(|e| t.error(&prop_path("Policies"), format!("{id}: {e}")))?;
            let mut managed = vec![policies::managed_policy_arn("AWSLambdaBasicExecutionRole")];
            // As SAM does: a stream event's function may read its stream.
            if has_event_of_type(props.get("Events"), "DynamoDB") {
                managed.push(policies::managed_policy_arn("AWSLambdaDynamoDBExecutionRole"));
            }
            managed.extend(rp.managed_arns);
            let inline: Vec<Value> = rp
                .documents
                .into_iter()
                .enumerate()
                .map(|(i, doc)| json!({"PolicyName": format!("{role_id}Policy{i}"), "PolicyDocument": doc}))
                .collect();
            let assume = props.get("AssumeRolePolicyDocument").cloned().unwrap_or_else(|| {
                json!({"Version": "2012-10-17", "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}]})
            });
            let mut role = json!({
                "AssumeRolePolicyDocument": assume,
                "ManagedPolicyArns": managed,
                "Tags": tags,
            });
            if !inline.is_empty() {
                role["Policies"] = Value::Array(inline);
            }
            for (from, to) in [("PermissionsBoundary", "PermissionsBoundary"), ("RolePath", "Path")] {
                if let Some(v) = props.get(from) {
                    role[to] = v.clone();
                }
            }
            let role = t.resource(resource, "AWS::IAM::Role", role);
            t.add(&role_id, id, role)?;
            lambda.insert("Role".into(), json!({"Fn::GetAtt": [role_id, "Arn"]}));
        }
    }

    // AutoPublishAlias: a Version named by a hash of what it publishes, and an alias on it.
    let mut target_arn = json!({"Fn::GetAtt": [id, "Arn"]});
    let mut permission_function = json!({"Ref": id});
    let mut qualifier = json!("$LATEST");
    if let Some(alias) = props.get("AutoPublishAlias") {
        let Some(alias_name) = alias.as_str() else {
            return Err(t.error(&prop_path("AutoPublishAlias"), format!("{id}: AutoPublishAlias must be a plain name")));
        };
        let version_id = format!("{id}Version{}", code::short_hash(&Value::Object(lambda.clone())));
        let mut version = t.resource(resource, "AWS::Lambda::Version", json!({"FunctionName": {"Ref": id}}));
        version["DeletionPolicy"] = json!("Retain");
        t.add(&version_id, id, version)?;
        let alias_id =
            format!("{id}Alias{}", alias_name.chars().filter(char::is_ascii_alphanumeric).collect::<String>());
        let mut alias_props = json!({
            "Name": alias_name,
            "FunctionName": {"Ref": id},
            "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]},
        });
        if let Some(pc) = props.get("ProvisionedConcurrencyConfig") {
            alias_props["ProvisionedConcurrencyConfig"] = pc.clone();
        }
        let alias_resource = t.resource(resource, "AWS::Lambda::Alias", alias_props);
        t.add(&alias_id, id, alias_resource)?;
        t.referable.insert(format!("{id}.Alias"), alias_id.clone());
        t.referable.insert(format!("{id}.Version"), version_id.clone());
        target_arn = json!({"Ref": alias_id});
        permission_function = json!({"Ref": alias_id});
        qualifier = json!(alias_name);
    } else if props.contains_key("ProvisionedConcurrencyConfig") {
        return Err(t.error(
            &prop_path("ProvisionedConcurrencyConfig"),
            format!("{id}: ProvisionedConcurrencyConfig needs AutoPublishAlias"),
        ));
    }

    if let Some(config) = props.get("EventInvokeConfig") {
        let mut eic = json!({"FunctionName": {"Ref": id}, "Qualifier": qualifier});
        for key in ["MaximumEventAgeInSeconds", "MaximumRetryAttempts"] {
            if let Some(v) = config.get(key) {
                eic[key] = v.clone();
            }
        }
        if let Some(dest) = config.get("DestinationConfig") {
            let mut out = Map::new();
            for key in ["OnSuccess", "OnFailure"] {
                if let Some(d) = dest.get(key).and_then(|d| d.get("Destination")) {
                    out.insert(key.into(), json!({"Destination": d}));
                }
            }
            eic["DestinationConfig"] = Value::Object(out);
        }
        let eic = t.resource(resource, "AWS::Lambda::EventInvokeConfig", eic);
        t.add(&format!("{id}EventInvokeConfig"), id, eic)?;
    }

    let lambda = t.carry(resource, "AWS::Lambda::Function", Value::Object(lambda));
    t.resources.insert(id.to_owned(), lambda);

    if let Some(events) = props.get("Events") {
        let Some(events) = events.as_object() else {
            return Err(t.error(&prop_path("Events"), format!("{id}: Events must be a mapping")));
        };
        for (event_id, event) in events {
            let event_path = format!("{}/{}", prop_path("Events"), yaml::escape(event_id));
            let target = EventTarget {
                function_id: id,
                event_id,
                target_arn: &target_arn,
                permission_function: &permission_function,
            };
            self::event(t, resource, &target, event, &event_path)?;
        }
    }
    Ok(())
}

struct EventTarget<'a> {
    function_id: &'a str,
    event_id: &'a str,
    target_arn: &'a Value,
    permission_function: &'a Value,
}

fn event(
    t: &mut Transformer<'_>,
    resource: &Value,
    target: &EventTarget<'_>,
    event: &Value,
    path: &str,
) -> Result<(), TemplateError> {
    let ty = event.get("Type").and_then(Value::as_str).unwrap_or_default();
    let props = event.get("Properties").cloned().unwrap_or_else(|| json!({}));
    let known: &[&str] = match ty {
        "HttpApi" => &["ApiId", "Path", "Method", "PayloadFormatVersion", "TimeoutInMillis", "RouteSettings"],
        "Api" => &["RestApiId", "Path", "Method", "RequestParameters", "RequestModel"],
        "Schedule" => &["Schedule", "Input", "Enabled", "State", "Name", "Description"],
        "DynamoDB" => DYNAMODB_EVENT_PROPERTIES,
        _ => &[],
    };
    for key in props.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.is_empty() && !known.contains(&key.as_str()) {
            return Err(t.error(
                path,
                format!(
                    "{}: property {key} of {ty} event {} is not supported by Nimbus",
                    target.function_id, target.event_id
                ),
            ));
        }
    }
    let (fid, eid) = (target.function_id, target.event_id);
    match ty {
        "HttpApi" | "Api" => {
            let rest = ty == "Api";
            let method = props.get("Method").and_then(Value::as_str).map(str::to_ascii_lowercase);
            let route_path = props.get("Path").and_then(Value::as_str).map(str::to_owned);
            if rest && (method.is_none() || route_path.is_none()) {
                return Err(t.error(path, format!("{fid}: Api event {eid} needs Path and Method")));
            }
            if let Some(p) = &route_path {
                if !p.starts_with('/') {
                    return Err(t.error(path, format!("{fid}: event {eid}: Path must start with /")));
                }
            }
            let method = match method.as_deref() {
                None | Some("any") | Some("x-amazon-apigateway-any-method") => {
                    "x-amazon-apigateway-any-method".to_owned()
                }
                Some(m) => m.to_owned(),
            };
            let api_key = if rest { "RestApiId" } else { "ApiId" };
            let api_id = match props.get(api_key) {
                None => (if rest { "ServerlessRestApi" } else { "ServerlessHttpApi" }).to_owned(),
                Some(v) => match v.get("Ref").and_then(Value::as_str) {
                    Some(api)
                        if t.source.resource_type(api)
                            == Some(if rest { "AWS::Serverless::Api" } else { "AWS::Serverless::HttpApi" }) =>
                    {
                        api.to_owned()
                    }
                    _ => {
                        return Err(t.error(
                            path,
                            format!(
                                "{fid}: event {eid}: {api_key} must be a !Ref to an {} in this template",
                                if rest { "AWS::Serverless::Api" } else { "AWS::Serverless::HttpApi" }
                            ),
                        ))
                    }
                },
            };
            let route = Route {
                function_id: fid.to_owned(),
                event_id: eid.to_owned(),
                path: route_path.clone(),
                method: method.clone(),
                target_arn: target.target_arn.clone(),
                payload_format: props.get("PayloadFormatVersion").cloned().unwrap_or_else(|| json!("2.0")),
                timeout: props.get("TimeoutInMillis").cloned(),
            };
            // The permission is scoped to the route: path parameters become `*`.
            let arn_method =
                if method == "x-amazon-apigateway-any-method" { "*".to_owned() } else { method.to_ascii_uppercase() };
            let arn_path = match &route_path {
                Some(p) => {
                    p.split('/').map(|seg| if seg.starts_with('{') { "*" } else { seg }).collect::<Vec<_>>().join("/")
                }
                None => String::new(),
            };
            let resource_part = if route_path.is_none() {
                "${__ApiId__}/${__Stage__}".to_owned()
            } else {
                format!("${{__ApiId__}}/${{__Stage__}}/{arn_method}{arn_path}")
            };
            let source_arn = json!({"Fn::Sub": [
                format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:{resource_part}"),
                {"__ApiId__": {"Ref": api_id}, "__Stage__": "*"}
            ]});
            let permission = t.resource(
                resource,
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": target.permission_function,
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": source_arn,
                }),
            );
            if rest {
                let stage = t
                    .source
                    .section("Resources")
                    .and_then(|r| r.get(&api_id))
                    .and_then(|a| a.get("Properties"))
                    .and_then(|p| p.get("StageName"))
                    .and_then(Value::as_str)
                    .unwrap_or("Prod")
                    .to_owned();
                t.add(&format!("{fid}{eid}Permission{stage}"), fid, permission)?;
                t.rest_routes.push((api_id, route));
            } else {
                t.add(&format!("{fid}{eid}Permission"), fid, permission)?;
                t.http_routes.push((api_id, route));
            }
        }
        "Schedule" => {
            let expression = props.get("Schedule").and_then(Value::as_str).unwrap_or_default();
            check_schedule(expression).map_err(|e| t.error(path, format!("{fid}: event {eid}: {e}")))?;
            let enabled = props.get("Enabled").and_then(Value::as_bool).unwrap_or(true);
            let state =
                props.get("State").cloned().unwrap_or_else(|| json!(if enabled { "ENABLED" } else { "DISABLED" }));
            let mut rule_target = json!({"Arn": target.target_arn, "Id": format!("{fid}{eid}LambdaTarget")});
            if let Some(input) = props.get("Input") {
                rule_target["Input"] = input.clone();
            }
            let mut rule = json!({"ScheduleExpression": expression, "State": state, "Targets": [rule_target]});
            for key in ["Name", "Description"] {
                if let Some(v) = props.get(key) {
                    rule[key] = v.clone();
                }
            }
            let rule_id = format!("{fid}{eid}");
            let rule = t.resource(resource, "AWS::Events::Rule", rule);
            t.add(&rule_id, fid, rule)?;
            let permission = t.resource(
                resource,
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": target.permission_function,
                    "Principal": "events.amazonaws.com",
                    "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
                }),
            );
            t.add(&format!("{fid}{eid}Permission"), fid, permission)?;
        }
        "DynamoDB" => {
            let mut mapping = json!({"FunctionName": target.permission_function});
            match props.get("Stream") {
                Some(stream) => mapping["EventSourceArn"] = stream.clone(),
                None => return Err(t.error(path, format!("{fid}: DynamoDB event {eid} needs Stream"))),
            }
            for key in DYNAMODB_EVENT_PROPERTIES.iter().filter(|k| !matches!(**k, "Stream" | "DestinationConfig")) {
                if let Some(v) = props.get(*key) {
                    mapping[*key] = v.clone();
                }
            }
            // SAM's OnFailure also names the destination's Type, which the mapping does not take.
            if let Some(destination) = props.get("DestinationConfig").and_then(|d| d.get("OnFailure")) {
                let arn = destination.get("Destination").cloned().unwrap_or(Value::Null);
                mapping["DestinationConfig"] = json!({"OnFailure": {"Destination": arn}});
            }
            let mapping = t.resource(resource, "AWS::Lambda::EventSourceMapping", mapping);
            t.add(&format!("{fid}{eid}"), fid, mapping)?;
        }
        "" => return Err(t.error(path, format!("{fid}: event {eid} has no Type"))),
        other => {
            return Err(t.error(
                path,
                format!(
                    "{fid}: event {eid} of type {other} is not supported by Nimbus (supported: Api, HttpApi, Schedule, DynamoDB)"
                ),
            ))
        }
    }
    Ok(())
}

/// What a SAM DynamoDB event may set (its EventSourceMapping's properties).
const DYNAMODB_EVENT_PROPERTIES: &[&str] = &[
    "Stream",
    "StartingPosition",
    "BatchSize",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "Enabled",
    "FilterCriteria",
    "FunctionResponseTypes",
    "MaximumBatchingWindowInSeconds",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
];

/// Does an Events map have an event of type `ty`?
fn has_event_of_type(events: Option<&Value>, ty: &str) -> bool {
    events
        .and_then(Value::as_object)
        .is_some_and(|events| events.values().any(|e| e.get("Type").and_then(Value::as_str) == Some(ty)))
}

/// `rate(5 minutes)` or `cron(0 12 * * ? *)`, as EventBridge accepts them.
pub fn check_schedule(expression: &str) -> Result<(), String> {
    if let Some(inner) = expression.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let (n, unit) =
            inner.trim().split_once(' ').ok_or_else(|| format!("'{expression}': rate needs a value and a unit"))?;
        let n: u64 = n.parse().map_err(|_| format!("'{expression}': rate value must be a positive whole number"))?;
        let ok = match unit.trim() {
            "minute" | "hour" | "day" => n == 1,
            "minutes" | "hours" | "days" => n > 1,
            _ => false,
        };
        return if n > 0 && ok {
            Ok(())
        } else {
            Err(format!("'{expression}': use rate(1 minute) or rate(N minutes|hours|days)"))
        };
    }
    if let Some(inner) = expression.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "'{expression}': cron needs 6 fields (minutes hours day-of-month month day-of-week year)"
            ));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Err(format!("'{expression}': one of day-of-month and day-of-week must be ?"));
        }
        return Ok(());
    }
    Err(format!("'{expression}' is not a rate() or cron() expression"))
}
