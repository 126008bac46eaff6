//! The door every service crate opens to the edge.

use std::future::Future;
use std::pin::Pin;

use crate::error::AwsError;
use crate::protocol::Protocol;
use crate::request::{AwsRequest, AwsResponse};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the edge recognises a service's requests and encodes its errors.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// Name shown in health output and logs, e.g. `dynamodb`.
    pub name: &'static str,
    /// The service in the SigV4 credential scope, e.g. `dynamodb`, `lambda`.
    pub signing_name: &'static str,
    pub protocol: Protocol,
    /// `X-Amz-Target` prefix before the dot, for awsJson services.
    pub target_prefix: Option<&'static str>,
    /// Path prefixes of restJson services, e.g. `/2015-03-31/functions`.
    pub path_prefixes: &'static [&'static str],
    /// XML namespace of awsQuery responses.
    pub xml_namespace: Option<&'static str>,
    /// Whether responses carry `x-amz-crc32` (DynamoDB's SDKs verify it).
    pub crc32: bool,
    /// Path prefixes served without authentication (e.g. `/_nimbus/metrics`,
    /// `/_aws/execute-api/`).
    pub public_paths: &'static [&'static str],
    /// Host suffixes served without authentication, e.g.
    /// `.execute-api.localhost` for `{api}.execute-api.localhost:4566`.
    pub public_host_suffixes: &'static [&'static str],
}

impl ServiceSpec {
    /// A spec with nothing routed; services fill in what they use:
    /// `ServiceSpec { name: "x", ..ServiceSpec::BASE }`.
    pub const BASE: ServiceSpec = ServiceSpec {
        name: "",
        signing_name: "",
        protocol: Protocol::RestJson,
        target_prefix: None,
        path_prefixes: &[],
        xml_namespace: None,
        crc32: false,
        public_paths: &[],
        public_host_suffixes: &[],
    };
}

/// A service: routes declared in its spec, requests handled asynchronously.
pub trait Service: Send + Sync + 'static {
    fn spec(&self) -> &ServiceSpec;

    /// Handle one authenticated request. Errors are encoded by the edge in
    /// the service's protocol.
    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>>;

    /// One word for `/_nimbus/health`.
    fn status(&self) -> &'static str {
        "running"
    }
}
