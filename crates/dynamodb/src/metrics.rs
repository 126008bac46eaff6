//! The `AWS/DynamoDB` metrics, named and dimensioned as CloudWatch has them:
//!
//! - `SuccessfulRequestLatency` (Milliseconds; TableName, Operation): its
//!   SampleCount is the number of successful requests;
//! - `ConsumedReadCapacityUnits` / `ConsumedWriteCapacityUnits` (TableName:
//!   the table with all its indexes; TableName + GlobalSecondaryIndexName:
//!   one global index);
//! - `ReturnedItemCount` (TableName, Operation): Query and Scan;
//! - `ConditionalCheckFailedRequests` (TableName): failed conditions of
//!   PutItem, UpdateItem and DeleteItem, which UserErrors leaves out;
//! - `SystemErrors` (TableName, Operation): HTTP 500 answers;
//! - `UserErrors` (no dimension: the account in the region): HTTP 400s.
//!
//! Requests are summed up per second by the shared `MetricAggregator` and
//! reported as statistic sets; the latency keeps a histogram.

use std::sync::Arc;
use std::time::Duration;

use nimbus_core::{AwsError, MetricAggregator, MetricSink};
use serde_json::{Map, Value};

use crate::api::Consumed;

pub const NAMESPACE: &str = "AWS/DynamoDB";

/// The data-plane operations DynamoDB reports with an `Operation` dimension.
const OPERATIONS: [&str; 10] = [
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
];

/// Read or write capacity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Read,
    Write,
}

impl Capacity {
    fn metric(self) -> &'static str {
        match self {
            Capacity::Read => "ConsumedReadCapacityUnits",
            Capacity::Write => "ConsumedWriteCapacityUnits",
        }
    }
}

/// The aggregated metrics, reported once connected to a sink.
pub struct Metrics {
    aggregator: Arc<MetricAggregator>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { aggregator: Arc::new(MetricAggregator::new(NAMESPACE)) }
    }
}

impl Metrics {
    /// Report to `sink` from now on, once a second when a Tokio runtime runs
    /// (otherwise on `flush`).
    pub fn start(&self, sink: Arc<dyn MetricSink>) {
        self.aggregator.start(sink);
    }

    pub fn enabled(&self) -> bool {
        self.aggregator.enabled()
    }

    /// Capacity one request consumed on one table and its indexes.
    pub fn consumed(&self, kind: Capacity, consumed: &Consumed) {
        self.aggregator.record(|r| {
            let table = consumed.table.as_str();
            r.add(kind.metric(), "Count", &[("TableName", table)], consumed.total());
            for (index, units) in &consumed.gsi {
                r.add(kind.metric(), "Count", &[("TableName", table), ("GlobalSecondaryIndexName", index)], *units);
            }
        });
    }

    /// Read capacity of a request on a table without indexes involved.
    pub fn consumed_reads(&self, table: &str, units: f64) {
        self.aggregator.record(|r| r.add(Capacity::Read.metric(), "Count", &[("TableName", table)], units));
    }

    /// How one request ended, `elapsed` after it started.
    pub fn request(&self, operation: &str, request: &Map<String, Value>, elapsed: Duration, outcome: Outcome<'_>) {
        let op = OPERATIONS.iter().find(|o| **o == operation).copied();
        if op.is_none() && matches!(outcome, Outcome::Success { .. }) {
            return; // control-plane successes have no metric
        }
        self.aggregator.record(|r| match outcome {
            Outcome::Error(e) if e.code == "ConditionalCheckFailedException" => {
                for_each_table(request, |name| r.count("ConditionalCheckFailedRequests", &[("TableName", name)], 1));
            }
            Outcome::Error(e) if e.status.is_client_error() => r.count("UserErrors", &[], 1),
            Outcome::Error(_) => {
                if let Some(op) = op {
                    for_each_table(request, |name| {
                        r.count("SystemErrors", &[("TableName", name), ("Operation", op)], 1);
                    });
                }
            }
            Outcome::Success { returned } => {
                let Some(op) = op else { return };
                for_each_table(request, |name| {
                    let dimensions = [("TableName", name), ("Operation", op)];
                    r.duration("SuccessfulRequestLatency", &dimensions, elapsed);
                    if let Some(n) = returned {
                        r.add("ReturnedItemCount", "Count", &dimensions, n as f64);
                    }
                });
            }
        });
    }

    /// Report what the period counted and start a new one.
    pub fn flush(&self) {
        self.aggregator.flush();
    }
}

/// How a request ended.
pub enum Outcome<'a> {
    /// `returned`: the items a Query or Scan returned.
    Success {
        returned: Option<u64>,
    },
    Error(&'a AwsError),
}

/// Each table a request names, once: `TableName` (a name or an ARN), the
/// tables of a batch's `RequestItems`, or of a transaction's `TransactItems`.
fn for_each_table(request: &Map<String, Value>, mut f: impl FnMut(&str)) {
    if let Some(name) = request.get("TableName").and_then(Value::as_str) {
        // arn:aws:dynamodb:<region>:<account>:table/<name>
        f(name.rsplit_once(":table/").map_or(name, |(_, table)| table));
    } else if let Some(items) = request.get("RequestItems").and_then(Value::as_object) {
        items.keys().for_each(|name| f(name));
    } else if let Some(actions) = request.get("TransactItems").and_then(Value::as_array) {
        let mut seen: Vec<&str> = Vec::new();
        let names = actions.iter().filter_map(|a| a.as_object()?.values().next()?.get("TableName")?.as_str());
        for name in names {
            let name = name.rsplit_once(":table/").map_or(name, |(_, table)| table);
            if !seen.contains(&name) {
                seen.push(name);
                f(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use nimbus_core::{MetricSummary, SummaryRecorder};

    use super::*;

    fn find<'a>(out: &'a [MetricSummary], name: &str, dimensions: &[(&str, &str)]) -> &'a MetricSummary {
        let wanted: Vec<(String, String)> = dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        out.iter()
            .find(|s| s.name == name && s.dimensions == wanted)
            .unwrap_or_else(|| panic!("no {name} {dimensions:?} in {out:#?}"))
    }

    #[test]
    fn counts_requests_capacity_and_errors_per_series() {
        let metrics = Metrics::default();
        let recorder = Arc::new(SummaryRecorder::default());
        metrics.start(recorder.clone());
        let request = |body: Value| body.as_object().unwrap().clone();
        let put = request(serde_json::json!({"TableName": "t"}));
        for ms in [1, 3] {
            metrics.request("PutItem", &put, Duration::from_millis(ms), Outcome::Success { returned: None });
        }
        let mut consumed = Consumed::new("t", 2.0);
        consumed.gsi.push(("by-x".into(), 1.0));
        metrics.consumed(Capacity::Write, &consumed);
        metrics.consumed(Capacity::Write, &Consumed::new("t", 1.0));
        let query = request(serde_json::json!({"TableName": "arn:aws:dynamodb:us-east-1:000000000000:table/t"}));
        metrics.request("Query", &query, Duration::from_micros(80), Outcome::Success { returned: Some(7) });
        let failed = crate::error::conditional_check_failed();
        metrics.request("PutItem", &put, Duration::ZERO, Outcome::Error(&failed));
        let invalid = crate::error::validation("bad");
        metrics.request("GetItem", &put, Duration::ZERO, Outcome::Error(&invalid));
        let broken = crate::error::internal("disk on fire");
        metrics.request("Scan", &put, Duration::ZERO, Outcome::Error(&broken));
        let batch = request(serde_json::json!({"RequestItems": {"a": [], "b": []}}));
        metrics.request("BatchWriteItem", &batch, Duration::from_millis(2), Outcome::Success { returned: None });
        metrics.flush();

        let out = recorder.take();
        let latency = find(&out, "SuccessfulRequestLatency", &[("TableName", "t"), ("Operation", "PutItem")]);
        assert_eq!((latency.sample_count, latency.sum, latency.minimum, latency.maximum), (2.0, 4.0, 1.0, 3.0));
        assert_eq!(latency.buckets.iter().map(|(_, n)| n).sum::<u64>(), 2);
        assert_eq!(latency.unit, "Milliseconds");
        let write = find(&out, "ConsumedWriteCapacityUnits", &[("TableName", "t")]);
        assert_eq!((write.sample_count, write.sum), (2.0, 4.0));
        let index =
            find(&out, "ConsumedWriteCapacityUnits", &[("TableName", "t"), ("GlobalSecondaryIndexName", "by-x")]);
        assert_eq!(index.sum, 1.0);
        let returned = find(&out, "ReturnedItemCount", &[("TableName", "t"), ("Operation", "Query")]);
        assert_eq!(returned.sum, 7.0);
        assert_eq!(find(&out, "ConditionalCheckFailedRequests", &[("TableName", "t")]).sum, 1.0);
        assert_eq!(find(&out, "UserErrors", &[]).sum, 1.0);
        assert_eq!(find(&out, "SystemErrors", &[("TableName", "t"), ("Operation", "Scan")]).sum, 1.0);
        for table in ["a", "b"] {
            find(&out, "SuccessfulRequestLatency", &[("TableName", table), ("Operation", "BatchWriteItem")]);
        }
        // The failed condition is not a successful request, nor a user error.
        assert_eq!(out.iter().filter(|s| s.name == "SuccessfulRequestLatency").count(), 4);

        // A new period starts empty.
        metrics.flush();
        assert!(recorder.take().is_empty());
    }
}
