//! The AWS error type and its encoding in each wire protocol.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::protocol::Protocol;
use crate::request::AwsResponse;

/// An error as AWS reports it: HTTP status, error code, message.
///
/// `namespace` is the Smithy namespace that awsJson protocols put in front of
/// the code in `__type` (DynamoDB says
/// `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`); `extra`
/// carries error members beyond the message (e.g. `CancellationReasons`).
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub namespace: Option<&'static str>,
    pub sender_fault: bool,
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Namespace AWS's front end uses for authentication and throttling errors.
pub const CORAL_SERVICE: &str = "com.amazon.coral.service";
/// Namespace of request-validation errors on awsJson services.
pub const CORAL_VALIDATE: &str = "com.amazon.coral.validate";

impl AwsError {
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            namespace: None,
            sender_fault: !status.is_server_error(),
            extra: None,
        }
    }

    pub fn with_namespace(mut self, namespace: &'static str) -> Self {
        self.namespace = Some(namespace);
        self
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra.get_or_insert_with(Default::default).insert(key.to_owned(), value);
        self
    }

    /// 400 ValidationException, the most common client error.
    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new(400, "ValidationException", message)
    }

    /// 500 InternalFailure: something broke on our side; never a panic.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new(500, "InternalFailure", message)
    }

    /// The operation (or whole service) is not implemented.
    pub fn unknown_operation(protocol: Protocol) -> Self {
        let err = match protocol {
            Protocol::AwsQuery => AwsError::new(400, "InvalidAction", "Could not find operation"),
            _ => AwsError::new(400, "UnknownOperationException", ""),
        };
        if protocol.is_aws_json() {
            err.with_namespace(CORAL_SERVICE)
        } else {
            err
        }
    }

    /// The `__type` value of awsJson error bodies.
    pub fn type_name(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{ns}#{}", self.code),
            None => self.code.to_string(),
        }
    }

    /// Encode this error as `protocol` does. `xml_namespace` is the service's
    /// XML namespace for awsQuery (`https://iam.amazonaws.com/doc/2010-05-08/`).
    pub fn to_response(&self, protocol: Protocol, xml_namespace: Option<&str>, request_id: &str) -> AwsResponse {
        let mut builder = Response::builder().status(self.status).header(header::CONTENT_TYPE, protocol.content_type());
        let body = match protocol {
            Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
                let mut map = self.extra.clone().unwrap_or_default();
                map.insert("__type".into(), self.type_name().into());
                if !self.message.is_empty() {
                    map.insert("message".into(), self.message.clone().into());
                }
                serde_json::to_vec(&map).unwrap_or_default()
            }
            Protocol::RestJson => {
                if let Ok(value) = HeaderValue::from_str(&self.code) {
                    builder = builder.header("x-amzn-ErrorType", value);
                }
                let mut map = self.extra.clone().unwrap_or_default();
                map.insert("Type".into(), if self.sender_fault { "User" } else { "Server" }.into());
                map.insert("message".into(), self.message.clone().into());
                serde_json::to_vec(&map).unwrap_or_default()
            }
            Protocol::AwsQuery => {
                let xmlns = xml_namespace.map(|ns| format!(" xmlns=\"{}\"", xml_escape(ns))).unwrap_or_default();
                format!(
                    "<ErrorResponse{xmlns}>\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
                    if self.sender_fault { "Sender" } else { "Receiver" },
                    xml_escape(&self.code),
                    xml_escape(&self.message),
                    xml_escape(request_id),
                )
                .into_bytes()
            }
        };
        builder.body(Bytes::from(body)).unwrap_or_else(|_| Response::new(Bytes::new()))
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status.as_u16(), self.message)
    }
}

impl std::error::Error for AwsError {}

/// Escape text for XML element content and attribute values.
pub fn xml_escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resp: &AwsResponse) -> String {
        String::from_utf8(resp.body().to_vec()).unwrap()
    }

    #[test]
    fn aws_json_error_carries_type_and_message() {
        let err = AwsError::validation("bad").with_namespace(CORAL_VALIDATE);
        let resp = err.to_response(Protocol::AwsJson1_0, None, "rid");
        assert_eq!(resp.status(), 400);
        let v: serde_json::Value = serde_json::from_str(&body(&resp)).unwrap();
        assert_eq!(v["__type"], "com.amazon.coral.validate#ValidationException");
        assert_eq!(v["message"], "bad");
    }

    #[test]
    fn rest_json_error_sets_error_type_header() {
        let err = AwsError::new(404, "ResourceNotFoundException", "Function not found");
        let resp = err.to_response(Protocol::RestJson, None, "rid");
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["x-amzn-ErrorType"], "ResourceNotFoundException");
        assert!(body(&resp).contains("\"message\":\"Function not found\""));
    }

    #[test]
    fn query_error_is_escaped_xml() {
        let err = AwsError::new(403, "SignatureDoesNotMatch", "a <b> & c");
        let text = body(&err.to_response(Protocol::AwsQuery, Some("https://sts.amazonaws.com/doc/2011-06-15/"), "r1"));
        assert!(text.contains("<Code>SignatureDoesNotMatch</Code>"));
        assert!(text.contains("<Message>a &lt;b&gt; &amp; c</Message>"));
        assert!(text.contains("<RequestId>r1</RequestId>"));
        assert!(text.contains("<Type>Sender</Type>"));
    }
}
