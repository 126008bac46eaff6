//! The Lambda Runtime API, one server per execution environment.
//!
//! Each environment gets its own `127.0.0.1:<ephemeral>` listener, so
//! `AWS_LAMBDA_RUNTIME_API` stays plain host:port (as on AWS) and a runtime
//! can only ever see its own invocations; any runtime client (Node's,
//! `provided.*` binaries) speaks HTTP to it through hyper (`tcp`). Nimbus's
//! own Python bootstrap reaches the same API over a Unix socket instead
//! (named in its command line), and that connection is served without
//! hyper (`own_socket`): while the runtime waits in `invocation/next`, the
//! connection is parked, and the invocation that takes it writes the event
//! and reads the answer itself, on the thread that awaits it. The socket is
//! in the abstract namespace, so it needs no file the sandbox would have to
//! mount; like the TCP listener it accepts only the environment's own uid.
//! Routes (2018-06-01, see `route`): `GET invocation/next`,
//! `POST invocation/{id}/response`, `POST invocation/{id}/error`,
//! `POST init/error`.

mod own_socket;
mod route;
mod tcp;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, Notify};

use own_socket::OwnSocket;

/// Largest response a function may return synchronously (AWS's figure).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// One event handed to the runtime by `invocation/next`.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    /// The decoded ClientContext JSON, if the caller sent one.
    pub client_context: Option<String>,
}

impl Invocation {
    /// The `invocation/next` response headers besides Content-Type and
    /// Content-Length; a value that is no valid header value (a client
    /// context with a raw newline) is left out.
    fn headers(&self) -> impl Iterator<Item = (&'static str, std::borrow::Cow<'_, str>)> {
        let fixed = [
            ("lambda-runtime-aws-request-id", self.request_id.as_str().into()),
            ("lambda-runtime-deadline-ms", self.deadline_ms.to_string().into()),
            ("lambda-runtime-invoked-function-arn", self.function_arn.as_str().into()),
            ("lambda-runtime-trace-id", self.trace_id.as_str().into()),
        ];
        let context = self.client_context.as_deref().map(|c| ("lambda-runtime-client-context", c.into()));
        fixed
            .into_iter()
            .chain(context)
            .filter(|(_, value): &(_, std::borrow::Cow<'_, str>)| http::HeaderValue::from_str(value).is_ok())
    }
}

/// What the runtime answered for one invocation (or for init).
#[derive(Debug)]
pub enum Reply {
    Response(Bytes),
    /// `error_type` from `Lambda-Runtime-Function-Error-Type`; `body` as posted.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

struct Shared {
    next: Mutex<Next>,
    /// Wakes a TCP connection waiting in `invocation/next` (see `Shared::next_queued`).
    queued: Notify,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// Resolved by the first `invocation/next` (init done) or `init/error`.
    init: Mutex<Option<oneshot::Sender<Result<(), Reply>>>>,
    /// Where the own socket's connection is served while no invocation waits on it.
    services: Handle,
}

/// Where the next invocation goes: to the parked own-socket connection, or
/// into the queue for whichever connection asks next.
#[derive(Default)]
struct Next {
    queued: VecDeque<Invocation>,
    parked: Option<OwnSocket>,
    /// The environment is gone: `invocation/next` answers with an error.
    closed: bool,
}

impl Shared {
    /// The first `invocation/next` means init finished.
    fn init_done(&self) {
        if let Some(tx) = lock(&self.init).take() {
            let _ = tx.send(Ok(()));
        }
    }

    /// Wait for an invocation to hand out over TCP; None once shutting down.
    async fn next_queued(&self) -> Option<Invocation> {
        loop {
            let notified = self.queued.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut next = lock(&self.next);
                if let Some(invocation) = next.queued.pop_front() {
                    return Some(invocation);
                }
                if next.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

/// The environment's side of its Runtime API.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    /// The abstract Unix socket name our own bootstraps connect to.
    pub unix_name: String,
    shared: Arc<Shared>,
    _shutdown: oneshot::Sender<()>,
}

impl RuntimeApi {
    /// Start the listeners; the receiver resolves when init finishes or fails.
    /// With `runtime_uid`, connections from sockets of any other user are
    /// refused: functions share the host's loopback (and abstract socket
    /// namespace), and one must not read or answer another's events.
    pub async fn start(
        runtime_uid: Option<u32>,
    ) -> std::io::Result<(RuntimeApi, oneshot::Receiver<Result<(), Reply>>)> {
        let tcp = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = tcp.local_addr()?;
        let unix_name = format!("nimbus-runtime-api-{}", crate::util::random_hex(16));
        let unix = bind_abstract(&unix_name)?;
        let (init_tx, init_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            next: Mutex::new(Next::default()),
            queued: Notify::new(),
            pending: Mutex::new(HashMap::new()),
            init: Mutex::new(Some(init_tx)),
            services: Handle::current(),
        });
        let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
        let serving = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    accepted = tcp.accept() => match accepted {
                        Ok((stream, peer)) => {
                            if runtime_uid.is_some() && socket_uid(peer, addr) != runtime_uid {
                                tracing::warn!(?peer, "lambda: refused a Runtime API connection from another user");
                                continue;
                            }
                            let _ = stream.set_nodelay(true);
                            tcp::serve(serving.clone(), stream);
                        }
                        Err(_) => back_off().await,
                    },
                    accepted = unix.accept() => match accepted {
                        Ok((stream, _)) => {
                            let uid = stream.peer_cred().ok().map(|c| c.uid());
                            if runtime_uid.is_some() && uid != runtime_uid {
                                tracing::warn!(?uid, "lambda: refused a Runtime API connection from another user");
                                continue;
                            }
                            match stream.into_std().and_then(OwnSocket::new) {
                                Ok(connection) => connection.serve_in_background(serving.clone()),
                                Err(e) => tracing::debug!(error = %e, "lambda: could not take a Runtime API connection"),
                            }
                        }
                        Err(_) => back_off().await,
                    },
                    _ = &mut shutdown_rx => break,
                }
            }
        });
        Ok((RuntimeApi { addr, unix_name, shared, _shutdown: shutdown_tx }, init_rx))
    }

    /// Hand `invocation` to the runtime and wait for its response or error;
    /// None if the runtime can no longer answer (it closed its connection
    /// without answering: it is exiting). When the runtime is parked in
    /// `invocation/next` on the own socket, this future serves that
    /// connection itself (see `own_socket`); otherwise the invocation waits
    /// in the queue for the runtime's next `invocation/next`.
    pub async fn invoke(&self, invocation: Invocation) -> Option<Reply> {
        let (tx, mut rx) = oneshot::channel();
        lock(&self.shared.pending).insert(invocation.request_id.clone(), tx);
        let parked = {
            let mut next = lock(&self.shared.next);
            match next.parked.take() {
                Some(connection) => Some((connection, invocation)),
                None => {
                    next.queued.push_back(invocation);
                    None
                }
            }
        };
        match parked {
            Some((connection, invocation)) => {
                if let Some(reply) = connection.serve_invocation(&self.shared, invocation, &mut rx).await {
                    return Some(reply);
                }
            }
            None => self.shared.queued.notify_one(),
        }
        rx.await.ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Waiting runtimes learn that the environment is shutting down.
        let parked = {
            let mut next = lock(&self.shared.next);
            next.closed = true;
            next.parked.take()
        };
        drop(parked);
        self.shared.queued.notify_waiters();
    }
}

/// A listener on the abstract Unix socket `name` (Linux: no file, gone
/// with the listener).
fn bind_abstract(name: &str) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
    listener.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(listener)
}

/// Out of descriptors and the like: pause, then keep serving.
async fn back_off() {
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
}

/// The owner of the local TCP socket `peer` connected to `ours`, from
/// /proc/net/tcp (IPv4 loopback: where runtimes connect).
fn socket_uid(peer: SocketAddr, ours: SocketAddr) -> Option<u32> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => Some(format!("{:08X}:{:04X}", u32::from_le_bytes(v4.ip().octets()), v4.port())),
        SocketAddr::V6(_) => None,
    };
    let (local, remote) = (hex(peer)?, hex(ours)?);
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()) && fields.get(2) == Some(&remote.as_str()))
            .then(|| fields.get(7)?.parse().ok())
            .flatten()
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::UnixStream;

    use super::*;

    /// A runtime's end of the own socket.
    fn connect(api: &RuntimeApi) -> UnixStream {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(api.unix_name.as_bytes()).unwrap();
        let stream = UnixStream::connect_addr(&addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        stream
    }

    /// Read until `count` HTTP responses (with Content-Length bodies) are in.
    fn read_responses(stream: &mut UnixStream, count: usize) -> String {
        let complete = |text: &str| {
            let mut at = 0;
            for _ in 0..count {
                let Some(head) = text[at..].find("\r\n\r\n") else { return false };
                let length: usize = text[at..at + head]
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |n| n.trim().parse().unwrap());
                at += head + 4 + length;
                if at > text.len() {
                    return false;
                }
            }
            true
        };
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        while !complete(&text) {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "connection closed after {text:?}");
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        text
    }

    fn invocation(id: &str) -> Invocation {
        Invocation {
            request_id: id.into(),
            payload: Bytes::from_static(b"{\"k\":1}"),
            deadline_ms: 42,
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            trace_id: "Root=1-2-3".into(),
            client_context: Some("{\n}".into()),
        }
    }

    const NEXT: &[u8] = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";

    #[tokio::test]
    async fn a_pipelined_answer_gets_its_202_with_the_next_invocation() {
        let (api, init) = RuntimeApi::start(None).await.unwrap();
        let mut runtime = connect(&api);
        runtime.write_all(NEXT).unwrap();
        init.await.unwrap().unwrap();
        let runtime = tokio::task::spawn_blocking(move || {
            let first = read_responses(&mut runtime, 1);
            assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
            assert!(first.contains("lambda-runtime-aws-request-id: one\r\n"));
            assert!(first.contains("lambda-runtime-deadline-ms: 42\r\n"));
            // Not a valid header value: left out, as hyper would.
            assert!(!first.contains("lambda-runtime-client-context"));
            assert!(first.ends_with("\r\n\r\n{\"k\":1}"));
            let mut answer =
                b"POST /2018-06-01/runtime/invocation/one/response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok".to_vec();
            answer.extend_from_slice(NEXT);
            runtime.write_all(&answer).unwrap();
            runtime
        });
        let reply = api.invoke(invocation("one")).await;
        assert!(matches!(reply, Some(Reply::Response(body)) if body == "ok"));
        let mut runtime = runtime.await.unwrap();
        // Its 202 waits for the next invocation.
        runtime.set_nonblocking(true).unwrap();
        assert_eq!(runtime.read(&mut [0u8; 64]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
        runtime.set_nonblocking(false).unwrap();
        let second = tokio::join!(api.invoke(invocation("two")), async {
            tokio::task::spawn_blocking(move || {
                let text = read_responses(&mut runtime, 2);
                // The 202 came with the next invocation, not before it.
                assert!(text.starts_with("HTTP/1.1 202 Accepted\r\n"), "{text}");
                assert!(text.contains("lambda-runtime-aws-request-id: two\r\n"));
                runtime
                    .write_all(
                        b"POST /2018-06-01/runtime/invocation/two/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: E\r\nContent-Length: 0\r\n\r\n",
                    )
                    .unwrap();
                let ack = read_responses(&mut runtime, 1);
                assert!(ack.starts_with("HTTP/1.1 202 Accepted\r\n"), "{ack}");
            })
            .await
            .unwrap()
        });
        assert!(matches!(second.0, Some(Reply::Error { error_type: Some(t), .. }) if t == "E"));
    }

    #[tokio::test]
    async fn a_chunked_request_is_refused_and_the_connection_closed() {
        let (api, _init) = RuntimeApi::start(None).await.unwrap();
        let mut runtime = connect(&api);
        let text = tokio::task::spawn_blocking(move || {
            runtime
                .write_all(
                    b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                )
                .unwrap();
            let mut text = String::new();
            runtime.read_to_string(&mut text).unwrap();
            text
        })
        .await
        .unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    }
}
