//! The `AWS/Lambda` metrics, named and dimensioned as CloudWatch has them:
//!
//! - `Invocations` (Count; FunctionName): every invocation that ran;
//! - `Duration` (Milliseconds; FunctionName): as its REPORT line says;
//! - `Errors` (Count; FunctionName): invocations that ended in a function error;
//! - `Throttles` (Count; FunctionName): invocations refused for concurrency;
//! - `ConcurrentExecutions` (Count; no dimension: the account in the region):
//!   invocations in flight, observed as each one finishes.
//!
//! Invocations are summed up per second by the shared `MetricAggregator` and
//! reported as statistic sets (SampleCount, Sum, Minimum and Maximum stay
//! exact; `Duration` keeps a histogram for percentiles), so a busy function
//! costs the store one point per series per second instead of four per
//! invocation.

use std::sync::Arc;
use std::time::Duration;

use nimbus_core::{MetricAggregator, MetricSink};

pub const NAMESPACE: &str = "AWS/Lambda";

/// The aggregated metrics and the sink they are reported to.
pub struct Metrics {
    aggregator: Arc<MetricAggregator>,
}

impl Metrics {
    /// Report to `sink`, once a second (call inside a Tokio runtime).
    pub fn start(sink: Arc<dyn MetricSink>) -> Self {
        let aggregator = Arc::new(MetricAggregator::new(NAMESPACE));
        aggregator.start(sink);
        Metrics { aggregator }
    }

    /// One finished invocation of `function`.
    pub fn invocation(&self, function: &str, duration: Duration, failed: bool, in_flight: u32) {
        let by_function = [("FunctionName", function)];
        self.aggregator.record(|r| {
            r.count("Invocations", &by_function, 1);
            r.duration("Duration", &by_function, duration);
            r.count("Errors", &by_function, u64::from(failed));
            r.add("ConcurrentExecutions", "Count", &[], f64::from(in_flight));
        });
    }

    /// An invocation of `function` refused for concurrency.
    pub fn throttle(&self, function: &str) {
        self.aggregator.record(|r| r.count("Throttles", &[("FunctionName", function)], 1));
    }

    /// Report what has been recorded now (shutdown).
    pub fn flush(&self) {
        self.aggregator.flush();
    }
}

#[cfg(test)]
mod tests {
    use nimbus_core::SummaryRecorder;

    use super::*;

    #[test]
    fn invocations_sum_up_per_series() {
        let kept = Arc::new(SummaryRecorder::default());
        let metrics = Metrics::start(kept.clone());
        metrics.invocation("f", Duration::from_millis(2), false, 1);
        metrics.invocation("f", Duration::from_millis(4), true, 3);
        metrics.throttle("f");
        metrics.flush();
        let out = kept.take();
        let find = |name: &str| out.iter().find(|s| s.name == name).unwrap();
        let invocations = find("Invocations");
        assert_eq!((invocations.sum, invocations.sample_count), (2.0, 2.0));
        assert_eq!(invocations.dimensions, [("FunctionName".to_owned(), "f".to_owned())]);
        let duration = find("Duration");
        assert_eq!(
            (duration.unit.as_str(), duration.sum, duration.minimum, duration.maximum),
            ("Milliseconds", 6.0, 2.0, 4.0)
        );
        assert_eq!(find("Errors").sum, 1.0);
        assert_eq!(find("Throttles").sum, 1.0);
        let concurrent = find("ConcurrentExecutions");
        assert!(concurrent.dimensions.is_empty());
        assert_eq!(concurrent.maximum, 3.0);
        assert!(out.iter().all(|s| s.namespace == NAMESPACE));
    }
}
