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
