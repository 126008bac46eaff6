//! CloudWatch metrics (stub while the logs side is built).

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Context, DiscardSink, MetricSink, Protocol, Service, ServiceSpec};
use nimbus_store::Store;

static SPEC: ServiceSpec = ServiceSpec {
    name: "monitoring",
    signing_name: "monitoring",
    protocol: Protocol::AwsQuery,
    target_prefix: Some("GraniteServiceVersion20100801"),
    xml_namespace: Some("http://monitoring.amazonaws.com/doc/2010-08-01/"),
    ..ServiceSpec::BASE
};

pub struct MetricsService {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
}

impl MetricsService {
    pub fn start(store: Arc<dyn Store>, _context: Context) -> Arc<Self> {
        Arc::new(MetricsService { store })
    }

    pub fn sink(&self) -> Arc<dyn MetricSink> {
        Arc::new(DiscardSink)
    }
}

impl Service for MetricsService {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, _request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move { Err(AwsError::unknown_operation(Protocol::AwsJson1_0)) })
    }
}
