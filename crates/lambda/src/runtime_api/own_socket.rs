//! The Runtime API connection of Nimbus's own Python bootstrap (its Unix
//! socket), served without hyper by whoever is waiting on it.
//!
//! A warm invocation costs one round trip on this connection: the event
//! goes out as the answer to a parked `GET invocation/next`, and the
//! runtime's `POST invocation/{id}/response` comes back with its next
//! `GET invocation/next` pipelined behind it. Between invocations the
//! connection is parked (`Next::parked`). The invocation that takes it
//! registers it with the reactor of the thread it runs on (the edge
//! acceptor serving the caller, see `nimbus_core::home_runtime`) unless it
//! is still registered there from the last invocation, writes the event,
//! reads the answer and parks the connection again. The runtime's answer
//! thus wakes that thread directly, with no services worker and no channel
//! in between. Whatever else arrives (an error post followed by a separate `next`, an `init/error`,
//! a request the answer did not pipeline) is served by a task on the
//! services' runtime until the runtime asks for its next invocation again.
//!
//! Answers to pipelined requests are held back until the connection next
//! writes or waits for more: the `202 Accepted` for a response goes out in
//! the same write as the next invocation, so the runtime wakes once per
//! invocation, not once more for the 202 it has no use for until then.
//!
//! The framing is the HTTP/1.1 subset the bootstrap speaks (heads parsed by
//! `nimbus_core::http1`, as the edge's): requests with a Content-Length
//! body (or none), keep-alive, answered in order. A request
//! with another framing (chunked) gets 400 and the connection is closed, as
//! does one whose body is over `BODY_LIMIT` once it has been answered.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::ThreadId;

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use nimbus_core::http1::{self, BodyFraming};
use tokio::io::Interest;
use tokio::sync::oneshot;

use super::route::{self, route, Request, Routed, BODY_LIMIT};
use super::{lock, Invocation, Reply, Shared};

/// How much one read asks for at least.
const READ_SIZE: usize = 8 * 1024;
/// Bodies up to this size go out in the same write as their head.
const COALESCE: usize = 64 * 1024;

/// A connection between requests.
pub(super) struct OwnSocket {
    stream: Held,
    /// The same socket, never registered: reads and writes that must see its
    /// state now (a reactor's readiness lags until it next polls).
    direct: UnixStream,
    /// Bytes read but not yet served (a request pipelined behind another).
    buf: BytesMut,
    /// Answers held back (see the module's doc).
    unsent: Vec<u8>,
}

/// How a parked connection is held.
enum Held {
    /// Registered with no reactor.
    Plain(UnixStream),
    /// Still registered with the reactor of the acceptor thread that served
    /// the last invocation: the next one served there keeps the registration
    /// (two epoll_ctl calls fewer per invocation).
    OnThread(tokio::net::UnixStream, ThreadId),
}

impl OwnSocket {
    pub(super) fn new(stream: UnixStream) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        let direct = stream.try_clone()?;
        Ok(OwnSocket { stream: Held::Plain(stream), direct, buf: BytesMut::new(), unsent: Vec::new() })
    }

    /// Serve the connection in a task on the services' runtime, until the
    /// runtime parks it in `invocation/next` or closes it.
    pub(super) fn serve_in_background(self, shared: Arc<Shared>) {
        let services = shared.services.clone();
        services.spawn(async move {
            if let Some(live) = self.register(None) {
                live.serve(&shared, None).await;
            }
        });
    }

    /// Send `invocation` to the runtime parked on this connection and serve
    /// the connection from the current thread until the runtime answers (in
    /// `rx`, which is taken). None when the connection ended, or the
    /// runtime asked for more work, without answering.
    pub(super) async fn serve_invocation(
        self,
        shared: &Arc<Shared>,
        invocation: Invocation,
        rx: &mut oneshot::Receiver<Reply>,
    ) -> Option<Reply> {
        let home = nimbus_core::home_runtime::get();
        let thread = home.is_some().then(|| std::thread::current().id());
        let registered = {
            let _home = home.as_ref().map(|h| h.enter());
            self.register(thread)
        };
        let mut live = registered?;
        live.send_invocation(&invocation).await.ok()?;
        live.serve(shared, Some(rx)).await
    }

    /// Register with the current runtime's reactor, that of acceptor
    /// `thread` if given (where it may be registered already).
    fn register(self, thread: Option<ThreadId>) -> Option<Live> {
        let OwnSocket { stream, direct, buf, unsent } = self;
        let registered = match stream {
            Held::OnThread(io, on) if Some(on) == thread => Ok(io),
            Held::OnThread(io, _) => io.into_std().and_then(tokio::net::UnixStream::from_std),
            Held::Plain(stream) => tokio::net::UnixStream::from_std(stream),
        };
        match registered {
            Ok(io) => Some(Live { io, thread, direct, buf, unsent }),
            Err(e) => {
                tracing::warn!(error = %e, "lambda: a Runtime API connection cannot be served");
                None
            }
        }
    }
}

/// A connection being served, registered with one runtime's reactor.
struct Live {
    io: tokio::net::UnixStream,
    /// The acceptor thread whose reactor `io` is registered with, if any.
    thread: Option<ThreadId>,
    direct: UnixStream,
    buf: BytesMut,
    unsent: Vec<u8>,
}

/// One request off the connection.
struct Parsed {
    method: String,
    path: String,
    error_type: Option<String>,
    body: Option<Bytes>,
}

enum Parse {
    Request(Parsed),
    /// Not all there yet: read at least this many more bytes.
    Incomplete(usize),
    /// Not HTTP/1.1 as the bootstrap speaks it.
    Malformed,
}

impl Live {
    /// Serve requests until the connection is parked or ends. With `waiting`,
    /// return as soon as that reply has come and no other request is
    /// buffered, handing the connection to a background task; returns the
    /// reply if it came.
    async fn serve(
        mut self,
        shared: &Arc<Shared>,
        mut waiting: Option<&mut oneshot::Receiver<Reply>>,
    ) -> Option<Reply> {
        let reply = |waiting: Option<&mut oneshot::Receiver<Reply>>| waiting.and_then(|rx| rx.try_recv().ok());
        loop {
            let request = match self.parse() {
                Parse::Request(request) => request,
                Parse::Malformed => {
                    self.unsent.extend_from_slice(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    let _ = self.flush().await;
                    return reply(waiting);
                }
                Parse::Incomplete(more) => {
                    // The runtime may be waiting for what was held back.
                    if self.flush().await.is_err() {
                        return reply(waiting);
                    }
                    if let Some(answered) = reply(waiting.as_deref_mut()) {
                        self.continue_in_background(shared.clone());
                        return Some(answered);
                    }
                    match self.read_more(more).await {
                        Ok(0) | Err(_) => return reply(waiting),
                        Ok(_) => continue,
                    }
                }
            };
            let close = request.body.is_none();
            let routed = route(
                shared,
                Request {
                    method: &request.method,
                    path: &request.path,
                    error_type: request.error_type,
                    body: request.body,
                },
            );
            let sent = match routed {
                Routed::Answer(status, body) => self.send_answer(status, &body, close).await,
                Routed::Next => {
                    let next = {
                        let mut next = lock(&shared.next);
                        match next.queued.pop_front() {
                            Some(invocation) => Ok(invocation),
                            None if next.closed => Err(()),
                            None => {
                                next.parked = self.park();
                                return reply(waiting);
                            }
                        }
                    };
                    match next {
                        Ok(invocation) => self.send_invocation(&invocation).await,
                        Err(()) => {
                            let (status, body) = route::shutting_down();
                            self.send_answer(status, &body, true).await
                        }
                    }
                }
            };
            if sent.is_err() || close {
                return reply(waiting);
            }
        }
    }

    /// Take the next complete request off the buffer.
    fn parse(&mut self) -> Parse {
        let (head, head_len) = match http1::parse_head(&self.buf) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Parse::Incomplete(1),
            Err(_) => return Parse::Malformed,
        };
        let BodyFraming::Length(content_length) = head.body else { return Parse::Malformed };
        let error_type =
            head.headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let method = head.method.as_str().to_owned();
        let path = head.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let body = if content_length > BODY_LIMIT {
            // Answered without reading it; the connection closes after.
            None
        } else if self.buf.len() < head_len + content_length {
            return Parse::Incomplete(head_len + content_length - self.buf.len());
        } else {
            let _ = self.buf.split_to(head_len);
            Some(self.buf.split_to(content_length).freeze())
        };
        Parse::Request(Parsed { method, path, error_type, body })
    }

    /// Read at least once, appending to the buffer; 0 when the runtime closed.
    async fn read_more(&mut self, wanted: usize) -> std::io::Result<usize> {
        let Live { io, direct, buf, .. } = self;
        let size = wanted.max(READ_SIZE);
        // Try first: the answer is often there already.
        match read_into(direct, buf, size) {
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            done => return done,
        }
        loop {
            io.readable().await?;
            match io.try_io(Interest::READABLE, || read_into(direct, buf, size)) {
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => continue,
                done => return done,
            }
        }
    }

    async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let written = match (&self.direct).write(bytes) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.io.writable().await?;
                    match self.io.try_io(Interest::WRITABLE, || (&self.direct).write(bytes)) {
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        written => written,
                    }
                }
                written => written,
            };
            match written {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Hold back a head and its body; a large body is written now, with
    /// everything held back before it.
    async fn hold(&mut self, head: &[u8], body: &[u8]) -> std::io::Result<()> {
        self.unsent.extend_from_slice(head);
        if body.len() <= COALESCE {
            self.unsent.extend_from_slice(body);
            return Ok(());
        }
        self.flush().await?;
        self.write_all(body).await
    }

    /// Write everything held back.
    async fn flush(&mut self) -> std::io::Result<()> {
        if self.unsent.is_empty() {
            return Ok(());
        }
        let unsent = std::mem::take(&mut self.unsent);
        let written = self.write_all(&unsent).await;
        // Keep the allocation for the next answers.
        self.unsent = unsent;
        self.unsent.clear();
        written
    }

    /// `invocation` as the answer to `invocation/next`, written now with
    /// whatever was held back.
    async fn send_invocation(&mut self, invocation: &Invocation) -> std::io::Result<()> {
        let head = &mut self.unsent;
        head.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
        for (name, value) in invocation.headers() {
            write!(head, "{name}: {value}\r\n")?;
        }
        write!(head, "Content-Length: {}\r\n\r\n", invocation.payload.len())?;
        self.hold(&[], &invocation.payload).await?;
        self.flush().await
    }

    /// A JSON answer, held back; with `close`, written now and the connection closes after it.
    async fn send_answer(&mut self, status: StatusCode, body: &[u8], close: bool) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len(),
            if close { "Connection: close\r\n" } else { "" },
        );
        self.hold(head.as_bytes(), body).await?;
        if close {
            self.flush().await?;
        }
        Ok(())
    }

    /// Set the connection aside, keeping what was read (and, on an
    /// acceptor, its registration).
    fn park(self) -> Option<OwnSocket> {
        let stream = match self.thread {
            Some(thread) => Held::OnThread(self.io, thread),
            None => Held::Plain(self.io.into_std().ok()?),
        };
        Some(OwnSocket { stream, direct: self.direct, buf: self.buf, unsent: self.unsent })
    }

    /// The rest of the connection's requests are served in the background.
    fn continue_in_background(self, shared: Arc<Shared>) {
        if let Some(parked) = self.park() {
            parked.serve_in_background(shared);
        }
    }
}

/// One read of up to `size` bytes onto the end of `buf`.
fn read_into(mut stream: &UnixStream, buf: &mut BytesMut, size: usize) -> std::io::Result<usize> {
    let filled = buf.len();
    buf.resize(filled + size, 0);
    let read = stream.read(&mut buf[filled..]);
    buf.truncate(filled + read.as_ref().map_or(0, |n| *n));
    read
}
