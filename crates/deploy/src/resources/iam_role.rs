//! AWS::IAM::Role through IAM's awsQuery API: the role, its managed policy
//! attachments and inline policies. Ref: the role name. GetAtt: Arn, RoleId.

use serde_json::Value;

use super::{generated_name, invalid, optional_str, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;
use crate::template::intrinsics::to_text;

const VERSION: &str = "2010-05-08";

fn call(action: &str, params: Vec<(&str, String)>) -> ApiCall {
    ApiCall::query(action, VERSION, params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A policy document as IAM takes it: JSON text.
pub fn document_text(doc: &Value) -> String {
    match doc {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn managed_arns(props: &Value) -> Vec<String> {
    props
        .get("ManagedPolicyArns")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(to_text).collect())
        .unwrap_or_default()
}

/// Inline policies as (name, document text).
fn inline_policies(props: &Value) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for p in props.get("Policies").and_then(Value::as_array).into_iter().flatten() {
        let name =
            p.get("PolicyName").and_then(to_text).ok_or_else(|| invalid("each of Policies needs a PolicyName"))?;
        let doc = p.get("PolicyDocument").ok_or_else(|| invalid(format!("policy {name} needs a PolicyDocument")))?;
        out.push((name, document_text(doc)));
    }
    Ok(out)
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = optional_str(props, "RoleName").unwrap_or_else(|| generated_name(ctx, 64));
    let assume =
        props.get("AssumeRolePolicyDocument").ok_or_else(|| invalid("AssumeRolePolicyDocument is required"))?;
    if super::iam_absent(ctx) {
        return Ok(outcome(ctx, &name, props, &Value::Null));
    }
    let mut params = vec![("RoleName", name.clone()), ("AssumeRolePolicyDocument", document_text(assume))];
    for key in ["Path", "Description", "PermissionsBoundary", "MaxSessionDuration"] {
        if let Some(v) = optional_str(props, key) {
            params.push((key, v));
        }
    }
    let mut tag_params = Vec::new();
    for (i, t) in props.get("Tags").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let (Some(k), Some(v)) = (t.get("Key").and_then(to_text), t.get("Value").and_then(to_text)) {
            tag_params.push((format!("Tags.member.{}.Key", i + 1), k));
            tag_params.push((format!("Tags.member.{}.Value", i + 1), v));
        }
    }
    let mut call = call("CreateRole", params);
    if let crate::api::Body::Form(fields) = &mut call.body {
        fields.extend(tag_params);
    }
    let response = ctx.api.call("iam", call).await?;
    let role = &response["CreateRoleResult"]["Role"];
    for arn in managed_arns(props) {
        ctx.api
            .call("iam", self::call("AttachRolePolicy", vec![("RoleName", name.clone()), ("PolicyArn", arn)]))
            .await?;
    }
    for (policy, doc) in inline_policies(props)? {
        ctx.api
            .call(
                "iam",
                self::call(
                    "PutRolePolicy",
                    vec![("RoleName", name.clone()), ("PolicyName", policy), ("PolicyDocument", doc)],
                ),
            )
            .await?;
    }
    Ok(outcome(ctx, &name, props, role))
}

fn outcome(ctx: &Ctx<'_>, name: &str, props: &Value, role: &Value) -> Provisioned {
    let path = optional_str(props, "Path").unwrap_or_else(|| "/".into());
    let arn = role
        .get("Arn")
        .and_then(to_text)
        .unwrap_or_else(|| format!("arn:aws:iam::{}:role{path}{name}", ctx.account_id));
    let mut p = Provisioned::named(name).with("Arn", arn);
    if let Some(id) = role.get("RoleId") {
        p = p.with("RoleId", id.clone());
    }
    p
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id.to_owned();
    if super::iam_absent(ctx) {
        return Ok(outcome(ctx, &name, props, &Value::Null));
    }
    if old.properties.get("AssumeRolePolicyDocument") != props.get("AssumeRolePolicyDocument") {
        let doc = props.get("AssumeRolePolicyDocument").map(document_text).unwrap_or_default();
        ctx.api
            .call("iam", call("UpdateAssumeRolePolicy", vec![("RoleName", name.clone()), ("PolicyDocument", doc)]))
            .await?;
    }
    let (before, after) = (managed_arns(old.properties), managed_arns(props));
    for arn in before.iter().filter(|a| !after.contains(a)) {
        ctx.api
            .call("iam", call("DetachRolePolicy", vec![("RoleName", name.clone()), ("PolicyArn", arn.clone())]))
            .await?;
    }
    for arn in after.iter().filter(|a| !before.contains(a)) {
        ctx.api
            .call("iam", call("AttachRolePolicy", vec![("RoleName", name.clone()), ("PolicyArn", arn.clone())]))
            .await?;
    }
    let (before, after) = (inline_policies(old.properties)?, inline_policies(props)?);
    for (policy, _) in before.iter().filter(|(n, _)| !after.iter().any(|(m, _)| m == n)) {
        ctx.api
            .call("iam", call("DeleteRolePolicy", vec![("RoleName", name.clone()), ("PolicyName", policy.clone())]))
            .await?;
    }
    for (policy, doc) in after.iter().filter(|p| !before.contains(p)) {
        ctx.api
            .call(
                "iam",
                call(
                    "PutRolePolicy",
                    vec![("RoleName", name.clone()), ("PolicyName", policy.clone()), ("PolicyDocument", doc.clone())],
                ),
            )
            .await?;
    }
    let role = match old.attributes.get("RoleId") {
        Some(id) => serde_json::json!({"Arn": old.attributes.get("Arn"), "RoleId": id}),
        None => serde_json::json!({"Arn": old.attributes.get("Arn")}),
    };
    Ok(outcome(ctx, &name, props, &role))
}

/// IAM refuses to delete a role with policies: detach and delete them first.
pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let name = old.physical_id.to_owned();
    if super::iam_absent(ctx) {
        return Ok(());
    }
    for arn in managed_arns(old.properties) {
        let r =
            ctx.api.call("iam", call("DetachRolePolicy", vec![("RoleName", name.clone()), ("PolicyArn", arn)])).await;
        ignore_missing(r)?;
    }
    for (policy, _) in inline_policies(old.properties)? {
        let r = ctx
            .api
            .call("iam", call("DeleteRolePolicy", vec![("RoleName", name.clone()), ("PolicyName", policy)]))
            .await;
        ignore_missing(r)?;
    }
    ctx.api.call("iam", call("DeleteRole", vec![("RoleName", name)])).await.map(drop)
}

fn ignore_missing(r: Result<Value>) -> Result<()> {
    match r {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}
