//! AWS::Lambda::Permission: a statement in the function's resource policy
//! (AddPermission). The statement id is generated, as CloudFormation does,
//! and is the Ref. Any change replaces the statement.

use http::Method;
use serde_json::{json, Value};

use super::{generated_name, required_str, seg, Ctx, Existing, Provisioned, Result};
use crate::api::ApiCall;

/// `FunctionName` may be a name, an ARN, or an alias/version ARN; the path
/// takes the unqualified part and the qualifier goes in the query.
fn split_qualifier(function: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = function.split(':').collect();
    if parts.len() == 8 && parts[0] == "arn" {
        return (parts[..7].join(":"), Some(parts[7].to_owned()));
    }
    (function.to_owned(), None)
}

fn policy_path(function: &str, qualifier: &Option<String>, statement: Option<&str>) -> String {
    let mut path = format!("/2015-03-31/functions/{}/policy", seg(function));
    if let Some(s) = statement {
        path.push('/');
        path.push_str(&seg(s));
    }
    if let Some(q) = qualifier {
        path.push_str(&format!("?Qualifier={}", seg(q)));
    }
    path
}

pub async fn create(ctx: &Ctx<'_>, props: &Value) -> Result<Provisioned> {
    let (function, qualifier) = split_qualifier(&required_str(props, "FunctionName")?);
    let statement_id = generated_name(ctx, 100);
    let mut body = json!({
        "StatementId": statement_id,
        "Action": required_str(props, "Action")?,
        "Principal": required_str(props, "Principal")?,
    });
    for key in ["SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID", "FunctionUrlAuthType"] {
        if let Some(v) = props.get(key) {
            body[key] = v.clone();
        }
    }
    ctx.api.call("lambda", ApiCall::rest(Method::POST, policy_path(&function, &qualifier, None), Some(body))).await?;
    Ok(Provisioned::named(statement_id))
}

pub async fn delete(ctx: &Ctx<'_>, old: &Existing<'_>) -> Result<()> {
    let function = old.properties.get("FunctionName").and_then(Value::as_str).unwrap_or_default();
    let (function, qualifier) = split_qualifier(function);
    let path = policy_path(&function, &qualifier, Some(old.physical_id));
    ctx.api.call("lambda", ApiCall::rest(Method::DELETE, path, None)).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_split_from_alias_arns() {
        assert_eq!(split_qualifier("fn"), ("fn".into(), None));
        assert_eq!(
            split_qualifier("arn:aws:lambda:us-east-1:0:function:fn:live"),
            ("arn:aws:lambda:us-east-1:0:function:fn".into(), Some("live".into()))
        );
        assert_eq!(
            policy_path("fn", &Some("live".into()), Some("s1")),
            "/2015-03-31/functions/fn/policy/s1?Qualifier=live"
        );
    }
}
