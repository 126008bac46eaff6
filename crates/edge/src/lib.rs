//! The front door: one HTTP/1.1 listener for every service.
//!
//! A request is routed to a service (by `X-Amz-Target`, REST path, or the
//! service named in its SigV4 credential scope), authenticated, handed to the
//! service, and its result — or error — encoded in the service's protocol
//! with AWS's request-id and checksum headers. The edge knows services only
//! through the `Service` trait.

mod auth;
mod balance;
mod connection;
mod router;
mod server;
mod spin;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use nimbus_core::request::new_request_id;
use nimbus_core::request::PrincipalKind;
use nimbus_core::{Authorizer, AwsError, AwsRequest, AwsResponse, Context, Principal, Service};
use nimbus_iam::sigv4::{Authorization, SignedRequest};
use nimbus_iam::Verifier;

pub use router::Router;
pub use server::serve;

/// The SigV4 service name of API data-plane calls.
const EXECUTE_API: &str = "execute-api";

/// Largest request body accepted (a 50 MB zip, base64-encoded, fits).
pub const MAX_BODY_BYTES: usize = 100 * 1024 * 1024;

/// How requests are authenticated.
pub enum AuthMode {
    /// Every request must carry a valid SigV4 signature.
    SigV4(Verifier),
    /// Any request is accepted as the account's root (`--auth off`).
    Off,
}

pub struct Edge {
    router: Router,
    auth: AuthMode,
    authorizer: Option<Arc<dyn Authorizer>>,
    context: Context,
    started: Instant,
}

impl Edge {
    pub fn new(services: Vec<Arc<dyn Service>>, auth: AuthMode, context: Context) -> Self {
        Edge { router: Router::new(services), auth, authorizer: None, context, started: Instant::now() }
    }

    /// Check every non-root request against IAM policies.
    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Who calls a public endpoint (API data plane, metrics): nobody in particular.
    fn anonymous(&self) -> Principal {
        Principal { kind: PrincipalKind::Anonymous, ..Principal::root(&self.context.account_id, "anonymous") }
    }

    /// Handle one request whose body has been read.
    pub async fn handle(&self, request: Request<Bytes>, source_ip: IpAddr) -> AwsResponse {
        let request_id = new_request_id();
        if request.method() == Method::GET && request.uri().path() == "/_nimbus/health" {
            return self.health(&request_id);
        }
        let (parts, body) = request.into_parts();
        let signed = SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
        };
        // A malformed signature is reported even before routing, so parse once here.
        let authorization = Authorization::parse(&signed);
        let scope_service = authorization.as_ref().ok().and_then(|a| a.as_ref()).map(|a| a.service.as_ref());
        let route = self.router.route(&parts.uri, &parts.headers, scope_service);

        let spec = route.service.map(|s| s.spec());
        let (xml_namespace, crc32) = spec.map_or((None, false), |s| (s.xml_namespace, s.crc32));
        let error_response =
            |err: AwsError| finish(err.to_response(route.protocol, xml_namespace, &request_id), &request_id, crc32);

        let principal = match &self.auth {
            // Public endpoints (API data planes) are open, but a request
            // signed for `execute-api` is verified so AWS_IAM routes can
            // check who it is.
            AuthMode::SigV4(verifier) if route.public => match &authorization {
                Ok(Some(auth)) if auth.service == EXECUTE_API => {
                    let now = nimbus_core::time::now_epoch_seconds();
                    match verifier.verify_parsed(&signed, auth, EXECUTE_API, now) {
                        Ok(principal) => principal,
                        Err(e) => return error_response(auth::to_aws_error(e, route.protocol)),
                    }
                }
                _ => self.anonymous(),
            },
            _ if route.public => self.anonymous(),
            AuthMode::Off => self.anonymous(),
            AuthMode::SigV4(verifier) => {
                let now = nimbus_core::time::now_epoch_seconds();
                let result = match (&authorization, &route.signing_name) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(None), _) => Err(nimbus_iam::AuthError::MissingToken),
                    (Ok(Some(auth)), Some(signing_name)) => verifier.verify_parsed(&signed, auth, signing_name, now),
                    (Ok(Some(auth)), None) => verifier.verify_parsed(&signed, auth, &auth.service, now),
                };
                match result {
                    Ok(principal) => principal,
                    Err(e) => {
                        let err = auth::to_aws_error(e, route.protocol);
                        tracing::debug!(service = spec.map(|s| s.name), %err, "authentication failed");
                        return error_response(err);
                    }
                }
            }
        };

        let Some(service) = route.service else {
            return error_response(match route.target_operation {
                Some(_) => AwsError::unknown_operation(route.protocol),
                None => AwsError::new(404, "UnknownOperationException", "No service handles this request"),
            });
        };
        let aws_request = AwsRequest {
            request_id: request_id.clone(),
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
            target_operation: route.target_operation,
            principal,
            region: self.context.region.clone(),
            source_ip,
            authorizer: self.authorizer.clone(),
        };
        match service.handle(aws_request).await {
            Ok(response) => finish(response, &request_id, crc32),
            Err(err) => {
                if err.status.is_server_error() {
                    tracing::warn!(service = service.spec().name, %err, "request failed");
                }
                error_response(err)
            }
        }
    }

    fn health(&self, request_id: &str) -> AwsResponse {
        let services: serde_json::Map<String, serde_json::Value> =
            self.router.services().map(|s| (s.spec().name.to_owned(), s.status().into())).collect();
        let body = serde_json::json!({
            "status": "running",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "region": self.context.region,
            "account_id": self.context.account_id,
            "services": services,
        });
        let response = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap_or_default();
        finish(response, request_id, false)
    }
}

/// Add the headers every AWS response carries.
fn finish(mut response: AwsResponse, request_id: &str, crc32: bool) -> AwsResponse {
    if crc32 {
        let sum = crc32fast::hash(response.body());
        response.headers_mut().insert("x-amz-crc32", HeaderValue::from(sum));
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        let headers = response.headers_mut();
        headers.insert("x-amzn-RequestId", id.clone());
        headers.insert("x-amz-request-id", id);
    }
    response
}
