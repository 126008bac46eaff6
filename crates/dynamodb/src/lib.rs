//! DynamoDB: awsJson 1.0, `X-Amz-Target: DynamoDB_20120810.<Operation>`.

pub mod error;
pub mod expr;
pub mod types;

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Context, Protocol, Service, ServiceSpec};
use nimbus_store::Store;

/// Namespace of DynamoDB's own error types in `__type`.
pub const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";

static SPEC: ServiceSpec = ServiceSpec {
    name: "dynamodb",
    signing_name: "dynamodb",
    protocol: Protocol::AwsJson1_0,
    target_prefix: Some("DynamoDB_20120810"),
    crc32: true,
    ..ServiceSpec::BASE
};

pub struct DynamoDb {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
    #[allow(dead_code)]
    context: Context,
}

impl DynamoDb {
    pub fn new(store: Arc<dyn Store>, context: Context) -> Self {
        DynamoDb { store, context }
    }
}

impl Service for DynamoDb {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            match request.target_operation.as_deref() {
                _ => Err(AwsError::unknown_operation(Protocol::AwsJson1_0)),
            }
        })
    }
}
