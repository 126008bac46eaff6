//! HTTP_PROXY integrations: pass the request through to an HTTP endpoint
//! and its response back unchanged.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nimbus_core::AwsRequest;

use super::routes::RouteMatch;

/// Largest response body passed back (API Gateway's payload limit is 10 MB).
const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// Hop-by-hop headers, which belong to one connection and are not forwarded.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "host"];

pub struct HttpProxy {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpProxy {
    fn default() -> Self {
        HttpProxy { client: Client::builder(TokioExecutor::new()).build_http() }
    }
}

pub enum ProxyError {
    Timeout,
    Failed(String),
}

impl HttpProxy {
    /// Forward `request` to `uri` (where `{name}` placeholders take the
    /// route's path parameters, as API Gateway substitutes `{proxy}`).
    pub async fn forward(
        &self,
        uri: &str,
        request: &AwsRequest,
        matched: &RouteMatch<'_>,
        timeout: Duration,
    ) -> Result<Response<Bytes>, ProxyError> {
        let mut target = uri.to_owned();
        for (name, value) in &matched.path_parameters {
            target = target.replace(&format!("{{{name}}}"), value).replace(&format!("{{{name}+}}"), value);
        }
        if let Some(query) = request.uri.query() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(query);
        }
        let target: Uri = target.parse().map_err(|e| ProxyError::Failed(format!("bad integration URI: {e}")))?;
        let mut builder = Request::builder().method(request.method.clone()).uri(target);
        for (name, value) in &request.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != header::CONTENT_LENGTH {
                builder = builder.header(name, value);
            }
        }
        let outgoing = builder.body(Full::new(request.body.clone())).map_err(|e| ProxyError::Failed(e.to_string()))?;
        let response = tokio::time::timeout(timeout, self.client.request(outgoing))
            .await
            .map_err(|_| ProxyError::Timeout)?
            .map_err(|e| ProxyError::Failed(e.to_string()))?;
        let (mut parts, body) = response.into_parts();
        let body =
            Limited::new(body, MAX_RESPONSE).collect().await.map_err(|e| ProxyError::Failed(e.to_string()))?.to_bytes();
        for name in HOP_BY_HOP {
            parts.headers.remove(*name);
        }
        parts.headers.remove(header::CONTENT_LENGTH);
        Ok(Response::from_parts(parts, body))
    }
}
