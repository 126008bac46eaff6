//! Runtime API connections over TCP (`AWS_LAMBDA_RUNTIME_API`), served by
//! hyper: any runtime client, HTTP/1.1 keep-alive.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::route::{self, route, Request, Routed, BODY_LIMIT};
use super::Shared;

/// Serve one runtime connection in a task of its own.
pub(super) fn serve(shared: Arc<Shared>, stream: tokio::net::TcpStream) {
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
    });
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

async fn answer(shared: &Shared, request: http::Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let error_type =
        parts.headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = Limited::new(body, BODY_LIMIT).collect().await.ok().map(|b| b.to_bytes());
    let request = Request { method: parts.method.as_str(), path: parts.uri.path(), error_type, body };
    match route(shared, request) {
        Routed::Answer(status, body) => json(status, body),
        Routed::Next => match shared.next_queued().await {
            Some(invocation) => {
                let mut response = json(StatusCode::OK, invocation.payload.clone());
                let headers = response.headers_mut();
                for (name, value) in invocation.headers() {
                    if let Ok(value) = http::HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
                response
            }
            None => {
                let (status, body) = route::shutting_down();
                json(status, body)
            }
        },
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
