//! What each Runtime API request means, whichever connection it came on.

use bytes::Bytes;
use http::StatusCode;

use super::{lock, Reply, Shared, MAX_RESPONSE_BYTES};

/// One request as read off a connection.
pub(super) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `Lambda-Runtime-Function-Error-Type`.
    pub error_type: Option<String>,
    /// None: the body was over the limit a connection reads (`BODY_LIMIT`).
    pub body: Option<Bytes>,
}

/// The most of a body a connection reads: a little past the response limit,
/// so an oversized response can be told apart and reported.
pub(super) const BODY_LIMIT: usize = MAX_RESPONSE_BYTES * 2;

/// What to answer.
pub(super) enum Routed {
    /// A JSON answer.
    Answer(StatusCode, Bytes),
    /// `invocation/next`: the connection answers with the next invocation
    /// when there is one (init is done by now).
    Next,
}

pub(super) fn route(shared: &Shared, request: Request<'_>) -> Routed {
    let Some(rest) = request.path.strip_prefix("/2018-06-01/runtime/") else {
        return error(StatusCode::NOT_FOUND, "InvalidPath", "not a Runtime API path");
    };
    let mut parts = rest.split('/');
    let route = (request.method, parts.next(), parts.next(), parts.next(), parts.next());
    match route {
        ("GET", Some("invocation"), Some("next"), None, _) => {
            shared.init_done();
            Routed::Next
        }
        ("POST", Some("invocation"), Some(id), Some("response"), None) => {
            let Some(tx) = lock(&shared.pending).remove(id) else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            match request.body {
                Some(body) if body.len() <= MAX_RESPONSE_BYTES => {
                    let _ = tx.send(Reply::Response(body));
                    accepted()
                }
                _ => {
                    let message = format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                    );
                    let body =
                        serde_json::json!({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"});
                    let _ = tx.send(Reply::Error {
                        error_type: Some("Function.ResponseSizeTooLarge".into()),
                        body: Bytes::from(body.to_string()),
                    });
                    error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message)
                }
            }
        }
        ("POST", Some("invocation"), Some(id), Some("error"), None) => {
            let Some(tx) = lock(&shared.pending).remove(id) else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            let _ = tx.send(Reply::Error { error_type: request.error_type, body: request.body.unwrap_or_default() });
            accepted()
        }
        ("POST", Some("init"), Some("error"), None, _) => {
            let Some(tx) = lock(&shared.init).take() else {
                return error(StatusCode::FORBIDDEN, "InvalidStateTransition", "init already completed");
            };
            let body = request.body.unwrap_or_default();
            let _ = tx.send(Err(Reply::Error { error_type: request.error_type, body }));
            accepted()
        }
        _ => error(StatusCode::NOT_FOUND, "InvalidPath", "unknown Runtime API route"),
    }
}

/// Every invocation's answer gets this: a static body, no serialisation.
fn accepted() -> Routed {
    Routed::Answer(StatusCode::ACCEPTED, Bytes::from_static(br#"{"status":"OK"}"#))
}

pub(super) fn error(status: StatusCode, error_type: &str, message: &str) -> Routed {
    Routed::Answer(status, error_body(error_type, message))
}

fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string())
}

/// The answer to `invocation/next` once the environment is shutting down.
pub(super) fn shutting_down() -> (StatusCode, Bytes) {
    (StatusCode::INTERNAL_SERVER_ERROR, error_body("EnvironmentShutdown", "the environment is shutting down"))
}
