//! The Lambda Runtime API, one server per execution environment.
//!
//! Each environment gets its own `127.0.0.1:<ephemeral>` listener, so
//! `AWS_LAMBDA_RUNTIME_API` stays plain host:port (as on AWS) and a runtime
//! can only ever see its own invocations. Nimbus's own Python bootstrap
//! reaches the same server over a Unix socket instead (named in its command
//! line): the same HTTP, without loopback TCP's cost on every invocation
//! (Node's http client cannot connect to abstract sockets, so the Node
//! bootstrap stays on TCP). The socket is in the abstract namespace, so it needs no
//! file the sandbox would have to mount; like the TCP listener it accepts
//! only the environment's own uid. Routes (2018-06-01):
//! `GET invocation/next`, `POST invocation/{id}/response`,
//! `POST invocation/{id}/error`, `POST init/error`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

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
    next: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// Resolved by the first `invocation/next` (init done) or `init/error`.
    init: Mutex<Option<oneshot::Sender<Result<(), Reply>>>>,
}

/// The environment's side of its Runtime API.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    /// The abstract Unix socket name our own bootstraps connect to.
    pub unix_name: String,
    events: mpsc::Sender<Invocation>,
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
        let (events, next) = mpsc::channel(1);
        let (init_tx, init_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            next: tokio::sync::Mutex::new(next),
            pending: Mutex::new(HashMap::new()),
            init: Mutex::new(Some(init_tx)),
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
                            serve(serving.clone(), stream);
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
                            serve(serving.clone(), stream);
                        }
                        Err(_) => back_off().await,
                    },
                    _ = &mut shutdown_rx => break,
                }
            }
        });
        Ok((RuntimeApi { addr, unix_name, events, shared, _shutdown: shutdown_tx }, init_rx))
    }

    /// Queue `invocation` for the runtime's next `invocation/next`; the
    /// receiver resolves with its response or error.
    pub async fn submit(&self, invocation: Invocation) -> Option<oneshot::Receiver<Reply>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(invocation.request_id.clone(), tx);
        let id = invocation.request_id.clone();
        if self.events.send(invocation).await.is_err() {
            lock(&self.shared.pending).remove(&id);
            return None;
        }
        Some(rx)
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

/// Serve one runtime connection (HTTP/1.1, keep-alive) in a task of its own.
fn serve<S>(shared: Arc<Shared>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(route(&shared, request).await) }
    });
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
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

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn accepted() -> Response<Full<Bytes>> {
    // Every invocation's answer gets this: a static body, no serialisation.
    let mut response = Response::new(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)));
    *response.status_mut() = StatusCode::ACCEPTED;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, serde_json::json!({"errorMessage": message, "errorType": error_type}))
}

async fn route(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return error(StatusCode::NOT_FOUND, "InvalidPath", "not a Runtime API path");
    };
    let method = request.method().clone();
    let error_type =
        request.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Read a little past the limit so an oversized response can be told apart.
    let body = match Limited::new(request.into_body(), MAX_RESPONSE_BYTES * 2).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["invocation", "next"]) => next(shared).await,
        ("POST", ["invocation", id, "response"]) => {
            let Some(tx) = lock(&shared.pending).remove(*id) else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            if body.len() > MAX_RESPONSE_BYTES {
                let message = format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                );
                let body = serde_json::json!({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"});
                let _ = tx.send(Reply::Error {
                    error_type: Some("Function.ResponseSizeTooLarge".into()),
                    body: Bytes::from(body.to_string()),
                });
                return error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message);
            }
            let _ = tx.send(Reply::Response(body));
            accepted()
        }
        ("POST", ["invocation", id, "error"]) => {
            let Some(tx) = lock(&shared.pending).remove(*id) else {
                return error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            let _ = tx.send(Reply::Error { error_type, body });
            accepted()
        }
        ("POST", ["init", "error"]) => {
            match lock(&shared.init).take() {
                Some(tx) => {
                    let _ = tx.send(Err(Reply::Error { error_type, body }));
                }
                None => return error(StatusCode::FORBIDDEN, "InvalidStateTransition", "init already completed"),
            }
            accepted()
        }
        _ => error(StatusCode::NOT_FOUND, "InvalidPath", "unknown Runtime API route"),
    }
}

async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    // The first `next` means init finished.
    if let Some(tx) = lock(&shared.init).take() {
        let _ = tx.send(Ok(()));
    }
    let invocation = shared.next.lock().await.recv().await;
    let Some(inv) = invocation else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "EnvironmentShutdown", "the environment is shutting down");
    };
    let mut response = Response::new(Full::new(inv.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set("lambda-runtime-deadline-ms", &inv.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &inv.function_arn);
    set("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        set("lambda-runtime-client-context", cc);
    }
    response
}
