//! Cross-service doors: how Lambda, API Gateway and DynamoDB reach
//! CloudWatch (logs, metrics) and how API Gateway reaches Lambda (invoke), without depending
//! on each other's crates. The binary wires implementations together.

use bytes::Bytes;

use crate::error::AwsError;
use crate::service::BoxFuture;

/// One log line with its time (epoch milliseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// Where services write logs (CloudWatch Logs implements it).
pub trait LogSink: Send + Sync {
    /// Append events to `group`/`stream`, creating both if missing. Events
    /// are in time order. Resolves once the events are stored.
    fn put_log_events(&self, group: &str, stream: &str, events: Vec<LogEvent>) -> BoxFuture<'_, Result<(), AwsError>>;
}

/// One metric observation.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDatum {
    /// `AWS/Lambda`, `AWS/ApiGateway`, `AWS/DynamoDB`, …
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
    /// CloudWatch unit name: `Count`, `Milliseconds`, `Bytes`, `None`, …
    pub unit: String,
    pub timestamp_ms: i64,
}

/// Many observations of one series, summed up where they happened: a busy
/// service (DynamoDB) counts on its hot path and reports each series once a
/// period, as CloudWatch's `StatisticValues`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSummary {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: String,
    pub timestamp_ms: i64,
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// The distribution, for Prometheus histograms: (upper bound in `unit`,
    /// observations above the previous bound and at most this one). Empty
    /// when the metric is not a duration.
    pub buckets: Vec<(f64, u64)>,
}

/// Where services report metrics (CloudWatch implements it). Never blocks the
/// caller's hot path: implementations buffer and store in the background.
pub trait MetricSink: Send + Sync {
    fn put_metrics(&self, data: Vec<MetricDatum>);

    fn put_summaries(&self, data: Vec<MetricSummary>);
}

/// A sink that drops everything, for tests and for running a service alone.
pub struct DiscardSink;

impl LogSink for DiscardSink {
    fn put_log_events(&self, _: &str, _: &str, _: Vec<LogEvent>) -> BoxFuture<'_, Result<(), AwsError>> {
        Box::pin(async { Ok(()) })
    }
}

impl MetricSink for DiscardSink {
    fn put_metrics(&self, _: Vec<MetricDatum>) {}

    fn put_summaries(&self, _: Vec<MetricSummary>) {}
}

/// A sink that keeps the metric summaries reported to it, for tests of
/// what a service reports.
#[derive(Default)]
pub struct SummaryRecorder(std::sync::Mutex<Vec<MetricSummary>>);

impl SummaryRecorder {
    /// What was reported since the last `take`.
    pub fn take(&self) -> Vec<MetricSummary> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl MetricSink for SummaryRecorder {
    fn put_metrics(&self, _: Vec<MetricDatum>) {}

    fn put_summaries(&self, data: Vec<MetricSummary>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(data);
    }
}

/// A synchronous invocation request, as API Gateway (or any caller) makes it.
#[derive(Clone, Debug)]
pub struct InvokeRequest {
    /// Function name, partial or full ARN (with or without qualifier).
    pub function: String,
    pub qualifier: Option<String>,
    pub payload: Bytes,
    /// Base64 client context, as in the Invoke API.
    pub client_context: Option<String>,
}

/// What an invocation produced.
#[derive(Clone, Debug)]
pub struct InvokeOutcome {
    pub payload: Bytes,
    /// `Some("Unhandled")` when the function failed (X-Amz-Function-Error).
    pub function_error: Option<String>,
    pub executed_version: String,
}

/// Invokes functions synchronously (Lambda implements it). An invocation
/// runs to completion even if the caller drops the future, as on Lambda.
pub trait Invoker: Send + Sync {
    fn invoke(&self, request: InvokeRequest) -> BoxFuture<'_, Result<InvokeOutcome, AwsError>>;
}

/// Starts a function's execution environment before its first invocation,
/// as Lambda's proactive initialization of on-demand environments does. Not
/// an AWS API: Lambda implements it and `nimbus up` calls it for the
/// functions it just deployed, so the first request need not wait for a cold
/// start.
pub trait Prewarmer: Send + Sync {
    /// Start one environment for the function's current code and
    /// configuration ($LATEST) in the background, unless one is idle or
    /// starting already. Returns at once; a start that fails is left to the
    /// first invocation to report.
    fn prewarm(&self, function_name: &str);
}
