//! CloudWatch Logs: awsJson 1.1, `X-Amz-Target: Logs_20140328.<Operation>`.

mod api;
pub mod filter;
pub mod model;
mod retention;
mod sink;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Context, MetricSink, Protocol, Service, ServiceSpec};
use nimbus_store::Store;
use serde_json::Value;
use tokio::sync::Notify;

use crate::wire;

static SPEC: ServiceSpec = ServiceSpec {
    name: "logs",
    signing_name: "logs",
    protocol: Protocol::AwsJson1_1,
    target_prefix: Some("Logs_20140328"),
    ..ServiceSpec::BASE
};

pub struct LogsService {
    store: Arc<dyn Store>,
    context: Context,
    /// Next event sequence number: orders events of equal timestamp and makes
    /// event ids unique. Seeded from the clock so restarts keep increasing it.
    next_seq: AtomicU64,
    /// Wakes the retention sweeper early (after PutRetentionPolicy).
    sweep_now: Arc<Notify>,
    /// AWS/Logs IncomingLogEvents and IncomingBytes go here.
    metrics: Arc<dyn MetricSink>,
}

impl LogsService {
    /// Build the service and start its retention sweeper.
    pub fn start(store: Arc<dyn Store>, context: Context, metrics: Arc<dyn MetricSink>) -> Arc<Self> {
        let service = Arc::new(Self::new(store, context, metrics));
        retention::spawn_sweeper(Arc::downgrade(&service), service.sweep_now.clone());
        service
    }

    /// The service without background tasks (unit tests).
    pub fn new(store: Arc<dyn Store>, context: Context, metrics: Arc<dyn MetricSink>) -> Self {
        let seed = nimbus_core::time::now_epoch_millis().saturating_mul(1000);
        LogsService { store, context, next_seq: AtomicU64::new(seed), sweep_now: Arc::new(Notify::new()), metrics }
    }

    /// Reserve `n` consecutive sequence numbers.
    fn reserve_seq(&self, n: u64) -> u64 {
        self.next_seq.fetch_add(n.max(1), Ordering::Relaxed)
    }

    /// `arn:aws:logs:{region}:{account}:log-group:{name}` (the `logGroupArn` form).
    pub fn group_arn(&self, group: &str) -> String {
        nimbus_core::arn::arn("logs", &self.context.region, &self.context.account_id, &format!("log-group:{group}"))
    }

    pub fn stream_arn(&self, group: &str, stream: &str) -> String {
        format!("{}:log-stream:{stream}", self.group_arn(group))
    }

    async fn dispatch(&self, request: &AwsRequest) -> Result<Value, AwsError> {
        let body = wire::parse_body(&request.body).map_err(|m| AwsError::new(400, "SerializationException", m))?;
        let operation = request.target_operation.as_deref().unwrap_or("");
        match operation {
            "CreateLogGroup" => self.create_log_group(request, body).await,
            "DeleteLogGroup" => self.delete_log_group(request, body).await,
            "DescribeLogGroups" => self.describe_log_groups(request, body),
            "CreateLogStream" => self.create_log_stream(request, body).await,
            "DeleteLogStream" => self.delete_log_stream(request, body).await,
            "DescribeLogStreams" => self.describe_log_streams(request, body),
            "PutLogEvents" => self.put_log_events_api(request, body).await,
            "GetLogEvents" => self.get_log_events(request, body),
            "FilterLogEvents" => self.filter_log_events(request, body),
            "PutRetentionPolicy" => self.put_retention_policy(request, body).await,
            "DeleteRetentionPolicy" => self.delete_retention_policy(request, body).await,
            "PutMetricFilter" => self.put_metric_filter(request, body).await,
            "DescribeMetricFilters" => self.describe_metric_filters(request, body),
            "DeleteMetricFilter" => self.delete_metric_filter(request, body).await,
            "TestMetricFilter" => self.test_metric_filter(request, body),
            "TagResource" => self.tag_resource(request, body).await,
            "UntagResource" => self.untag_resource(request, body).await,
            "ListTagsForResource" => self.list_tags_for_resource(request, body),
            "TagLogGroup" => self.tag_log_group(request, body).await,
            "UntagLogGroup" => self.untag_log_group(request, body).await,
            "ListTagsLogGroup" => self.list_tags_log_group(request, body),
            _ => Err(AwsError::unknown_operation(Protocol::AwsJson1_1)),
        }
    }
}

impl Service for LogsService {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            let body = self.dispatch(&request).await?;
            Ok(wire::json_response(Protocol::AwsJson1_1, &body))
        })
    }
}

/// The errors CloudWatch Logs answers with, worded as AWS words them.
pub(crate) mod errors {
    use nimbus_core::AwsError;

    pub fn invalid(message: impl Into<String>) -> AwsError {
        AwsError::new(400, "InvalidParameterException", message)
    }

    pub fn group_not_found() -> AwsError {
        AwsError::new(400, "ResourceNotFoundException", "The specified log group does not exist.")
    }

    pub fn stream_not_found() -> AwsError {
        AwsError::new(400, "ResourceNotFoundException", "The specified log stream does not exist.")
    }

    pub fn group_exists() -> AwsError {
        AwsError::new(400, "ResourceAlreadyExistsException", "The specified log group already exists")
    }

    pub fn stream_exists() -> AwsError {
        AwsError::new(400, "ResourceAlreadyExistsException", "The specified log stream already exists")
    }

    pub fn store(err: nimbus_store::StoreError) -> AwsError {
        AwsError::new(500, "ServiceUnavailableException", format!("The service cannot complete the request: {err}"))
    }
}
