//! Lambda proxy events, field for field as API Gateway builds them:
//! payload format 2.0 (HTTP APIs) and 1.0 (HTTP APIs and REST APIs).

use std::collections::BTreeMap;

use base64::Engine;
use http::HeaderMap;
use serde_json::{json, Map, Value};

/// What the data plane knows about a request when it builds the event.
pub struct RequestFacts<'a> {
    pub api_id: &'a str,
    pub account_id: &'a str,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub method: &'a str,
    /// The path as the client sent it (with the stage prefix, if any).
    pub raw_path: &'a str,
    /// The path the route matched (stage prefix removed).
    pub path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
    pub domain_name: String,
    pub route_key: &'a str,
    /// The route's resource template, e.g. `/pets/{id}` (or `$default`).
    pub resource: &'a str,
    pub path_parameters: &'a BTreeMap<String, String>,
    pub stage_variables: &'a BTreeMap<String, String>,
    pub epoch_millis: i64,
    /// Authorizer output for `requestContext.authorizer`, if any.
    pub authorizer: Option<Value>,
}

/// Content types whose bodies HTTP APIs pass as text; others are base64.
pub fn is_textual(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ct == "application/json"
        || ct.ends_with("+json")
        || ct == "application/xml"
        || ct.ends_with("+xml")
        || ct == "application/javascript"
        || ct == "application/ecmascript"
}

fn body_field(facts: &RequestFacts<'_>, textual: bool) -> (Value, bool) {
    if facts.body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(facts.body) {
        Ok(text) if textual => (Value::String(text.to_owned()), false),
        _ => (Value::String(base64::engine::general_purpose::STANDARD.encode(facts.body)), true),
    }
}

/// Query parameters in order, decoded (`+` is a space).
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let d =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (d(k), d(v))
        })
        .collect()
}

fn header_values(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        out.entry(name.as_str().to_owned()).or_default().push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out
}

fn user_agent(headers: &HeaderMap) -> String {
    headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// `12/Mar/2020:19:03:58 +0000`, the requestContext time format.
pub fn clf_time(epoch_millis: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = epoch_millis.div_euclid(1000);
    let (y, m, d) = nimbus_core::time::civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!("{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000", MONTHS[(m - 1) as usize], s / 3600, s / 60 % 60, s % 60)
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

/// Payload format 2.0.
pub fn v2(facts: &RequestFacts<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, values) in header_values(facts.headers) {
        if name == "cookie" {
            for value in &values {
                cookies.extend(value.split(';').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()));
            }
            continue;
        }
        headers.insert(name, Value::String(values.join(",")));
    }
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query_pairs(facts.raw_query) {
        query.entry(k).or_default().push(v);
    }
    let content_type = facts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let (body, is_base64) = body_field(facts, is_textual(content_type));

    let mut request_context = json!({
        "accountId": facts.account_id,
        "apiId": facts.api_id,
        "domainName": facts.domain_name,
        "domainPrefix": facts.api_id,
        "http": {
            "method": facts.method,
            "path": facts.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": facts.source_ip,
            "userAgent": user_agent(facts.headers),
        },
        "requestId": facts.request_id,
        "routeKey": facts.route_key,
        "stage": facts.stage,
        "time": clf_time(facts.epoch_millis),
        "timeEpoch": facts.epoch_millis,
    });
    if let Some(authorizer) = &facts.authorizer {
        request_context["authorizer"] = authorizer.clone();
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": facts.route_key,
        "rawPath": facts.raw_path,
        "rawQueryString": facts.raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        let joined: BTreeMap<String, String> = query.into_iter().map(|(k, v)| (k, v.join(","))).collect();
        event["queryStringParameters"] = json!(joined);
    }
    if !facts.path_parameters.is_empty() {
        event["pathParameters"] = json!(facts.path_parameters);
    }
    if !facts.stage_variables.is_empty() {
        event["stageVariables"] = json!(facts.stage_variables);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// Payload format 1.0 (`with_version` adds `"version": "1.0"`, which HTTP
/// APIs send and REST APIs do not).
pub fn v1(facts: &RequestFacts<'_>, with_version: bool, textual: bool) -> Value {
    let values = header_values(facts.headers);
    let headers: BTreeMap<&String, &String> =
        values.iter().filter_map(|(k, v)| v.last().map(|last| (k, last))).collect();
    let mut multi_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query_pairs(facts.raw_query) {
        multi_query.entry(k).or_default().push(v);
    }
    let single_query: BTreeMap<&String, &String> =
        multi_query.iter().filter_map(|(k, v)| v.last().map(|last| (k, last))).collect();
    let (body, is_base64) = body_field(facts, textual);
    let resource = if facts.resource == "$default" { facts.path } else { facts.resource };
    let mut request_context = json!({
        "accountId": facts.account_id,
        "apiId": facts.api_id,
        "domainName": facts.domain_name,
        "domainPrefix": facts.api_id,
        "extendedRequestId": facts.request_id,
        "httpMethod": facts.method,
        "identity": {
            "accessKey": null,
            "accountId": null,
            "caller": null,
            "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null,
            "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null,
            "principalOrgId": null,
            "sourceIp": facts.source_ip,
            "user": null,
            "userAgent": user_agent(facts.headers),
            "userArn": null,
        },
        "path": facts.raw_path,
        "protocol": "HTTP/1.1",
        "requestId": facts.request_id,
        "requestTime": clf_time(facts.epoch_millis),
        "requestTimeEpoch": facts.epoch_millis,
        "resourceId": facts.route_key,
        "resourcePath": resource,
        "stage": facts.stage,
    });
    if let Some(authorizer) = &facts.authorizer {
        request_context["authorizer"] = authorizer.clone();
    }
    let mut event = json!({
        "resource": resource,
        "path": facts.path,
        "httpMethod": facts.method,
        "headers": if headers.is_empty() { Value::Null } else { json!(headers) },
        "multiValueHeaders": if values.is_empty() { Value::Null } else { json!(values) },
        "queryStringParameters": if single_query.is_empty() { Value::Null } else { json!(single_query) },
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
        "requestContext": request_context,
        "pathParameters": string_map(facts.path_parameters),
        "stageVariables": string_map(facts.stage_variables),
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if with_version {
        event["version"] = json!("1.0");
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_time_matches_api_gateway() {
        assert_eq!(clf_time(1583348638390), "04/Mar/2020:19:03:58 +0000");
    }

    #[test]
    fn textual_types() {
        assert!(is_textual(Some("application/json; charset=utf-8")));
        assert!(is_textual(Some("text/plain")));
        assert!(is_textual(None));
        assert!(!is_textual(Some("application/octet-stream")));
        assert!(!is_textual(Some("application/x-www-form-urlencoded")));
    }
}
