//! AddPermission, RemovePermission, GetPolicy (the function's resource
//! policy), and TagResource, UntagResource, ListTags.

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Map, Value};

use super::{body_json, empty_response, json_response, parse_function_ref, qualifier};
use crate::engine::Engine;
use crate::model::{function_arn, not_found, qualified_arn};

/// Principal as a policy statement writes it.
fn principal(text: &str) -> Value {
    if text == "*" {
        json!("*")
    } else if text.ends_with(".amazonaws.com") || text.ends_with(".amazonaws.com.cn") {
        json!({ "Service": text })
    } else if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{text}:root") })
    } else {
        json!({ "AWS": text })
    }
}

pub async fn add_permission(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?.unwrap_or_default();
    request.authorize("lambda:AddPermission", &qualified_arn(&engine.ctx, &name, Some(&qualifier)))?;
    if !qualifier.is_empty() {
        super::resolve(engine, &name, Some(&qualifier), false)?;
    }
    let body = body_json(request)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let sid = text("StatementId").unwrap_or_default();
    let mut v = crate::util::Violations::default();
    if !crate::util::is_name(&sid) {
        v.add(&sid, "statementId", "must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
    }
    v.max_len(&sid, "statementId", 100);
    v.into_result()?;
    let action = text("Action").unwrap_or_default();
    if !(action.starts_with("lambda:") || action == "*") {
        let mut v = crate::util::Violations::default();
        v.add(&action, "action", "must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])");
        v.into_result()?;
    }
    let resource = match qualifier.as_str() {
        "" => function_arn(&engine.ctx, &name),
        q => format!("{}:{q}", function_arn(&engine.ctx, &name)),
    };
    let mut statement = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal(&text("Principal").unwrap_or_default()),
        "Action": action,
        "Resource": resource,
    });
    let mut condition = Map::new();
    if let Some(arn) = text("SourceArn") {
        condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": arn }));
    }
    let mut equals = Map::new();
    if let Some(account) = text("SourceAccount") {
        equals.insert("AWS:SourceAccount".into(), account.into());
    }
    if let Some(org) = text("PrincipalOrgID") {
        equals.insert("aws:PrincipalOrgID".into(), org.into());
    }
    if let Some(token) = text("EventSourceToken") {
        equals.insert("lambda:EventSourceToken".into(), token.into());
    }
    if let Some(auth) = text("FunctionUrlAuthType") {
        equals.insert("lambda:FunctionUrlAuthType".into(), auth.into());
    }
    if !equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(equals));
    }
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    let revision = text("RevisionId");
    let stored = statement.clone();
    let scope = qualifier.clone();
    let updated = engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            if revision.is_some_and(|rev| rev != r.revision_id) {
                return Err(AwsError::new(
                    412,
                    "PreconditionFailedException",
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                ));
            }
            let statements = r.policies.entry(qualifier).or_default();
            if statements.iter().any(|s| s["Sid"] == stored["Sid"]) {
                return Err(AwsError::new(
                    409,
                    "ResourceConflictException",
                    "The statement id (sid) provided already exists. Please choose a new statement id, or remove the existing statement.",
                ));
            }
            statements.push(stored);
            Ok(())
        })
        .await?;
    engine.iam.publish_policy(&engine.ctx, &updated, &scope);
    Ok(json_response(201, &json!({ "Statement": statement.to_string() })))
}

pub async fn remove_permission(
    engine: &Arc<Engine>,
    request: &AwsRequest,
    name: &str,
    sid: &str,
) -> Result<AwsResponse, AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?.unwrap_or_default();
    request.authorize("lambda:RemovePermission", &qualified_arn(&engine.ctx, &name, Some(&qualifier)))?;
    let sid = sid.to_owned();
    let scope = qualifier.clone();
    let updated = engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            let statements = r.policies.entry(qualifier.clone()).or_default();
            let before = statements.len();
            statements.retain(|s| s["Sid"] != sid.as_str());
            if statements.len() == before {
                return Err(AwsError::new(
                    404,
                    "ResourceNotFoundException",
                    "Statement sid is not found in resource policy.",
                ));
            }
            if statements.is_empty() {
                r.policies.remove(&qualifier);
            }
            Ok(())
        })
        .await?;
    engine.iam.publish_policy(&engine.ctx, &updated, &scope);
    Ok(empty_response(204))
}

pub fn get_policy(engine: &Arc<Engine>, request: &AwsRequest, name: &str) -> Result<AwsResponse, AwsError> {
    let (name, from_name) = parse_function_ref(name)?;
    let qualifier = qualifier(request, from_name)?.unwrap_or_default();
    request.authorize("lambda:GetPolicy", &qualified_arn(&engine.ctx, &name, Some(&qualifier)))?;
    let record = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    let Some(statements) = record.policies.get(&qualifier).filter(|s| !s.is_empty()) else {
        return Err(AwsError::new(404, "ResourceNotFoundException", "The resource you requested does not exist."));
    };
    let policy = json!({ "Version": "2012-10-17", "Id": "default", "Statement": statements });
    Ok(json_response(200, &json!({ "Policy": policy.to_string(), "RevisionId": record.revision_id })))
}

/// The function an ARN in `/2017-03-31/tags/{ARN}` names.
fn tagged_function(engine: &Engine, request: &AwsRequest, arn: &str, action: &str) -> Result<String, AwsError> {
    request.authorize(action, arn)?;
    let parsed = nimbus_core::arn::Arn::parse(arn).filter(|a| a.service == "lambda");
    let Some(name) = parsed.and_then(|a| a.resource.strip_prefix("function:").map(str::to_owned)) else {
        return Err(AwsError::new(400, "InvalidParameterValueException", format!("Invalid resource ARN: {arn}")));
    };
    if name.contains(':') {
        return Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            "Tags are not supported on function versions or aliases.",
        ));
    }
    if engine.functions.get(&name)?.is_none() {
        return Err(not_found(&engine.ctx, &name));
    }
    Ok(name)
}

pub fn list_tags(engine: &Arc<Engine>, request: &AwsRequest, arn: &str) -> Result<AwsResponse, AwsError> {
    let name = tagged_function(engine, request, arn, "lambda:ListTags")?;
    let record = engine.functions.get(&name)?.ok_or_else(|| not_found(&engine.ctx, &name))?;
    Ok(json_response(200, &json!({ "Tags": record.tags })))
}

pub async fn tag_resource(engine: &Arc<Engine>, request: &AwsRequest, arn: &str) -> Result<AwsResponse, AwsError> {
    let name = tagged_function(engine, request, arn, "lambda:TagResource")?;
    let body = body_json(request)?;
    let tags: Vec<(String, String)> = body
        .get("Tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            r.tags.extend(tags);
            if r.tags.len() > 50 {
                return Err(AwsError::new(
                    400,
                    "InvalidParameterValueException",
                    "Number of tags exceeds resource tag limit.",
                ));
            }
            Ok(())
        })
        .await?;
    Ok(empty_response(204))
}

pub async fn untag_resource(engine: &Arc<Engine>, request: &AwsRequest, arn: &str) -> Result<AwsResponse, AwsError> {
    let name = tagged_function(engine, request, arn, "lambda:UntagResource")?;
    let keys = super::query_params(request, "tagKeys");
    engine
        .functions
        .update(&engine.ctx, &name, move |r| {
            for k in &keys {
                r.tags.remove(k);
            }
            Ok(())
        })
        .await?;
    Ok(empty_response(204))
}
