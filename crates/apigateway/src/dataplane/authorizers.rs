//! Lambda authorizers: TOKEN and REQUEST (REST APIs) and REQUEST with simple
//! or IAM-policy responses (HTTP APIs), with result caching by identity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nimbus_core::Invoker;
use serde_json::{json, Map, Value};

/// What an authorizer decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Go on; the value is `requestContext.authorizer`.
    Allow(Value),
    /// No identity (401 Unauthorized).
    Unauthorized,
    /// A policy denied explicitly (403).
    ExplicitDeny,
    /// Nothing allowed it (403).
    NotAllowed,
    /// The authorizer failed or answered nonsense (500).
    Failed,
}

/// Cached decisions by (authorizer id, identity), until their TTL passes.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<(String, String), (Instant, Decision)>>,
}

impl Cache {
    pub fn get(&self, authorizer: &str, identity: &str) -> Option<Decision> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (authorizer.to_owned(), identity.to_owned());
        match entries.get(&key) {
            Some((until, decision)) if *until > Instant::now() => Some(decision.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, authorizer: &str, identity: &str, ttl_seconds: i64, decision: &Decision) {
        if ttl_seconds <= 0 || matches!(decision, Decision::Failed | Decision::Unauthorized) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 100_000 {
            entries.clear();
        }
        let until = Instant::now() + Duration::from_secs(ttl_seconds as u64);
        entries.insert((authorizer.to_owned(), identity.to_owned()), (until, decision.clone()));
    }
}

/// The value of an identity source, in REST syntax
/// (`method.request.header.X`, `method.request.querystring.Y`) or HTTP API
/// syntax (`$request.header.X`, `$request.querystring.Y`), or a stage variable.
pub fn identity_value(source: &str, facts: &super::events::RequestFacts<'_>) -> Option<String> {
    let source = source.strip_prefix("method.").unwrap_or(source).trim_start_matches('$');
    if let Some(name) = source.strip_prefix("request.header.") {
        return facts.headers.get(name.to_ascii_lowercase()).and_then(|v| v.to_str().ok()).map(str::to_owned);
    }
    if let Some(name) = source.strip_prefix("request.querystring.") {
        return super::events::query_pairs(facts.raw_query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v);
    }
    if let Some(name) = source.strip_prefix("stageVariables.") {
        return facts.stage_variables.get(name).cloned();
    }
    None
}

/// `*` and `?` wildcards, as policy resources use them.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec![],
    }
}

/// Evaluate an authorizer's IAM policy against `method_arn`.
pub fn evaluate_policy(output: &Value, method_arn: &str) -> Decision {
    let Some(document) = output.get("policyDocument") else { return Decision::Failed };
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return Decision::Failed,
    };
    let mut allowed = false;
    for statement in &statements {
        let applies =
            strings(statement.get("Action")).iter().any(|a| glob(&a.to_ascii_lowercase(), "execute-api:invoke"))
                && strings(statement.get("Resource")).iter().any(|r| glob(r, method_arn));
        if !applies {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if !allowed {
        return Decision::NotAllowed;
    }
    Decision::Allow(authorizer_context(output))
}

/// `requestContext.authorizer` for REST APIs and 1.0-format HTTP API
/// authorizers: the context's entries plus `principalId`.
fn authorizer_context(output: &Value) -> Value {
    let mut context = Map::new();
    if let Some(Value::Object(map)) = output.get("context") {
        for (k, v) in map {
            context.insert(k.clone(), v.clone());
        }
    }
    if let Some(principal) = output.get("principalId") {
        context.insert("principalId".into(), principal.clone());
    }
    Value::Object(context)
}

/// Invoke the authorizer function with `event` and return its JSON output.
pub async fn call(invoker: &Arc<dyn Invoker>, uri: &str, event: Value) -> Option<Value> {
    let outcome = super::lambda::invoke(invoker, uri, Bytes::from(event.to_string())).await.ok()?;
    if outcome.function_error.is_some() {
        return None;
    }
    serde_json::from_slice(&outcome.payload).ok()
}

/// An HTTP API authorizer's answer: simple (`isAuthorized`) or a policy.
pub fn http_api_decision(output: &Value, simple: bool, route_arn: &str) -> Decision {
    if simple {
        return match output.get("isAuthorized").and_then(Value::as_bool) {
            Some(true) => Decision::Allow(json!({ "lambda": output.get("context").cloned().unwrap_or(json!({})) })),
            Some(false) => Decision::NotAllowed,
            None => Decision::Failed,
        };
    }
    match evaluate_policy(output, route_arn) {
        Decision::Allow(context) => {
            let mut lambda = context;
            if let Some(map) = lambda.as_object_mut() {
                map.remove("principalId");
            }
            let mut out = json!({ "lambda": lambda });
            if let Some(principal) = output.get("principalId") {
                out["principalId"] = principal.clone();
            }
            Decision::Allow(out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("arn:aws:execute-api:*:*:abc/*/GET/*", "arn:aws:execute-api:us-east-1:1:abc/prod/GET/pets"));
        assert!(!glob("arn:aws:execute-api:*:*:abc/*/POST/*", "arn:aws:execute-api:us-east-1:1:abc/prod/GET/pets"));
        assert!(glob("a?c", "abc") && !glob("a?c", "abbc"));
    }

    #[test]
    fn deny_beats_allow_and_context_is_kept() {
        let arn = "arn:aws:execute-api:us-east-1:1:abc/prod/GET/pets";
        let allow = json!({"principalId": "u1", "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*"}]},
            "context": {"tier": "gold"}});
        assert_eq!(evaluate_policy(&allow, arn), Decision::Allow(json!({"principalId": "u1", "tier": "gold"})));
        let deny = json!({"principalId": "u1", "policyDocument": {"Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
            {"Action": "execute-api:*", "Effect": "Deny", "Resource": [arn]}]}});
        assert_eq!(evaluate_policy(&deny, arn), Decision::ExplicitDeny);
        let other = json!({"policyDocument": {"Statement": {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:other"}}});
        assert_eq!(evaluate_policy(&other, arn), Decision::NotAllowed);
        assert_eq!(evaluate_policy(&json!({}), arn), Decision::Failed);
    }
}
