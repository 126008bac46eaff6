//! The listener: HTTP/1.1 with keep-alive, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use nimbus_core::{AwsError, Protocol};
use tokio::net::TcpListener;

use crate::{Edge, MAX_BODY_BYTES};

/// How long in-flight requests may take to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve `edge` on `listener` until `shutdown` resolves, then stop accepting,
/// let in-flight requests finish, and return.
pub async fn serve(edge: Arc<Edge>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let edge = edge.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let edge = edge.clone();
            async move { Ok::<_, Infallible>(handle(&edge, request, remote).await) }
        });
        let connection =
            hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("timed out draining connections"),
    }
    Ok(())
}

async fn handle(edge: &Edge, request: Request<Incoming>, remote: SocketAddr) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let too_large = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            let err = if too_large {
                AwsError::new(413, "RequestEntityTooLargeException", "Request must be smaller than 104857600 bytes")
            } else {
                AwsError::new(400, "SerializationException", "Failed to read the request body")
            };
            let response = err.to_response(Protocol::RestJson, None, "");
            return response.map(Full::new);
        }
    };
    let response = edge.handle(Request::from_parts(parts, body), remote.ip()).await;
    let (mut parts, body) = response.into_parts();
    if parts.status == StatusCode::NO_CONTENT {
        parts.headers.remove(http::header::CONTENT_LENGTH);
    }
    Response::from_parts(parts, Full::new(body))
}
