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
//! A request only bumps counters under one short lock, allocating nothing
//! once its table has been seen. Once a second the period's totals go to the
//! `MetricSink` as statistic sets, one per series; the latency keeps a
//! histogram for Prometheus.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nimbus_core::{AwsError, MetricSink, MetricSummary};
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

/// Upper bounds (ms) of the latency histogram's buckets: most requests take
/// well under a millisecond.
const LATENCY_BOUNDS_MS: [f64; 16] =
    [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0];

/// How often the period's totals are reported.
const PERIOD: Duration = Duration::from_secs(1);

/// Read or write capacity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Read,
    Write,
}

/// Count, sum, minimum and maximum of a period's observations.
#[derive(Clone, Copy)]
struct Stat {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Stat {
    fn default() -> Self {
        Stat { count: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Stat {
    fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// `n` observations of 1 (a count).
    fn ones(n: u64) -> Self {
        Stat { count: n, sum: n as f64, min: 1.0, max: 1.0 }
    }
}

#[derive(Clone, Copy, Default)]
struct OperationStats {
    latency_ms: Stat,
    latency_buckets: [u64; LATENCY_BOUNDS_MS.len() + 1],
    returned: Stat,
    system_errors: u64,
}

#[derive(Default)]
struct CapacityStats {
    read: Stat,
    write: Stat,
}

impl CapacityStats {
    fn of(&mut self, kind: Capacity) -> &mut Stat {
        match kind {
            Capacity::Read => &mut self.read,
            Capacity::Write => &mut self.write,
        }
    }

    fn get(&self, kind: Capacity) -> Stat {
        match kind {
            Capacity::Read => self.read,
            Capacity::Write => self.write,
        }
    }
}

#[derive(Default)]
struct TableStats {
    operations: [OperationStats; OPERATIONS.len()],
    capacity: CapacityStats,
    /// Per global secondary index, by name.
    gsis: Vec<(String, CapacityStats)>,
    conditional_check_failed: u64,
}

/// What one period has counted.
#[derive(Default)]
struct Period {
    /// Table name → its place in `stats` (one hash lookup per request).
    tables: HashMap<String, usize>,
    stats: Vec<(String, TableStats)>,
    user_errors: u64,
}

impl Period {
    fn table(&mut self, name: &str) -> &mut TableStats {
        if let Some(&i) = self.tables.get(name) {
            return &mut self.stats[i].1;
        }
        // Only a table's first request in a period pays for its name.
        self.tables.insert(name.to_owned(), self.stats.len());
        self.stats.push((name.to_owned(), TableStats::default()));
        &mut self.stats.last_mut().expect("just pushed").1
    }
}

/// The counters, and the sink they are reported to (none: metrics off).
#[derive(Default)]
pub struct Metrics {
    sink: OnceLock<Arc<dyn MetricSink>>,
    period: Mutex<Period>,
}

impl Metrics {
    /// Report to `sink` from now on, once a second when a Tokio runtime runs
    /// (otherwise on `flush`).
    pub fn start(self: &Arc<Self>, sink: Arc<dyn MetricSink>) {
        if self.sink.set(sink).is_err() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let weak = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(metrics) => metrics.flush(),
                    None => return,
                }
            }
        });
    }

    pub fn enabled(&self) -> bool {
        self.sink.get().is_some()
    }

    fn with_period<R>(&self, f: impl FnOnce(&mut Period) -> R) -> R {
        f(&mut self.period.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Capacity one request consumed on one table and its indexes.
    pub fn consumed(&self, kind: Capacity, consumed: &Consumed) {
        if !self.enabled() {
            return;
        }
        self.with_period(|period| {
            let table = period.table(&consumed.table);
            table.capacity.of(kind).add(consumed.total());
            for (index, units) in &consumed.gsi {
                let stats = match table.gsis.iter().position(|(name, _)| name == index) {
                    Some(i) => &mut table.gsis[i].1,
                    None => {
                        table.gsis.push((index.clone(), CapacityStats::default()));
                        &mut table.gsis.last_mut().expect("just pushed").1
                    }
                };
                stats.of(kind).add(*units);
            }
        });
    }

    /// Read capacity of a request on a table without indexes involved.
    pub fn consumed_reads(&self, table: &str, units: f64) {
        if self.enabled() {
            self.with_period(|period| period.table(table).capacity.read.add(units));
        }
    }

    /// How one request ended, `elapsed` after it started.
    pub fn request(&self, operation: &str, request: &Map<String, Value>, elapsed: Duration, outcome: Outcome<'_>) {
        if !self.enabled() {
            return;
        }
        let op = OPERATIONS.iter().position(|o| *o == operation);
        if op.is_none() && matches!(outcome, Outcome::Success { .. }) {
            return; // control-plane successes have no metric
        }
        self.with_period(|period| match outcome {
            Outcome::Error(e) if e.code == "ConditionalCheckFailedException" => {
                for_each_table(request, |name| period.table(name).conditional_check_failed += 1);
            }
            Outcome::Error(e) if e.status.is_client_error() => period.user_errors += 1,
            Outcome::Error(_) => {
                if let Some(op) = op {
                    for_each_table(request, |name| period.table(name).operations[op].system_errors += 1);
                }
            }
            Outcome::Success { returned } => {
                let Some(op) = op else { return };
                let ms = elapsed.as_secs_f64() * 1e3;
                let bucket = LATENCY_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BOUNDS_MS.len());
                for_each_table(request, |name| {
                    let stats = &mut period.table(name).operations[op];
                    stats.latency_ms.add(ms);
                    stats.latency_buckets[bucket] += 1;
                    if let Some(n) = returned {
                        stats.returned.add(n as f64);
                    }
                });
            }
        });
    }

    /// Report what the period counted and start a new one.
    pub fn flush(&self) {
        let Some(sink) = self.sink.get() else { return };
        let period = self.with_period(std::mem::take);
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let mut out = Vec::new();
        let summary = |name: &str, dimensions: Vec<(String, String)>, unit: &str, stat: Stat| MetricSummary {
            namespace: NAMESPACE.into(),
            name: name.into(),
            dimensions,
            unit: unit.into(),
            timestamp_ms: now,
            sample_count: stat.count as f64,
            sum: stat.sum,
            minimum: stat.min,
            maximum: stat.max,
            buckets: vec![],
        };
        for (table, stats) in period.stats {
            let by_table = || vec![("TableName".to_owned(), table.clone())];
            let kinds =
                [(Capacity::Read, "ConsumedReadCapacityUnits"), (Capacity::Write, "ConsumedWriteCapacityUnits")];
            for (kind, name) in kinds {
                let capacity = stats.capacity.get(kind);
                if capacity.count > 0 {
                    out.push(summary(name, by_table(), "Count", capacity));
                }
                for (index, index_stats) in &stats.gsis {
                    let stat = index_stats.get(kind);
                    if stat.count > 0 {
                        let mut dimensions = by_table();
                        dimensions.push(("GlobalSecondaryIndexName".into(), index.clone()));
                        out.push(summary(name, dimensions, "Count", stat));
                    }
                }
            }
            if stats.conditional_check_failed > 0 {
                let stat = Stat::ones(stats.conditional_check_failed);
                out.push(summary("ConditionalCheckFailedRequests", by_table(), "Count", stat));
            }
            for (operation, op) in OPERATIONS.iter().zip(&stats.operations) {
                let by_operation = || {
                    let mut dimensions = by_table();
                    dimensions.push(("Operation".into(), (*operation).into()));
                    dimensions
                };
                if op.latency_ms.count > 0 {
                    let mut latency =
                        summary("SuccessfulRequestLatency", by_operation(), "Milliseconds", op.latency_ms);
                    let bounds = LATENCY_BOUNDS_MS.iter().copied().chain([f64::INFINITY]);
                    latency.buckets = bounds.zip(op.latency_buckets).collect();
                    out.push(latency);
                }
                if op.returned.count > 0 {
                    out.push(summary("ReturnedItemCount", by_operation(), "Count", op.returned));
                }
                if op.system_errors > 0 {
                    out.push(summary("SystemErrors", by_operation(), "Count", Stat::ones(op.system_errors)));
                }
            }
        }
        if period.user_errors > 0 {
            out.push(summary("UserErrors", vec![], "Count", Stat::ones(period.user_errors)));
        }
        if !out.is_empty() {
            sink.put_summaries(out);
        }
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
    use super::*;

    /// Keeps what is reported.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<MetricSummary>>);

    impl MetricSink for Recorder {
        fn put_metrics(&self, _: Vec<nimbus_core::MetricDatum>) {}
        fn put_summaries(&self, data: Vec<MetricSummary>) {
            self.0.lock().unwrap().extend(data);
        }
    }

    fn find<'a>(out: &'a [MetricSummary], name: &str, dimensions: &[(&str, &str)]) -> &'a MetricSummary {
        let wanted: Vec<(String, String)> = dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        out.iter()
            .find(|s| s.name == name && s.dimensions == wanted)
            .unwrap_or_else(|| panic!("no {name} {dimensions:?} in {out:#?}"))
    }

    #[test]
    fn counts_requests_capacity_and_errors_per_series() {
        let metrics = Arc::new(Metrics::default());
        let recorder = Arc::new(Recorder::default());
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

        let out = recorder.0.lock().unwrap().clone();
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
        recorder.0.lock().unwrap().clear();
        metrics.flush();
        assert!(recorder.0.lock().unwrap().is_empty());
    }
}
