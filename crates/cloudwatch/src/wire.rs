//! JSON-in, JSON-out helpers shared by both services' handlers.
//!
//! Validation failures come back as AWS's "1 validation error detected"
//! message text; each service wraps it in its own error type
//! (Logs: InvalidParameterException, metrics: InvalidParameterValue…).

use bytes::Bytes;
use http::{header, Response, StatusCode};
use nimbus_core::{AwsResponse, Protocol};
use serde_json::{Map, Value};

pub type Object = Map<String, Value>;

/// Parse a request body as a JSON object (an empty body is `{}`).
pub fn parse_body(body: &[u8]) -> Result<Object, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("Request body must be a JSON object".into()),
        Err(e) => Err(format!("Malformed JSON: {e}")),
    }
}

pub fn json_response(protocol: Protocol, body: &Value) -> AwsResponse {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, protocol.content_type())
        .body(Bytes::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}

pub fn constraint(value: &Value, field: &str, rule: &str) -> String {
    let shown = match value {
        Value::Null => "null".to_owned(),
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    };
    format!("1 validation error detected: Value {shown} at '{field}' failed to satisfy constraint: {rule}")
}

/// A required string member.
pub fn req_str<'a>(obj: &'a Object, field: &str) -> Result<&'a str, String> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("Invalid type for '{field}': expected a string, got {other}")),
        None => Err(constraint(&Value::Null, field, "Member must not be null")),
    }
}

pub fn opt_str<'a>(obj: &'a Object, field: &str) -> Result<Option<&'a str>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("Invalid type for '{field}': expected a string, got {other}")),
    }
}

pub fn opt_i64(obj: &Object, field: &str) -> Result<Option<i64>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| format!("'{field}' is out of range")),
        Some(other) => Err(format!("Invalid type for '{field}': expected a number, got {other}")),
    }
}

pub fn opt_f64(obj: &Object, field: &str) -> Result<Option<f64>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| format!("'{field}' is out of range")),
        // The JSON protocol sends NaN and infinities as strings.
        Some(Value::String(s)) => match s.as_str() {
            "NaN" => Ok(Some(f64::NAN)),
            "Infinity" => Ok(Some(f64::INFINITY)),
            "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
            _ => Err(format!("Invalid type for '{field}': expected a number, got '{s}'")),
        },
        Some(other) => Err(format!("Invalid type for '{field}': expected a number, got {other}")),
    }
}

pub fn opt_bool(obj: &Object, field: &str) -> Result<Option<bool>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("Invalid type for '{field}': expected a boolean, got {other}")),
    }
}

pub fn opt_array<'a>(obj: &'a Object, field: &str) -> Result<&'a [Value], String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("Invalid type for '{field}': expected a list, got {other}")),
    }
}

/// Epoch milliseconds of a JSON-protocol timestamp (epoch seconds, possibly
/// fractional), as the metrics API sends them.
pub fn opt_timestamp_ms(obj: &Object, field: &str) -> Result<Option<i64>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs.is_finite() => Ok(Some((secs * 1000.0).round() as i64)),
            _ => Err(format!("'{field}' is not a valid timestamp")),
        },
        Some(other) => Err(format!("Invalid type for '{field}': expected a timestamp, got {other}")),
    }
}

/// Epoch milliseconds as the JSON protocol's epoch seconds.
pub fn timestamp_value(ms: i64) -> Value {
    if ms % 1000 == 0 {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}
