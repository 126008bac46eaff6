//! Lambda proxy events, field for field as API Gateway builds them:
//! payload format 2.0 (HTTP APIs) and 1.0 (HTTP APIs and REST APIs).

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use http::header::GetAll;
use http::{HeaderMap, HeaderValue};
use serde::{Serialize, Serializer};
use serde_json::Value;

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

/// The event's `body` and `isBase64Encoded`: text as it is, anything else
/// (or text that is not UTF-8) base64-encoded.
fn body_field<'a>(facts: &RequestFacts<'a>, textual: bool) -> (Option<Cow<'a, str>>, bool) {
    if facts.body.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(facts.body) {
        Ok(text) if textual => (Some(Cow::Borrowed(text)), false),
        _ => (Some(Cow::Owned(base64::engine::general_purpose::STANDARD.encode(facts.body))), true),
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

fn text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Headers with one value per name: 2.0 joins repeated headers with commas
/// and leaves `cookie` to the `cookies` field; 1.0 keeps the last value.
struct SingleValueHeaders<'a> {
    headers: &'a HeaderMap,
    version_2: bool,
}

impl Serialize for SingleValueHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.headers.keys().filter(|name| !(self.version_2 && *name == http::header::COOKIE));
        serializer.collect_map(names.map(|name| {
            let mut values = self.headers.get_all(name).iter();
            let value = if self.version_2 {
                let first = values.next().map(text).unwrap_or_default();
                values.fold(first, |joined, next| Cow::Owned(format!("{joined},{}", text(next))))
            } else {
                values.next_back().map(text).unwrap_or_default()
            };
            (name.as_str(), value)
        }))
    }
}

/// Payload 1.0's `multiValueHeaders`: every value of every header.
struct MultiValueHeaders<'a>(&'a HeaderMap);

impl Serialize for MultiValueHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.keys().map(|name| (name.as_str(), AllValues(self.0.get_all(name)))))
    }
}

struct AllValues<'a>(GetAll<'a, HeaderValue>);

impl Serialize for AllValues<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(text))
    }
}

/// A query string's parameters by name, each with its values in order.
pub type QueryValues = BTreeMap<String, Vec<String>>;

pub fn query_values(raw_query: &str) -> QueryValues {
    let mut values: QueryValues = BTreeMap::new();
    for (k, v) in query_pairs(raw_query) {
        values.entry(k).or_default().push(v);
    }
    values
}

/// Query parameters with one value per name: joined with commas (2.0) or the last (1.0).
struct SingleValueQuery<'a> {
    values: &'a QueryValues,
    version_2: bool,
}

impl Serialize for SingleValueQuery<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.values.iter().map(|(name, values)| {
            let value = if self.version_2 {
                Cow::Owned(values.join(","))
            } else {
                Cow::Borrowed(values.last().map_or("", String::as_str))
            };
            (name, value)
        }))
    }
}

/// `12/Mar/2020:19:03:58 +0000`, the requestContext time format.
pub fn clf_time(epoch_millis: i64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = epoch_millis.div_euclid(1000);
    let (y, m, d) = nimbus_core::time::civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!("{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000", MONTHS[(m - 1) as usize], s / 3600, s / 60 % 60, s % 60)
}

fn non_empty<T>(map: &BTreeMap<String, T>) -> Option<&BTreeMap<String, T>> {
    (!map.is_empty()).then_some(map)
}

/// A payload format 2.0 event, serialised straight from the request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventV2<'a> {
    version: &'static str,
    route_key: &'a str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<&'a str>,
    headers: SingleValueHeaders<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<SingleValueQuery<'a>>,
    request_context: ContextV2<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_parameters: Option<&'a BTreeMap<String, String>>,
    is_base64_encoded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage_variables: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextV2<'a> {
    account_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a Value>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: HttpV2<'a>,
    request_id: &'a str,
    route_key: &'a str,
    stage: &'a str,
    time: String,
    time_epoch: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpV2<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: &'a str,
    user_agent: &'a str,
}

/// Payload format 2.0. `query` holds the decoded query string (`query_values`).
pub fn v2<'a>(facts: &'a RequestFacts<'a>, query: &'a QueryValues) -> EventV2<'a> {
    let cookies = facts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';').map(str::trim).filter(|c| !c.is_empty()))
        .collect();
    let content_type = facts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let (body, is_base64_encoded) = body_field(facts, is_textual(content_type));
    EventV2 {
        version: "2.0",
        route_key: facts.route_key,
        raw_path: facts.raw_path,
        raw_query_string: facts.raw_query,
        cookies,
        headers: SingleValueHeaders { headers: facts.headers, version_2: true },
        query_string_parameters: (!query.is_empty()).then_some(SingleValueQuery { values: query, version_2: true }),
        request_context: ContextV2 {
            account_id: facts.account_id,
            api_id: facts.api_id,
            authorizer: facts.authorizer.as_ref(),
            domain_name: &facts.domain_name,
            domain_prefix: facts.api_id,
            http: HttpV2 {
                method: facts.method,
                path: facts.raw_path,
                protocol: "HTTP/1.1",
                source_ip: &facts.source_ip,
                user_agent: user_agent(facts.headers),
            },
            request_id: facts.request_id,
            route_key: facts.route_key,
            stage: facts.stage,
            time: clf_time(facts.epoch_millis),
            time_epoch: facts.epoch_millis,
        },
        body,
        path_parameters: non_empty(facts.path_parameters),
        is_base64_encoded,
        stage_variables: non_empty(facts.stage_variables),
    }
}

/// A payload format 1.0 event (HTTP APIs and REST APIs), serialised straight
/// from the request; absent parts are `null`, as API Gateway sends them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventV1<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: Option<SingleValueHeaders<'a>>,
    multi_value_headers: Option<MultiValueHeaders<'a>>,
    query_string_parameters: Option<SingleValueQuery<'a>>,
    multi_value_query_string_parameters: Option<&'a QueryValues>,
    request_context: ContextV1<'a>,
    path_parameters: Option<&'a BTreeMap<String, String>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextV1<'a> {
    account_id: &'a str,
    api_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a Value>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    extended_request_id: &'a str,
    http_method: &'a str,
    identity: Identity<'a>,
    path: &'a str,
    protocol: &'static str,
    request_id: &'a str,
    request_time: String,
    request_time_epoch: i64,
    resource_id: &'a str,
    resource_path: &'a str,
    stage: &'a str,
}

/// `requestContext.identity`: only the caller's address and user agent are
/// known without IAM or Cognito authorization; the rest are `null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    access_key: Option<&'a str>,
    account_id: Option<&'a str>,
    caller: Option<&'a str>,
    cognito_authentication_provider: Option<&'a str>,
    cognito_authentication_type: Option<&'a str>,
    cognito_identity_id: Option<&'a str>,
    cognito_identity_pool_id: Option<&'a str>,
    principal_org_id: Option<&'a str>,
    source_ip: &'a str,
    user: Option<&'a str>,
    user_agent: &'a str,
    user_arn: Option<&'a str>,
}

/// Payload format 1.0 (`with_version` adds `"version": "1.0"`, which HTTP
/// APIs send and REST APIs do not). `query` holds the decoded query string.
pub fn v1<'a>(facts: &'a RequestFacts<'a>, query: &'a QueryValues, with_version: bool, textual: bool) -> EventV1<'a> {
    let (body, is_base64_encoded) = body_field(facts, textual);
    let resource = if facts.resource == "$default" { facts.path } else { facts.resource };
    let has_headers = !facts.headers.is_empty();
    let has_query = !query.is_empty();
    EventV1 {
        version: with_version.then_some("1.0"),
        resource,
        path: facts.path,
        http_method: facts.method,
        headers: has_headers.then_some(SingleValueHeaders { headers: facts.headers, version_2: false }),
        multi_value_headers: has_headers.then_some(MultiValueHeaders(facts.headers)),
        query_string_parameters: has_query.then_some(SingleValueQuery { values: query, version_2: false }),
        multi_value_query_string_parameters: has_query.then_some(query),
        request_context: ContextV1 {
            account_id: facts.account_id,
            api_id: facts.api_id,
            authorizer: facts.authorizer.as_ref(),
            domain_name: &facts.domain_name,
            domain_prefix: facts.api_id,
            extended_request_id: facts.request_id,
            http_method: facts.method,
            identity: Identity {
                access_key: None,
                account_id: None,
                caller: None,
                cognito_authentication_provider: None,
                cognito_authentication_type: None,
                cognito_identity_id: None,
                cognito_identity_pool_id: None,
                principal_org_id: None,
                source_ip: &facts.source_ip,
                user: None,
                user_agent: user_agent(facts.headers),
                user_arn: None,
            },
            path: facts.raw_path,
            protocol: "HTTP/1.1",
            request_id: facts.request_id,
            request_time: clf_time(facts.epoch_millis),
            request_time_epoch: facts.epoch_millis,
            resource_id: facts.route_key,
            resource_path: resource,
            stage: facts.stage,
        },
        path_parameters: non_empty(facts.path_parameters),
        stage_variables: non_empty(facts.stage_variables),
        body,
        is_base64_encoded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clf_time_matches_api_gateway() {
        assert_eq!(clf_time(1583348638390), "04/Mar/2020:19:03:58 +0000");
    }

    fn facts<'a>(
        headers: &'a HeaderMap,
        params: &'a BTreeMap<String, String>,
        empty: &'a BTreeMap<String, String>,
        body: &'a [u8],
    ) -> RequestFacts<'a> {
        RequestFacts {
            api_id: "a1",
            account_id: "000000000000",
            stage: "$default",
            request_id: "r1",
            method: "POST",
            raw_path: "/items/42",
            path: "/items/42",
            raw_query: "a=1&a=2&b=x%20y",
            headers,
            body,
            source_ip: "127.0.0.1".into(),
            domain_name: "a1.execute-api.localhost".into(),
            route_key: "ANY /items/{id}",
            resource: "/items/{id}",
            path_parameters: params,
            stage_variables: empty,
            epoch_millis: 1583348638390,
            authorizer: None,
        }
    }

    fn sample_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append("x-multi", HeaderValue::from_static("one"));
        headers.append("x-multi", HeaderValue::from_static("two"));
        headers.append("cookie", HeaderValue::from_static("c1=v1; c2=v2"));
        headers.append("user-agent", HeaderValue::from_static("tester/1.0"));
        headers
    }

    #[test]
    fn v2_event_fields() {
        let headers = sample_headers();
        let params = BTreeMap::from([("id".to_owned(), "42".to_owned())]);
        let empty = BTreeMap::new();
        let facts = facts(&headers, &params, &empty, b"{}");
        let query = query_values(facts.raw_query);
        let event = serde_json::to_value(v2(&facts, &query)).unwrap();
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
        assert_eq!(event["headers"], json!({"x-multi": "one,two", "user-agent": "tester/1.0"}));
        assert_eq!(event["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
        assert_eq!(event["pathParameters"], json!({"id": "42"}));
        assert!(event.get("stageVariables").is_none());
        assert_eq!(event["body"], "{}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["http"]["userAgent"], "tester/1.0");
        assert_eq!(event["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(event["requestContext"]["timeEpoch"], 1583348638390i64);
        assert!(event["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn v1_event_fields() {
        let headers = sample_headers();
        let params = BTreeMap::new();
        let facts = facts(&headers, &params, &params, b"\x00\xff");
        let query = query_values(facts.raw_query);
        let event = serde_json::to_value(v1(&facts, &query, false, true)).unwrap();
        assert!(event.get("version").is_none());
        assert_eq!(event["headers"]["x-multi"], "two");
        assert_eq!(event["multiValueHeaders"]["x-multi"], json!(["one", "two"]));
        assert_eq!(event["multiValueHeaders"]["cookie"], json!(["c1=v1; c2=v2"]));
        assert_eq!(event["queryStringParameters"], json!({"a": "2", "b": "x y"}));
        assert_eq!(event["multiValueQueryStringParameters"], json!({"a": ["1", "2"], "b": ["x y"]}));
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["stageVariables"], Value::Null);
        assert_eq!(event["body"], "AP8=");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["requestContext"]["identity"]["caller"], Value::Null);
        assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(event["requestContext"]["resourcePath"], "/items/{id}");

        let bare = HeaderMap::new();
        let facts = RequestFacts { headers: &bare, raw_query: "", body: b"", ..facts };
        let query = query_values("");
        let event = serde_json::to_value(v1(&facts, &query, true, true)).unwrap();
        assert_eq!(event["version"], "1.0");
        for field in ["headers", "multiValueHeaders", "queryStringParameters", "body"] {
            assert_eq!(event[field], Value::Null, "{field}");
        }
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
