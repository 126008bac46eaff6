//! AWS::IAM::Policy: an inline policy put on each of its roles (PutRolePolicy).
//! Ref: the policy name. Users and groups are not supported.

use serde_json::Value;

use super::iam_role::document_text;
use super::{invalid, required_str, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;
use crate::template::intrinsics::to_text;

fn roles(props: &Value) -> Vec<String> {
    props.get("Roles").and_then(Value::as_array).map(|a| a.iter().filter_map(to_text).collect()).unwrap_or_default()
}

fn put(role: &str, name: &str, doc: &str) -> ApiCall {
    ApiCall::query(
        "PutRolePolicy",
        "2010-05-08",
        vec![
            ("RoleName".into(), role.into()),
            ("PolicyName".into(), name.into()),
            ("PolicyDocument".into(), doc.into()),
        ],
    )
}

fn remove(role: &str, name: &str) -> ApiCall {
    ApiCall::query(
        "DeleteRolePolicy",
        "2010-05-08",
        vec![("RoleName".into(), role.into()), ("PolicyName".into(), name.into())],
    )
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let name = required_str(props, "PolicyName")?;
    if props.get("Users").is_some() || props.get("Groups").is_some() {
        return Err(invalid("AWS::IAM::Policy on Users or Groups is not supported by Nimbus; use Roles"));
    }
    let doc = document_text(props.get("PolicyDocument").ok_or_else(|| invalid("PolicyDocument is required"))?);
    if super::iam_absent(ctx) {
        return Ok(Provisioned::named(name));
    }
    for role in roles(props) {
        ctx.api.call("iam", put(&role, &name, &doc)).await?;
    }
    Ok(Provisioned::named(name))
}

pub async fn update(ctx: &Ctx<'_>, old: &Existing<'_>, props: &Value) -> Result<Provisioned> {
    let name = old.physical_id;
    if super::iam_absent(ctx) {
        return Ok(Provisioned::named(name));
    }
    let after = roles(props);
    for role in roles(old.properties).iter().filter(|r| !after.contains(r)) {
        match ctx.api.call("iam", remove(role, name)).await {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    let doc = document_text(props.get("PolicyDocument").ok_or_else(|| invalid("PolicyDocument is required"))?);
    for role in &after {
        ctx.api.call("iam", put(role, name, &doc)).await?;
    }
    Ok(Provisioned::named(name))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    if super::iam_absent(ctx) {
        return Ok(());
    }
    for role in roles(old.properties) {
        match ctx.api.call("iam", remove(&role, old.physical_id)).await {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    Ok(())
}
