//! JWT authorizers of HTTP APIs: the token's RS256 signature checked against
//! the issuer's published keys (OIDC discovery → JWKS, cached), then its
//! issuer, audience, lifetime and the route's scopes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;

use super::authorizers::Decision;
use crate::v2::model::JwtConfiguration;

/// How long fetched keys are trusted before they are fetched again.
const KEY_CACHE: Duration = Duration::from_secs(3600);

pub struct Jwt {
    client: Client<HttpConnector, Empty<Bytes>>,
    /// Keys by issuer, with when they were fetched.
    keys: Mutex<HashMap<String, (Instant, KeySet)>>,
}

/// An issuer's signing keys by key id.
type KeySet = HashMap<String, RsaPublicKey>;

impl Default for Jwt {
    fn default() -> Self {
        Jwt { client: Client::builder(TokioExecutor::new()).build_http(), keys: Mutex::new(HashMap::new()) }
    }
}

fn b64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

impl Jwt {
    async fn get_json(&self, url: &str) -> Option<Value> {
        let request = Request::get(url).body(Empty::new()).ok()?;
        let response = tokio::time::timeout(Duration::from_secs(5), self.client.request(request)).await.ok()?.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = Limited::new(response.into_body(), 1 << 20).collect().await.ok()?.to_bytes();
        serde_json::from_slice(&body).ok()
    }

    /// The issuer's keys, from cache or from its discovery document.
    async fn issuer_keys(&self, issuer: &str) -> Option<KeySet> {
        if let Some((at, keys)) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get(issuer) {
            if at.elapsed() < KEY_CACHE {
                return Some(keys.clone());
            }
        }
        let discovery =
            self.get_json(&format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))).await?;
        let jwks = self.get_json(discovery.get("jwks_uri")?.as_str()?).await?;
        let mut keys = HashMap::new();
        for key in jwks.get("keys")?.as_array()? {
            if key.get("kty").and_then(Value::as_str) != Some("RSA") {
                continue;
            }
            let n = BigUint::from_bytes_be(&b64(key.get("n")?.as_str()?)?);
            let e = BigUint::from_bytes_be(&b64(key.get("e")?.as_str()?)?);
            let kid = key.get("kid").and_then(Value::as_str).unwrap_or("").to_owned();
            if let Ok(public) = RsaPublicKey::new(n, e) {
                keys.insert(kid, public);
            }
        }
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).insert(issuer.to_owned(), (Instant::now(), keys.clone()));
        Some(keys)
    }

    /// Validate `token` for a route needing `scopes` (any one of them).
    pub async fn authorize(&self, config: &JwtConfiguration, token: &str, scopes: &[String], now: i64) -> Decision {
        let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
        let Some(issuer) = config.issuer.as_deref() else { return Decision::Failed };
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else { return Decision::Unauthorized };
        let (Some(header_json), Some(claims_json), Some(signature)) = (b64(header), b64(payload), b64(signature))
        else {
            return Decision::Unauthorized;
        };
        let (Ok(header_value), Ok(claims)) =
            (serde_json::from_slice::<Value>(&header_json), serde_json::from_slice::<Value>(&claims_json))
        else {
            return Decision::Unauthorized;
        };
        if header_value.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Decision::Unauthorized;
        }
        let Some(keys) = self.issuer_keys(issuer).await else { return Decision::Unauthorized };
        let kid = header_value.get("kid").and_then(Value::as_str).unwrap_or("");
        let Some(key) = keys.get(kid).or_else(|| if keys.len() == 1 { keys.values().next() } else { None }) else {
            return Decision::Unauthorized;
        };
        let Ok(signature) = Signature::try_from(signature.as_slice()) else { return Decision::Unauthorized };
        let signed = format!("{header}.{payload}");
        if VerifyingKey::<Sha256>::new(key.clone()).verify(signed.as_bytes(), &signature).is_err() {
            return Decision::Unauthorized;
        }
        if !claims_ok(&claims, issuer, &config.audience, now) {
            return Decision::Unauthorized;
        }
        let granted = token_scopes(&claims);
        if !scopes.is_empty() && !scopes.iter().any(|s| granted.contains(s)) {
            return Decision::NotAllowed;
        }
        let claims_text: serde_json::Map<String, Value> = claims
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), Value::String(claim_text(v)))).collect())
            .unwrap_or_default();
        let scopes_value = if granted.is_empty() { Value::Null } else { json!(granted) };
        Decision::Allow(json!({ "jwt": { "claims": claims_text, "scopes": scopes_value } }))
    }
}

/// Claims reach the function as strings (arrays as `[a b]`), as AWS passes them.
fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

fn token_scopes(claims: &Value) -> Vec<String> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec![],
    }
}

/// Issuer, audience (`aud`, or `client_id` for access tokens), `exp`, `nbf`.
fn claims_ok(claims: &Value, issuer: &str, audience: &[String], now: i64) -> bool {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return false;
    }
    let mut audiences: Vec<String> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => vec![],
    };
    if let Some(client) = claims.get("client_id").and_then(Value::as_str) {
        audiences.push(client.to_owned());
    }
    if !audience.is_empty() && !audiences.iter().any(|a| audience.contains(a)) {
        return false;
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        _ => return false,
    }
    if claims.get("nbf").and_then(Value::as_i64).is_some_and(|nbf| nbf > now) {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_checked() {
        let now = 1_000;
        let good = json!({"iss": "https://idp", "aud": "app", "exp": 2000});
        assert!(claims_ok(&good, "https://idp", &["app".into()], now));
        assert!(!claims_ok(&good, "https://other", &["app".into()], now));
        assert!(!claims_ok(&good, "https://idp", &["web".into()], now));
        assert!(!claims_ok(&json!({"iss": "https://idp", "aud": "app", "exp": 999}), "https://idp", &[], now));
        assert!(!claims_ok(&json!({"iss": "https://idp", "exp": 2000, "nbf": 1500}), "https://idp", &[], now));
        assert!(claims_ok(
            &json!({"iss": "https://idp", "client_id": "app", "exp": 2000}),
            "https://idp",
            &["app".into()],
            now
        ));
    }

    #[test]
    fn scopes_and_claim_text() {
        assert_eq!(token_scopes(&json!({"scope": "read write"})), vec!["read", "write"]);
        assert_eq!(claim_text(&json!(["a", "b"])), "[a b]");
        assert_eq!(claim_text(&json!(5)), "5");
    }
}
