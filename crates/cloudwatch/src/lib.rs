//! CloudWatch for Nimbus: two services over one store.
//!
//! - `logs`: CloudWatch Logs (awsJson 1.1, `Logs_20140328`): groups, streams,
//!   events, the filter-pattern language, retention, tags; and the `LogSink`
//!   other services write function logs through.
//! - `metrics`: CloudWatch metrics (`monitoring`; the JSON protocol
//!   `GraniteServiceVersion20100801` today's SDKs speak, and awsQuery for
//!   older ones): series, statistics, metric math, roll-up tiers, alarms;
//!   the `MetricSink`; and the Prometheus exposition at `GET /_nimbus/metrics`.
//!
//! `CloudWatch::new` builds both and starts their background tasks (metric
//! ingestion, retention sweeps, roll-ups, alarm evaluation); the binary
//! registers the services with the edge, hands the sinks to Lambda, API
//! Gateway and DynamoDB, and gives alarms Lambda's `Invoker` with
//! `set_invoker`.

pub mod logs;
pub mod metrics;
mod wire;

use std::sync::Arc;

use nimbus_core::{Context, LogSink, MetricSink};
use nimbus_store::Store;

pub use logs::LogsService;
pub use metrics::MetricsService;

/// Both CloudWatch services and the doors other services use to reach them.
pub struct CloudWatch {
    pub logs: Arc<LogsService>,
    pub metrics: Arc<MetricsService>,
}

impl CloudWatch {
    /// Build both services and start their background tasks. Must be called
    /// inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>, context: Context) -> Self {
        let metrics = MetricsService::start(store.clone(), context.clone());
        let logs = LogsService::start(store, context, metrics.sink());
        CloudWatch { logs, metrics }
    }

    /// Where Lambda and API Gateway write function and access logs.
    pub fn log_sink(&self) -> Arc<dyn LogSink> {
        self.logs.clone()
    }

    /// Let alarm actions invoke Lambda functions.
    pub fn set_invoker(&self, invoker: Arc<dyn nimbus_core::Invoker>) {
        self.metrics.set_invoker(invoker);
    }

    /// Where services report AWS/Lambda, AWS/ApiGateway, AWS/DynamoDB metrics; never blocks.
    pub fn metric_sink(&self) -> Arc<dyn MetricSink> {
        self.metrics.sink()
    }
}
