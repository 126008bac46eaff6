//! Policy documents: JSON in, validated and compiled statements out.
//! Validation follows IAM's `MalformedPolicyDocument` messages.

use serde_json::{Map, Value};

use super::condition::Condition;
use super::pattern::Pattern;

/// What the document is attached as; each kind has its own required and
/// forbidden elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Inline or managed policy of a user, group or role; session policies.
    Identity,
    /// A role's AssumeRolePolicyDocument: principals, no resources.
    Trust,
    /// Attached to a resource (Lambda AddPermission): principals and resources.
    Resource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Patterns that either list what is matched (`Action`) or what is not (`NotAction`).
#[derive(Clone, Debug, Default)]
pub struct PatternSet {
    pub patterns: Vec<Pattern>,
    pub negated: bool,
}

/// Who a resource or trust policy statement names.
#[derive(Clone, Debug, Default)]
pub struct Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`.
    pub any: bool,
    /// AWS principals: ARNs, or account ids (normalised to `arn:aws:iam::ACCOUNT:root`).
    pub aws: Vec<String>,
    pub services: Vec<String>,
    pub federated: Vec<String>,
    pub negated: bool,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: PatternSet,
    /// `None` in trust policies, which have no Resource element.
    pub resources: Option<PatternSet>,
    pub principals: Option<Principals>,
    pub conditions: Vec<Condition>,
}

/// A parsed, validated policy document.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// A `MalformedPolicyDocument` message.
pub type Malformed = String;

impl Policy {
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, Malformed> {
        let value: Value = serde_json::from_str(text).map_err(|_| "This policy contains invalid Json".to_owned())?;
        let Value::Object(doc) = value else {
            return Err("This policy contains invalid Json".into());
        };
        for key in doc.keys() {
            if !matches!(key.as_str(), "Version" | "Statement" | "Id") {
                return Err(format!("Unknown field {key}"));
            }
        }
        match doc.get("Version") {
            None => {}
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            Some(_) => return Err("The policy failed legacy parsing".into()),
        }
        let statements = match doc.get("Statement") {
            None => return Err("Missing required field Statement".into()),
            Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
            Some(single @ Value::Object(_)) => vec![single],
            Some(_) => return Err("Syntax errors in policy.".into()),
        };
        if statements.is_empty() {
            return Err("Syntax errors in policy.".into());
        }
        let mut out = Vec::with_capacity(statements.len());
        for statement in statements {
            let Value::Object(map) = statement else {
                return Err("Syntax errors in policy.".into());
            };
            out.push(parse_statement(map, kind)?);
        }
        Ok(Policy { statements: out })
    }
}

fn parse_statement(map: &Map<String, Value>, kind: PolicyKind) -> Result<Statement, Malformed> {
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(format!("Unknown field {key}"));
        }
    }
    let effect = match map.get("Effect") {
        None => return Err("Missing required field Effect".into()),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(format!("Invalid effect: {e}")),
        Some(_) => return Err("Syntax errors in policy.".into()),
    };
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => {
            if !s.chars().all(|c| c.is_ascii_alphanumeric()) && kind == PolicyKind::Identity {
                return Err("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*".into());
            }
            Some(s.clone())
        }
        Some(_) => return Err("Syntax errors in policy.".into()),
    };

    let actions = match (map.get("Action"), map.get("NotAction")) {
        (Some(_), Some(_)) => return Err("Syntax errors in policy.".into()),
        (None, None) => return Err("Policy statement must contain actions.".into()),
        (Some(v), None) => PatternSet { patterns: action_patterns(v)?, negated: false },
        (None, Some(v)) => PatternSet { patterns: action_patterns(v)?, negated: true },
    };

    let resources = match (map.get("Resource"), map.get("NotResource")) {
        (Some(_), Some(_)) => return Err("Syntax errors in policy.".into()),
        (None, None) if kind == PolicyKind::Trust => None,
        (None, None) => return Err("Policy statement must contain resources.".into()),
        (Some(_), _) | (_, Some(_)) if kind == PolicyKind::Trust => {
            return Err("Has prohibited field Resource".into());
        }
        (Some(v), None) => Some(PatternSet { patterns: resource_patterns(v)?, negated: false }),
        (None, Some(v)) => Some(PatternSet { patterns: resource_patterns(v)?, negated: true }),
    };

    let principals = match (map.get("Principal"), map.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err("Syntax errors in policy.".into()),
        (None, None) if kind == PolicyKind::Identity => None,
        (None, None) => return Err("Missing required field Principal".into()),
        (Some(_), _) | (_, Some(_)) if kind == PolicyKind::Identity => {
            return Err("Policy document should not specify a principal.".into());
        }
        (Some(v), None) => Some(parse_principals(v, false)?),
        (None, Some(v)) => Some(parse_principals(v, true)?),
    };

    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => super::condition::parse_block(block)?,
        Some(_) => return Err("Syntax errors in policy.".into()),
    };
    Ok(Statement { sid, effect, actions, resources, principals, conditions })
}

/// A string or a non-empty list of strings.
fn strings(value: &Value) -> Result<Vec<&str>, Malformed> {
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) if !list.is_empty() => {
            list.iter().map(|v| v.as_str().ok_or_else(|| "Syntax errors in policy.".to_owned())).collect()
        }
        _ => Err("Syntax errors in policy.".into()),
    }
}

fn action_patterns(value: &Value) -> Result<Vec<Pattern>, Malformed> {
    strings(value)?
        .into_iter()
        .map(|action| {
            if action == "*" {
                return Ok(Pattern::Any);
            }
            let mut parts = action.split(':');
            let vendor = parts.next().unwrap_or("");
            match (parts.next(), parts.next()) {
                (Some(_), None) if !vendor.is_empty() => Ok(Pattern::action(action)),
                (Some(_), Some(_)) => Err("Actions/Condition can contain only one colon.".into()),
                _ => Err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.".into()),
            }
        })
        .collect()
}

fn resource_patterns(value: &Value) -> Result<Vec<Pattern>, Malformed> {
    strings(value)?
        .into_iter()
        .map(|resource| {
            if resource == "*" {
                return Ok(Pattern::Any);
            }
            let parts: Vec<&str> = resource.splitn(6, ':').collect();
            if parts.len() < 6 || parts[0] != "arn" {
                return Err(format!("Resource {resource} must be in ARN format or \"*\"."));
            }
            if parts[2].is_empty() {
                return Err("Resource vendor must be fully qualified and cannot contain regexes.".into());
            }
            Ok(Pattern::new(resource))
        })
        .collect()
}

fn parse_principals(value: &Value, negated: bool) -> Result<Principals, Malformed> {
    let mut out = Principals { negated, ..Principals::default() };
    match value {
        Value::String(s) if s == "*" => out.any = true,
        Value::Object(map) => {
            for (kind, v) in map {
                let names = strings(v).map_err(|_| "Invalid principal in policy".to_owned())?;
                match kind.as_str() {
                    "AWS" => {
                        for name in names {
                            if name == "*" {
                                out.any = true;
                            } else if name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit()) {
                                out.aws.push(format!("arn:aws:iam::{name}:root"));
                            } else if name.starts_with("arn:aws:iam::") || name.starts_with("arn:aws:sts::") {
                                out.aws.push(name.to_owned());
                            } else {
                                return Err(format!("Invalid principal in policy: \"AWS\":\"{name}\""));
                            }
                        }
                    }
                    "Service" => out.services.extend(names.into_iter().map(str::to_owned)),
                    "Federated" => out.federated.extend(names.into_iter().map(str::to_owned)),
                    "CanonicalUser" => {}
                    _ => return Err("Invalid principal in policy".into()),
                }
            }
        }
        _ => return Err("Invalid principal in policy".into()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, kind: PolicyKind) -> String {
        Policy::parse(text, kind).unwrap_err()
    }

    #[test]
    fn validation_messages() {
        assert_eq!(err("{", PolicyKind::Identity), "This policy contains invalid Json");
        assert_eq!(
            err(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#, PolicyKind::Identity),
            "Policy statement must contain actions."
        );
        assert_eq!(
            err(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#, PolicyKind::Identity),
            "Policy statement must contain resources."
        );
        assert_eq!(
            err(
                r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"*"}}"#,
                PolicyKind::Identity
            ),
            "Policy document should not specify a principal."
        );
        assert_eq!(
            err(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
                PolicyKind::Trust
            ),
            "Missing required field Principal"
        );
        assert_eq!(
            err(r#"{"Version":"2012-10-18","Statement":[]}"#, PolicyKind::Identity),
            "The policy failed legacy parsing"
        );
        assert_eq!(
            err(r#"{"Statement":{"Effect":"Allow","Action":"getitem","Resource":"*"}}"#, PolicyKind::Identity),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        );
        assert_eq!(
            err(r#"{"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"table"}}"#, PolicyKind::Identity),
            "Resource table must be in ARN format or \"*\"."
        );
    }

    #[test]
    fn trust_policy_principals() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000","Service":["lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let principals = p.statements[0].principals.as_ref().unwrap();
        assert_eq!(principals.aws, vec!["arn:aws:iam::000000000000:root"]);
        assert_eq!(principals.services, vec!["lambda.amazonaws.com"]);
    }
}
