//! One client connection: HTTP/1.1 requests read, handled and answered in
//! order, on the acceptor thread that accepted it.
//!
//! Hand-written on `nimbus_core::http1`'s framing rather than hyper's
//! connection machinery: a request is read into a buffer kept across
//! requests (pipelined ones included), handed to `Edge::handle` whole, and
//! its answer — status line, headers and body — goes out in one write. A
//! read that leaves the socket drained marks it not ready without the
//! extra `read` that would only return `EAGAIN` (`http1::try_read_draining`).

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use http::{Request, StatusCode};
use nimbus_core::http1::{self, BodyReader, FramingError, RequestHead};
use nimbus_core::{AwsError, Protocol};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::spin::Activity;
use crate::{Edge, MAX_BODY_BYTES};

/// Room made in the read buffer before each read.
const READ_SIZE: usize = 16 * 1024;
/// Bodies up to this size are copied behind their head for a single write;
/// larger ones are written after it, uncopied.
const COALESCE: usize = 64 * 1024;

pub(crate) struct Connection {
    stream: TcpStream,
    remote: SocketAddr,
    /// Bytes read and not yet consumed.
    input: BytesMut,
    /// The answer being written.
    output: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, remote: SocketAddr) -> Self {
        Connection { stream, remote, input: BytesMut::with_capacity(READ_SIZE), output: Vec::with_capacity(1024) }
    }

    /// Serve requests until the client closes, asks to, sends something
    /// unreadable, or the server stops (after the request in progress).
    pub(crate) async fn serve(mut self, edge: &Edge, activity: &Arc<Activity>, mut stop: watch::Receiver<()>) {
        loop {
            let head = match self.next_head(&mut stop).await {
                Ok(Some(head)) => head,
                Ok(None) => return,
                Err(Refused::Framing(e)) => return self.refuse(e).await,
                Err(Refused::Io(e)) => return trace_end(&e),
            };
            let _serving = activity.serving();
            let body = match self.read_body(&head).await {
                Ok(body) => body,
                Err(Refused::Framing(e)) => return self.refuse(e).await,
                Err(Refused::Io(e)) => return trace_end(&e),
            };
            let RequestHead { method, uri, version, headers, keep_alive, .. } = head;
            let mut request = Request::new(body);
            *request.method_mut() = method.clone();
            *request.uri_mut() = uri;
            *request.version_mut() = version;
            *request.headers_mut() = headers;
            let response = edge.handle(request, self.remote.ip()).await;
            // Once shutdown has begun, this is the connection's last answer.
            let keep_alive = keep_alive && stop.has_changed().is_ok();
            let (parts, body) = response.into_parts();
            let bodyless = http1::bodyless(&method, parts.status);
            let length = match () {
                // A HEAD answer announces the length a GET would have had.
                _ if method == http::Method::HEAD => Some(
                    parts
                        .headers
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(body.len()),
                ),
                _ if parts.status == StatusCode::NO_CONTENT || parts.status.is_informational() => None,
                _ if parts.status == StatusCode::NOT_MODIFIED => None,
                _ => Some(body.len()),
            };
            self.output.clear();
            http1::write_head(&mut self.output, parts.status, &parts.headers, length, keep_alive);
            let body: &[u8] = if bodyless { &[] } else { &body };
            if let Err(e) = self.write_answer(body).await {
                return trace_end(&e);
            }
            if !keep_alive {
                let _ = self.stream.shutdown().await;
                return;
            }
        }
    }

    /// The next request's head, read as far as needed; None when the client
    /// closed, or the server is stopping while the connection is idle.
    async fn next_head(&mut self, stop: &mut watch::Receiver<()>) -> Result<Option<RequestHead>, Refused> {
        loop {
            if let Some(head) = http1::take_head(&mut self.input)? {
                return Ok(Some(head));
            }
            let read = if self.input.is_empty() {
                // Idle between requests: a stopping server closes the connection now.
                tokio::select! {
                    read = read_more(&self.stream, &mut self.input) => read,
                    _ = stop.changed() => return Ok(None),
                }
            } else {
                read_more(&self.stream, &mut self.input).await
            };
            match read? {
                0 if self.input.is_empty() => return Ok(None),
                // Closed halfway through a head.
                0 => return Err(Refused::Io(ErrorKind::UnexpectedEof.into())),
                _ => {}
            }
        }
    }

    /// The whole body of `head`'s request, after a `100 Continue` if the client waits for one.
    async fn read_body(&mut self, head: &RequestHead) -> Result<bytes::Bytes, Refused> {
        let mut reader = BodyReader::new(head.body, MAX_BODY_BYTES)?;
        let mut continued = false;
        loop {
            if let Some(body) = reader.take(&mut self.input)? {
                return Ok(body);
            }
            if head.expect_continue && !continued {
                continued = true;
                self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            }
            self.input.reserve(reader.wanted(&self.input).min(MAX_BODY_BYTES));
            if read_more(&self.stream, &mut self.input).await? == 0 {
                return Err(Refused::Io(ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    /// Write the head laid out in `output`, then `body`.
    async fn write_answer(&mut self, body: &[u8]) -> io::Result<()> {
        if body.len() <= COALESCE {
            self.output.extend_from_slice(body);
            return self.stream.write_all(&self.output).await;
        }
        self.stream.write_all(&self.output).await?;
        self.stream.write_all(body).await
    }

    /// Answer a request that cannot be read, and close: a body over the
    /// limit gets the AWS error every service's clients understand, the
    /// rest a bare status.
    async fn refuse(mut self, error: FramingError) {
        let answer = match error {
            FramingError::BodyTooLarge => {
                let err = AwsError::new(
                    413,
                    "RequestEntityTooLargeException",
                    format!("Request must be smaller than {MAX_BODY_BYTES} bytes"),
                );
                let (parts, body) = err.to_response(Protocol::RestJson, None, "").into_parts();
                let mut out = Vec::new();
                http1::write_head(&mut out, parts.status, &parts.headers, Some(body.len()), false);
                out.extend_from_slice(&body);
                out
            }
            other => other.answer(),
        };
        if self.stream.write_all(&answer).await.is_ok() {
            let _ = self.stream.shutdown().await;
        }
    }
}

/// Why a connection stops before answering.
enum Refused {
    Framing(FramingError),
    Io(io::Error),
}

impl From<FramingError> for Refused {
    fn from(e: FramingError) -> Self {
        Refused::Framing(e)
    }
}

impl From<io::Error> for Refused {
    fn from(e: io::Error) -> Self {
        Refused::Io(e)
    }
}

fn trace_end(e: &io::Error) {
    tracing::trace!(error = %e, "connection ended with an error");
}

/// Read at least once onto the end of `buf`; 0 when the client closed.
async fn read_more(stream: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    buf.reserve(READ_SIZE);
    loop {
        stream.readable().await?;
        match http1::try_read_draining(stream, buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => continue,
            read => return read,
        }
    }
}
