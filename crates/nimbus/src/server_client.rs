//! Signed HTTP/1.1 requests from the CLI to a running Nimbus (`nimbus iam`,
//! `nimbus logs`): one connection per request, SigV4 with the given
//! credentials, the reply's status and body.

use clap::Args;
use http::{HeaderMap, HeaderValue};
use nimbus_iam::sigv4::Signer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the server is and who the CLI is to it.
#[derive(Args, Clone)]
pub struct ServerArgs {
    /// The server to ask.
    #[arg(long, default_value = "http://127.0.0.1:4566", env = "AWS_ENDPOINT_URL")]
    pub endpoint: String,
    #[arg(long, default_value = "us-east-1", env = "NIMBUS_REGION")]
    pub region: String,
    #[arg(long, default_value = "test", env = "NIMBUS_ACCESS_KEY_ID")]
    pub access_key_id: String,
    #[arg(long, default_value = "test", env = "NIMBUS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: String,
}

/// One request to sign and send.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Already percent-encoded, without `?`.
    pub query: &'a str,
    /// The SigV4 service name (`logs`, `iam`…).
    pub service: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
}

/// Send `request`; returns (status, body).
pub async fn send(server: &ServerArgs, request: Request<'_>) -> Result<(u16, Vec<u8>), String> {
    let host = server
        .endpoint
        .strip_prefix("http://")
        .ok_or("only http:// endpoints are supported")?
        .trim_end_matches('/')
        .to_owned();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&host).map_err(|e| e.to_string())?);
    for (name, value) in &request.headers {
        headers.insert(*name, HeaderValue::from_str(value).map_err(|e| e.to_string())?);
    }
    let signer = Signer::new(&server.access_key_id, &server.secret_access_key, &server.region, request.service);
    let now = nimbus_core::time::now_epoch_seconds();
    let signed: String = signer
        .sign(request.method, request.path, request.query, &headers, request.body, now)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let extra: String = request.headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let target = match request.query {
        "" => request.path.to_owned(),
        query => format!("{}?{query}", request.path),
    };

    let mut stream =
        tokio::net::TcpStream::connect(&host).await.map_err(|e| format!("cannot reach {}: {e}", server.endpoint))?;
    let head = format!(
        "{} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}{signed}Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.method,
        request.body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    stream.write_all(request.body).await.map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.map_err(|e| e.to_string())?;
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").ok_or("malformed HTTP reply")?;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let body = reply[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("malformed HTTP status line")?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Ok((status, dechunk(&body)));
    }
    Ok((status, body))
}

/// Decode a chunked HTTP/1.1 body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        body = &body[line_end + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

/// A current-thread runtime for one CLI command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}
