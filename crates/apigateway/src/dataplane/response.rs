//! Function results to HTTP responses, by API Gateway's rules.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

/// A malformed function response; the caller answers 502.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The body; a base64 one (`isBase64Encoded`) is decoded when `decode_base64`.
fn body_bytes(object: &serde_json::Map<String, Value>, decode_base64: bool) -> Result<Bytes, Malformed> {
    let encoded = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Malformed("isBase64Encoded must be a boolean")),
    };
    match object.get("body") {
        None | Some(Value::Null) => Ok(Bytes::new()),
        Some(Value::String(text)) if encoded && decode_base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|_| Malformed("body is not valid base64")),
        Some(Value::String(text)) => Ok(Bytes::from(text.clone())),
        Some(_) => Err(Malformed("body must be a string")),
    }
}

fn status_of(object: &serde_json::Map<String, Value>) -> Result<StatusCode, Malformed> {
    let code = object.get("statusCode").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    code.and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(Malformed("statusCode must be an integer HTTP status"))
}

fn add_header(builder: http::response::Builder, name: &str, value: &str) -> Result<http::response::Builder, Malformed> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Malformed("invalid header name"))?;
    let value = HeaderValue::from_str(value).map_err(|_| Malformed("invalid header value"))?;
    Ok(builder.header(name, value))
}

/// Payload format 2.0: a JSON object with `statusCode` is a response; any
/// other JSON is the body of a 200 `application/json` response.
pub fn v2(payload: &[u8]) -> Result<Response<Bytes>, Malformed> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| Malformed("response is not JSON"))?;
    let object = match &value {
        Value::Object(map) if map.contains_key("statusCode") => map,
        _ => {
            return Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Bytes::copy_from_slice(payload))
                .map_err(|_| Malformed("response"));
        }
    };
    let mut builder = Response::builder().status(status_of(object)?);
    let mut has_content_type = false;
    if let Some(headers) = object.get("headers") {
        let headers = headers.as_object().ok_or(Malformed("headers must be an object"))?;
        for (name, value) in headers {
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            builder =
                add_header(builder, name, &header_text(value).ok_or(Malformed("header values must be strings"))?)?;
        }
    }
    if let Some(cookies) = object.get("cookies") {
        for cookie in cookies.as_array().ok_or(Malformed("cookies must be an array"))? {
            builder = add_header(builder, "set-cookie", cookie.as_str().ok_or(Malformed("cookies must be strings"))?)?;
        }
    }
    let body = body_bytes(object, true)?;
    if !has_content_type && !body.is_empty() {
        builder = builder.header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8");
    }
    builder.body(body).map_err(|_| Malformed("response"))
}

/// Payload format 1.0 and REST APIs: an object with `statusCode`, `headers`,
/// `multiValueHeaders`, `body` (a string) and `isBase64Encoded`. REST APIs
/// decode a base64 body only for binary media types (`decode_base64`).
pub fn v1(payload: &[u8], decode_base64: bool) -> Result<Response<Bytes>, Malformed> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| Malformed("response is not JSON"))?;
    let object = value.as_object().ok_or(Malformed("response must be an object"))?;
    let mut builder = Response::builder().status(status_of(object)?);
    let mut seen = std::collections::HashSet::new();
    if let Some(multi) = object.get("multiValueHeaders").filter(|v| !v.is_null()) {
        for (name, values) in multi.as_object().ok_or(Malformed("multiValueHeaders must be an object"))? {
            seen.insert(name.to_ascii_lowercase());
            for value in values.as_array().ok_or(Malformed("multiValueHeaders values must be arrays"))? {
                builder =
                    add_header(builder, name, &header_text(value).ok_or(Malformed("header values must be strings"))?)?;
            }
        }
    }
    if let Some(headers) = object.get("headers").filter(|v| !v.is_null()) {
        for (name, value) in headers.as_object().ok_or(Malformed("headers must be an object"))? {
            // multiValueHeaders wins where both name a header.
            if !seen.contains(&name.to_ascii_lowercase()) {
                builder =
                    add_header(builder, name, &header_text(value).ok_or(Malformed("header values must be strings"))?)?;
            }
        }
    }
    let body = body_bytes(object, decode_base64)?;
    if !builder.headers_ref().is_some_and(|h| h.contains_key(http::header::CONTENT_TYPE)) {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    builder.body(body).map_err(|_| Malformed("response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_structured_response() {
        let r = v2(br#"{"statusCode": 201, "headers": {"x-a": "1", "n": 5}, "cookies": ["a=1", "b=2"], "body": "hi"}"#)
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["n"], "5");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(r.body(), "hi");
    }

    #[test]
    fn v2_bare_values_become_json_200() {
        let r = v2(br#"{"hello": "world"}"#).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.body(), r#"{"hello": "world"}"#);
        assert_eq!(v2(br#""text""#).unwrap().body(), r#""text""#);
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let r = v2(br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#).unwrap();
        assert_eq!(r.body(), "hi");
        let base64 = br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#;
        assert_eq!(v1(base64, true).unwrap().body(), "hi");
        assert_eq!(v1(base64, false).unwrap().body(), "aGk=", "kept as text when not a binary media type");
    }

    #[test]
    fn malformed_responses_are_rejected() {
        assert!(v2(br#"{"statusCode": "abc"}"#).is_err());
        assert!(v2(br#"{"statusCode": 200, "body": {"a": 1}}"#).is_err());
        assert!(v1(br#"{"body": "x"}"#, true).is_err());
        assert!(v1(br#""str""#, true).is_err());
        assert!(v2(b"not json").is_err());
    }

    #[test]
    fn v1_multi_value_headers_win() {
        let r = v1(br#"{"statusCode": 200, "headers": {"a": "1", "b": "2"}, "multiValueHeaders": {"a": ["x", "y"]}, "body": null}"#, true)
            .unwrap();
        let a: Vec<_> = r.headers().get_all("a").iter().collect();
        assert_eq!(a, vec!["x", "y"]);
        assert_eq!(r.headers()["b"], "2");
    }
}
