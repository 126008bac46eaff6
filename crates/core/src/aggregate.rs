//! Metrics summed up where they happen: a busy service records each
//! observation under one short lock, allocating nothing once its series has
//! been seen in the period, and once a second hands the period's totals to
//! the `MetricSink` as statistic sets (`MetricSummary`), one per series.
//! Durations also keep a histogram, so Prometheus and percentiles see their
//! distribution.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::sinks::{MetricSink, MetricSummary};

/// Upper bounds (ms) of the duration histogram's buckets: from the tens of
/// microseconds of a DynamoDB request to API Gateway's 30-second timeout.
pub const DURATION_BOUNDS_MS: [f64; 24] = [
    0.05, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 3.5, 5.0, 7.5, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0, 500.0,
    1000.0, 2500.0, 10000.0, 30000.0,
];

/// How often the period's totals are reported.
const PERIOD: Duration = Duration::from_secs(1);

/// Count, sum, minimum and maximum of a period's observations.
#[derive(Clone, Copy, Debug)]
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
    /// `n` observations of `value`.
    fn add(&mut self, value: f64, n: u64) {
        self.count += n;
        self.sum += value * n as f64;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// One series' totals in the current period.
struct Series {
    name: &'static str,
    unit: &'static str,
    dimensions: Vec<(String, String)>,
    stat: Stat,
    /// Observations per `DURATION_BOUNDS_MS` bucket (the last: above them
    /// all); only for durations.
    buckets: Option<Box<[u64; DURATION_BOUNDS_MS.len() + 1]>>,
}

/// What one period has recorded.
#[derive(Default)]
struct Period {
    /// Series key (name and dimensions) → its place in `series`.
    index: HashMap<String, usize>,
    series: Vec<Series>,
    /// The series key being looked up, reused so lookups do not allocate.
    key: String,
}

/// The per-service aggregator, and the sink it reports to (none yet:
/// recording is skipped).
pub struct MetricAggregator {
    namespace: &'static str,
    sink: OnceLock<Arc<dyn MetricSink>>,
    period: Mutex<Period>,
}

impl MetricAggregator {
    pub fn new(namespace: &'static str) -> Self {
        MetricAggregator { namespace, sink: OnceLock::new(), period: Mutex::new(Period::default()) }
    }

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
                    Some(aggregator) => aggregator.flush(),
                    None => return,
                }
            }
        });
    }

    /// Whether anything is recorded (a sink is connected).
    pub fn enabled(&self) -> bool {
        self.sink.get().is_some()
    }

    /// Record a request's observations under one lock.
    pub fn record(&self, f: impl FnOnce(&mut Recorder<'_>)) {
        if !self.enabled() {
            return;
        }
        let mut period = self.period.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut Recorder { period: &mut period });
    }

    /// Report what the period recorded and start a new one.
    pub fn flush(&self) {
        let Some(sink) = self.sink.get() else { return };
        let period = std::mem::take(&mut *self.period.lock().unwrap_or_else(|e| e.into_inner()));
        if period.series.is_empty() {
            return;
        }
        let now = crate::time::now_epoch_millis() as i64;
        let summaries = period
            .series
            .into_iter()
            .map(|series| MetricSummary {
                namespace: self.namespace.to_owned(),
                name: series.name.to_owned(),
                dimensions: series.dimensions,
                unit: series.unit.to_owned(),
                timestamp_ms: now,
                sample_count: series.stat.count as f64,
                sum: series.stat.sum,
                minimum: series.stat.min,
                maximum: series.stat.max,
                buckets: series.buckets.map_or_else(Vec::new, |buckets| {
                    DURATION_BOUNDS_MS.iter().copied().chain([f64::INFINITY]).zip(buckets.iter().copied()).collect()
                }),
            })
            .collect();
        sink.put_summaries(summaries);
    }
}

/// Records observations into the current period (see `MetricAggregator::record`).
pub struct Recorder<'a> {
    period: &'a mut Period,
}

impl Recorder<'_> {
    /// One observation of `value`.
    pub fn add(&mut self, name: &'static str, unit: &'static str, dimensions: &[(&str, &str)], value: f64) {
        self.series(name, unit, dimensions, false).stat.add(value, 1);
    }

    /// `n` events, each an observation of 1 (a count whose Sum is `n`).
    pub fn count(&mut self, name: &'static str, dimensions: &[(&str, &str)], n: u64) {
        if n > 0 {
            self.series(name, "Count", dimensions, false).stat.add(1.0, n);
        }
    }

    /// One duration, in milliseconds, with its histogram bucket.
    pub fn duration(&mut self, name: &'static str, dimensions: &[(&str, &str)], elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1e3;
        let series = self.series(name, "Milliseconds", dimensions, true);
        series.stat.add(ms, 1);
        let bucket = DURATION_BOUNDS_MS.iter().position(|b| ms <= *b).unwrap_or(DURATION_BOUNDS_MS.len());
        if let Some(buckets) = &mut series.buckets {
            buckets[bucket] += 1;
        }
    }

    /// The series `name` with `dimensions`, created on its first observation
    /// in the period.
    fn series(
        &mut self,
        name: &'static str,
        unit: &'static str,
        dimensions: &[(&str, &str)],
        timed: bool,
    ) -> &mut Series {
        let period = &mut *self.period;
        period.key.clear();
        period.key.push_str(name);
        for (k, v) in dimensions {
            // NUL cannot appear in names or dimensions CloudWatch accepts.
            let _ = write!(period.key, "\0{k}\0{v}");
        }
        let at = match period.index.get(period.key.as_str()) {
            Some(&at) => at,
            None => {
                period.index.insert(period.key.clone(), period.series.len());
                period.series.push(Series {
                    name,
                    unit,
                    dimensions: dimensions.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect(),
                    stat: Stat::default(),
                    buckets: timed.then(|| Box::new([0; DURATION_BOUNDS_MS.len() + 1])),
                });
                period.series.len() - 1
            }
        };
        &mut period.series[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::SummaryRecorder;

    #[test]
    fn sums_each_series_and_starts_over_after_a_flush() {
        let aggregator = Arc::new(MetricAggregator::new("Test/Ns"));
        aggregator.record(|r| r.add("Ignored", "Count", &[], 1.0)); // no sink yet
        let kept = Arc::new(SummaryRecorder::default());
        aggregator.start(kept.clone());
        for ms in [1, 3, 40_000] {
            aggregator.record(|r| {
                r.duration("Latency", &[("Api", "a")], Duration::from_millis(ms));
                r.add("Bytes", "Bytes", &[("Api", "a")], 10.0);
                r.add("Errors", "Count", &[("Api", "a")], 0.0);
            });
        }
        aggregator.record(|r| r.count("Errors", &[("Api", "b")], 2));
        aggregator.record(|r| r.count("Errors", &[("Api", "b")], 0));
        aggregator.flush();

        let out = kept.take();
        let find = |name: &str, api: &str| {
            out.iter().find(|s| s.name == name && s.dimensions == [("Api".to_owned(), api.to_owned())]).unwrap()
        };
        assert_eq!(out.len(), 4);
        let latency = find("Latency", "a");
        assert_eq!((latency.namespace.as_str(), latency.unit.as_str()), ("Test/Ns", "Milliseconds"));
        assert_eq!(
            (latency.sample_count, latency.sum, latency.minimum, latency.maximum),
            (3.0, 40_004.0, 1.0, 40_000.0)
        );
        let in_bucket = |bound: f64| latency.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!((in_bucket(1.0), in_bucket(3.5), in_bucket(f64::INFINITY)), (1, 1, 1));
        assert!(find("Bytes", "a").buckets.is_empty());
        let errors = find("Errors", "a");
        assert_eq!((errors.sample_count, errors.sum, errors.maximum), (3.0, 0.0, 0.0));
        let counted = find("Errors", "b");
        assert_eq!((counted.sample_count, counted.sum, counted.minimum), (2.0, 2.0, 1.0));

        aggregator.flush();
        assert!(kept.take().is_empty());
    }
}
