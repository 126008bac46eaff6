//! The door provisioners go through: AWS API calls in each service's own
//! wire protocol, answered in-process (`nimbus up`) or over HTTP with SigV4
//! (`nimbus deploy` against a running server). Responses come back as JSON;
//! awsQuery's XML is converted on the way.

pub mod http;
pub mod inprocess;
pub mod sigv4;
pub mod xml;

use std::fmt;

use nimbus_core::BoxFuture;
use serde_json::Value;

pub use self::http::HttpApi;
pub use inprocess::InProcessApi;

/// A request body in the protocol the service speaks.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    /// restJson or awsJson.
    Json(Value),
    /// awsQuery form fields (`Action` and `Version` included).
    Form(Vec<(String, String)>),
}

/// One AWS API call.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiCall {
    pub method: ::http::Method,
    /// Path and query, percent-encoded as sent on the wire.
    pub path_and_query: String,
    /// `X-Amz-Target` of awsJson calls, e.g. `DynamoDB_20120810.CreateTable`.
    pub target: Option<String>,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    pub body: Body,
}

impl ApiCall {
    /// An awsJson call: `POST /` with `X-Amz-Target`.
    pub fn aws_json(version: &'static str, target: &str, body: Value) -> Self {
        let content_type = if version == "1.0" { "application/x-amz-json-1.0" } else { "application/x-amz-json-1.1" };
        ApiCall {
            method: ::http::Method::POST,
            path_and_query: "/".into(),
            target: Some(target.to_owned()),
            content_type,
            body: Body::Json(body),
        }
    }

    /// A restJson call.
    pub fn rest(method: ::http::Method, path_and_query: impl Into<String>, body: Option<Value>) -> Self {
        ApiCall {
            method,
            path_and_query: path_and_query.into(),
            target: None,
            content_type: "application/json",
            body: body.map_or(Body::Empty, Body::Json),
        }
    }

    /// An awsQuery call: form-encoded `Action`, `Version` and parameters.
    pub fn query(action: &str, version: &str, params: Vec<(String, String)>) -> Self {
        let mut fields = vec![("Action".to_owned(), action.to_owned()), ("Version".to_owned(), version.to_owned())];
        fields.extend(params);
        ApiCall {
            method: ::http::Method::POST,
            path_and_query: "/".into(),
            target: None,
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            body: Body::Form(fields),
        }
    }

    /// The operation's name, for messages: the target's suffix, the Action, or method and path.
    pub fn operation(&self) -> String {
        if let Some(t) = &self.target {
            return t.rsplit('.').next().unwrap_or(t).to_owned();
        }
        if let Body::Form(fields) = &self.body {
            if let Some((_, action)) = fields.iter().find(|(k, _)| k == "Action") {
                return action.clone();
            }
        }
        format!("{} {}", self.method, self.path_and_query)
    }

    /// The body's bytes on the wire.
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            Body::Empty => Vec::new(),
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Form(fields) => form_encode(fields).into_bytes(),
        }
    }
}

/// `application/x-www-form-urlencoded`, with `%20` for spaces as AWS SDKs send it.
pub fn form_encode(fields: &[(String, String)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v))).collect::<Vec<_>>().join("&")
}

/// RFC 3986 percent-encoding: unreserved characters stay.
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A failed call: AWS's error code and message, or a transport failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into() }
    }

    pub fn transport(message: impl Into<String>) -> Self {
        ApiError::new(0, "ConnectionError", message)
    }

    /// Whether the thing asked for is not there (deletes treat that as done).
    pub fn is_not_found(&self) -> bool {
        self.status == 404 || self.code.contains("NotFound") || self.code == "NoSuchEntity"
    }

    /// Whether the service that should answer is not part of this server.
    pub fn is_unknown_service(&self) -> bool {
        self.code == "UnknownOperationException" && self.message.contains("No service")
    }

    /// Decode an AWS error response in any protocol.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            let code = v
                .get("__type")
                .or_else(|| v.get("code"))
                .or_else(|| v.get("Code"))
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
                .unwrap_or_else(|| format!("HTTP{status}"));
            let message =
                v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str).unwrap_or("").to_owned();
            return ApiError::new(status, code, message);
        }
        let text = String::from_utf8_lossy(body);
        if let Ok(v) = xml::to_json(&text) {
            let error = v.get("Error").or_else(|| v.get("ErrorResponse").and_then(|e| e.get("Error"))).unwrap_or(&v);
            let code = error.get("Code").and_then(Value::as_str).unwrap_or("").to_owned();
            let message = error.get("Message").and_then(Value::as_str).unwrap_or("").to_owned();
            if !code.is_empty() {
                return ApiError::new(status, code, message);
            }
        }
        ApiError::new(status, format!("HTTP{status}"), text.chars().take(300).collect::<String>())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for ApiError {}

/// Decode a successful response: JSON, or awsQuery XML as JSON, or `{}` when empty.
pub fn decode_success(body: &[u8]) -> Result<Value, ApiError> {
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&body[..0], |i| &body[i..]);
    if trimmed.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    if trimmed[0] == b'<' {
        return xml::to_json(&String::from_utf8_lossy(trimmed)).map_err(|e| ApiError::new(0, "MalformedResponse", e));
    }
    serde_json::from_slice(trimmed).map_err(|e| ApiError::new(0, "MalformedResponse", e.to_string()))
}

/// Something that sends AWS API calls: `service` is the SigV4 signing name
/// (`dynamodb`, `lambda`, `apigateway`, `iam`, `logs`, `events`).
pub trait AwsApi: Send + Sync {
    fn call<'a>(&'a self, service: &'a str, call: ApiCall) -> BoxFuture<'a, Result<Value, ApiError>>;

    /// Whether `service` answers here: `None` when that cannot be known
    /// without calling it (over HTTP).
    fn has_service(&self, _service: &str) -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_decode_in_every_protocol() {
        let e = ApiError::from_response(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException","message":"Table already exists: t"}"#,
        );
        assert_eq!((e.code.as_str(), e.message.as_str()), ("ResourceInUseException", "Table already exists: t"));
        let e = ApiError::from_response(404, br#"{"Type":"User","Message":"Function not found: f"}"#);
        assert_eq!(e.code, "HTTP404");
        assert!(e.is_not_found());
        let e = ApiError::from_response(
            409,
            b"<ErrorResponse><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>Role r exists</Message></Error></ErrorResponse>",
        );
        assert_eq!(e.to_string(), "EntityAlreadyExists: Role r exists");
    }

    #[test]
    fn query_calls_are_form_encoded() {
        let call = ApiCall::query("CreateRole", "2010-05-08", vec![("RoleName".into(), "a b/c".into())]);
        assert_eq!(
            String::from_utf8(call.body_bytes()).unwrap(),
            "Action=CreateRole&Version=2010-05-08&RoleName=a%20b%2Fc"
        );
        assert_eq!(call.operation(), "CreateRole");
        let call = ApiCall::aws_json("1.0", "DynamoDB_20120810.CreateTable", json!({}));
        assert_eq!(call.operation(), "CreateTable");
    }

    #[test]
    fn success_bodies() {
        assert_eq!(decode_success(b"").unwrap(), json!({}));
        assert_eq!(decode_success(b"{\"a\":1}").unwrap(), json!({"a": 1}));
        let v = decode_success(b"<CreateRoleResponse><CreateRoleResult><Role><Arn>arn:x</Arn></Role></CreateRoleResult></CreateRoleResponse>").unwrap();
        assert_eq!(v["CreateRoleResult"]["Role"]["Arn"], "arn:x");
    }
}
