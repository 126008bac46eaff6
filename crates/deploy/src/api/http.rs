//! `AwsApi` over HTTP/1.1 to a running Nimbus, each call SigV4-signed: what
//! `nimbus deploy` uses. One connection per call keeps it simple; deploys
//! make tens of calls, not thousands.

use nimbus_core::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::sigv4::{sign, Credentials};
use super::{decode_success, ApiCall, ApiError, AwsApi};

pub struct HttpApi {
    /// `host:port` of the server.
    pub authority: String,
    pub region: String,
    pub credentials: Credentials,
}

impl HttpApi {
    /// From an endpoint like `http://localhost:4566`.
    pub fn new(endpoint: &str, region: &str, credentials: Credentials) -> Result<Self, String> {
        let authority = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| format!("endpoint {endpoint}: only http:// endpoints are supported"))?
            .trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("endpoint {endpoint}: expected http://host:port"));
        }
        Ok(HttpApi { authority: authority.to_owned(), region: region.to_owned(), credentials })
    }
}

impl AwsApi for HttpApi {
    fn call<'a>(&'a self, service: &'a str, call: ApiCall) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let body = call.body_bytes();
            let mut headers = vec![
                ("host".to_owned(), self.authority.clone()),
                ("content-type".to_owned(), call.content_type.to_owned()),
            ];
            if let Some(target) = &call.target {
                headers.push(("x-amz-target".into(), target.clone()));
            }
            let amz_date = nimbus_core::time::format_amz_date(nimbus_core::time::now_epoch_seconds());
            sign(
                call.method.as_str(),
                &call.path_and_query,
                &mut headers,
                &body,
                service,
                &self.region,
                &self.credentials,
                &amz_date,
            );
            let mut request = format!("{} {} HTTP/1.1\r\n", call.method, call.path_and_query);
            for (k, v) in &headers {
                request.push_str(&format!("{k}: {v}\r\n"));
            }
            request.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
            let mut stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| ApiError::transport(format!("cannot reach Nimbus at {}: {e}", self.authority)))?;
            let io = |e: std::io::Error| ApiError::transport(format!("talking to {}: {e}", self.authority));
            stream.write_all(request.as_bytes()).await.map_err(io)?;
            stream.write_all(&body).await.map_err(io)?;
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.map_err(io)?;
            let (status, response_body) = parse_response(&raw).map_err(ApiError::transport)?;
            if (200..300).contains(&status) {
                decode_success(&response_body)
            } else {
                Err(ApiError::from_response(status, &response_body))
            }
        })
    }
}

/// Status and body of an HTTP/1.1 response read to the end of the connection.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("malformed HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("malformed HTTP status line")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("malformed chunk")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "malformed chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        if rest.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
    Ok((status, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let (s, b) = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"{}"[..]));
        let (s, b) = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (404, &b"abcde"[..]));
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn endpoints() {
        let c = Credentials { access_key_id: "a".into(), secret_access_key: "b".into(), session_token: None };
        assert_eq!(HttpApi::new("http://localhost:4566/", "us-east-1", c.clone()).unwrap().authority, "localhost:4566");
        assert!(HttpApi::new("https://x", "us-east-1", c).is_err());
    }
}
