//! `GET /_nimbus/metrics`: the metrics services report through the
//! `MetricSink`, in the Prometheus text exposition format (0.0.4).
//!
//! Names follow Prometheus conventions: `AWS/Lambda` `Invocations` (Count)
//! becomes the counter `nimbus_lambda_invocations_total`; durations
//! (Milliseconds, Seconds, Microseconds) become histograms in seconds
//! (`nimbus_lambda_duration_seconds`); Bytes counters end in `_bytes_total`;
//! point-in-time counts such as `ConcurrentExecutions` are gauges.
//! Dimensions become snake_case labels (`FunctionName` → `function_name`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use nimbus_core::{MetricDatum, MetricSummary};

/// Upper bounds (seconds) of duration histogram buckets: Prometheus's
/// defaults, extended to Lambda's 15-minute maximum.
const BUCKETS: [f64; 15] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

/// Counts that describe a moment rather than accumulate.
const GAUGES: [&str; 5] = [
    "ConcurrentExecutions",
    "UnreservedConcurrentExecutions",
    "ProvisionedConcurrentExecutions",
    "ProvisionedConcurrencyUtilization",
    "AccountConcurrentExecutions",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Clone, Debug)]
enum Sample {
    Value(f64),
    /// `buckets[i]` counts observations at most the family's `bounds[i]`.
    Histogram {
        buckets: Vec<u64>,
        count: u64,
        sum: f64,
    },
}

struct Family {
    kind: Kind,
    help: String,
    /// Histogram bucket upper bounds, in seconds.
    bounds: Vec<f64>,
    series: BTreeMap<Vec<(String, String)>, Sample>,
}

#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
}

impl Registry {
    pub fn observe(&self, data: &[MetricDatum]) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for datum in data {
            if !datum.value.is_finite() {
                continue;
            }
            let (name, kind, scale) = describe(&datum.namespace, &datum.name, &datum.unit);
            let value = datum.value * scale;
            let (bounds, sample) = series(&mut families, name, kind, datum, &datum.dimensions, || BUCKETS.to_vec());
            match sample {
                Sample::Value(total) if kind == Kind::Counter => *total += value,
                Sample::Value(current) => *current = value,
                Sample::Histogram { buckets, count, sum } => {
                    for (bucket, bound) in buckets.iter_mut().zip(bounds) {
                        if value <= *bound {
                            *bucket += 1;
                        }
                    }
                    *count += 1;
                    *sum += value;
                }
            }
        }
    }

    /// Add summaries services aggregated themselves; a duration summary's
    /// buckets become the histogram's buckets.
    pub fn observe_summaries(&self, data: &[MetricSummary]) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for summary in data {
            if !summary.sum.is_finite() || !summary.maximum.is_finite() {
                continue;
            }
            let (name, kind, scale) = describe(&summary.namespace, &summary.name, &summary.unit);
            let own_bounds = || match summary.buckets.is_empty() {
                true => BUCKETS.to_vec(),
                // Rounded so 0.1 ms shows as 0.0001, not 0.00010000000000000002;
                // the +Inf bucket is always there.
                false => summary
                    .buckets
                    .iter()
                    .filter(|(bound, _)| bound.is_finite())
                    .map(|(bound, _)| (bound * scale * 1e12).round() / 1e12)
                    .collect(),
            };
            let (bounds, sample) = series(&mut families, name, kind, summary, &summary.dimensions, own_bounds);
            match sample {
                Sample::Value(total) if kind == Kind::Counter => *total += summary.sum,
                Sample::Value(current) => *current = summary.maximum,
                Sample::Histogram { buckets, count, sum } => {
                    for (bucket, bound) in buckets.iter_mut().zip(bounds) {
                        // Tolerate the rounding of the unit conversion.
                        let at_most = |b: f64| b * scale <= bound * (1.0 + 1e-9);
                        *bucket += summary.buckets.iter().filter(|(b, _)| at_most(*b)).map(|(_, n)| n).sum::<u64>();
                    }
                    *count += summary.sample_count as u64;
                    *sum += summary.sum * scale;
                }
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, sample) in &family.series {
                match sample {
                    Sample::Value(v) => {
                        let _ = writeln!(out, "{name}{} {}", label_text(labels, None), number(*v));
                    }
                    Sample::Histogram { buckets, count, sum } => {
                        for (bound, n) in family.bounds.iter().zip(buckets) {
                            let le = number(*bound);
                            let _ = writeln!(out, "{name}_bucket{} {n}", label_text(labels, Some(&le)));
                        }
                        let _ = writeln!(out, "{name}_bucket{} {count}", label_text(labels, Some("+Inf")));
                        let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), number(*sum));
                        let _ = writeln!(out, "{name}_count{} {count}", label_text(labels, None));
                    }
                }
            }
        }
        out
    }
}

/// What a metric's samples are described by, for its family's HELP line.
trait Described {
    fn namespace(&self) -> &str;
    fn name(&self) -> &str;
    fn unit(&self) -> &str;
}

impl Described for MetricDatum {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn unit(&self) -> &str {
        &self.unit
    }
}

impl Described for MetricSummary {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn unit(&self) -> &str {
        &self.unit
    }
}

/// The family `name` (created if new) and its series for `dimensions`.
fn series<'a>(
    families: &'a mut BTreeMap<String, Family>,
    name: String,
    kind: Kind,
    metric: &dyn Described,
    dimensions: &[(String, String)],
    bounds: impl FnOnce() -> Vec<f64>,
) -> (&'a [f64], &'a mut Sample) {
    let family = families.entry(name).or_insert_with(|| Family {
        kind,
        help: format!("CloudWatch {} {} ({})", metric.namespace(), metric.name(), metric.unit()),
        bounds: if kind == Kind::Histogram { bounds() } else { vec![] },
        series: BTreeMap::new(),
    });
    let mut labels: Vec<(String, String)> = dimensions.iter().map(|(k, v)| (snake_case(k), v.clone())).collect();
    labels.sort();
    let n = family.bounds.len();
    let sample = family.series.entry(labels).or_insert_with(|| match family.kind {
        Kind::Histogram => Sample::Histogram { buckets: vec![0; n], count: 0, sum: 0.0 },
        _ => Sample::Value(0.0),
    });
    (&family.bounds, sample)
}

/// Prometheus name, kind, and the factor that converts values to the
/// family's unit (durations become seconds).
fn describe(namespace: &str, name: &str, unit: &str) -> (String, Kind, f64) {
    let service = namespace.strip_prefix("AWS/").unwrap_or(namespace);
    let base = format!("nimbus_{}_{}", sanitize(&service.to_ascii_lowercase()), snake_case(name));
    let to_seconds = match unit {
        "Seconds" => Some(1.0),
        "Milliseconds" => Some(1e-3),
        "Microseconds" => Some(1e-6),
        _ => None,
    };
    if let Some(scale) = to_seconds {
        return (format!("{base}_seconds"), Kind::Histogram, scale);
    }
    match unit {
        "Count" if GAUGES.contains(&name) => (base, Kind::Gauge, 1.0),
        "Count" => (format!("{base}_total"), Kind::Counter, 1.0),
        "Bytes" if base.ends_with("_bytes") => (format!("{base}_total"), Kind::Counter, 1.0),
        "Bytes" => (format!("{base}_bytes_total"), Kind::Counter, 1.0),
        _ => (base, Kind::Gauge, 1.0),
    }
}

/// `FunctionName` → `function_name`, `4XXError` → `4xx_error`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    sanitize(&out)
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

fn label_text(labels: &[(String, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(ns: &str, name: &str, value: f64, unit: &str, dims: &[(&str, &str)]) -> MetricDatum {
        MetricDatum {
            namespace: ns.into(),
            name: name.into(),
            dimensions: dims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
            unit: unit.into(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        assert_eq!(snake_case("FunctionName"), "function_name");
        assert_eq!(snake_case("4XXError"), "4xx_error");
        assert_eq!(snake_case("ConsumedReadCapacityUnits"), "consumed_read_capacity_units");
        assert_eq!(snake_case("ApiId"), "api_id");
    }

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let registry = Registry::default();
        let f = [("FunctionName", "hello")];
        registry.observe(&[
            datum("AWS/Lambda", "Invocations", 1.0, "Count", &f),
            datum("AWS/Lambda", "Invocations", 1.0, "Count", &f),
            datum("AWS/Lambda", "Duration", 20.0, "Milliseconds", &f),
            datum("AWS/Lambda", "ConcurrentExecutions", 3.0, "Count", &f),
            datum("AWS/ApiGateway", "4XXError", 1.0, "Count", &[("ApiId", "a1"), ("Stage", "prod")]),
        ]);
        let text = registry.render();
        assert!(text.contains("# TYPE nimbus_lambda_invocations_total counter\n"));
        assert!(text.contains("nimbus_lambda_invocations_total{function_name=\"hello\"} 2\n"));
        assert!(text.contains("# TYPE nimbus_lambda_duration_seconds histogram\n"));
        assert!(text.contains("nimbus_lambda_duration_seconds_bucket{function_name=\"hello\",le=\"0.025\"} 1\n"));
        assert!(text.contains("nimbus_lambda_duration_seconds_bucket{function_name=\"hello\",le=\"0.01\"} 0\n"));
        assert!(text.contains("nimbus_lambda_duration_seconds_count{function_name=\"hello\"} 1\n"));
        assert!(text.contains("nimbus_lambda_duration_seconds_sum{function_name=\"hello\"} 0.02\n"));
        assert!(text.contains("# TYPE nimbus_lambda_concurrent_executions gauge\n"));
        assert!(text.contains("nimbus_apigateway_4xx_error_total{api_id=\"a1\",stage=\"prod\"} 1\n"));
    }

    #[test]
    fn summaries_keep_their_own_histogram_buckets() {
        let registry = Registry::default();
        let summary = |sum: f64, n: f64, buckets: Vec<(f64, u64)>| MetricSummary {
            namespace: "AWS/DynamoDB".into(),
            name: "SuccessfulRequestLatency".into(),
            dimensions: vec![("TableName".into(), "t".into()), ("Operation".into(), "GetItem".into())],
            unit: "Milliseconds".into(),
            timestamp_ms: 0,
            sample_count: n,
            sum,
            minimum: 0.05,
            maximum: 2.0,
            buckets,
        };
        registry.observe_summaries(&[
            summary(2.15, 2.0, vec![(0.1, 1), (1.0, 0), (2.5, 1), (f64::INFINITY, 0)]),
            summary(5000.5, 2.0, vec![(0.1, 0), (1.0, 1), (2.5, 0), (f64::INFINITY, 1)]),
        ]);
        let mut consumed = summary(3.0, 2.0, vec![]);
        consumed.name = "ConsumedWriteCapacityUnits".into();
        consumed.unit = "Count".into();
        consumed.dimensions.truncate(1);
        registry.observe_summaries(&[consumed]);
        let text = registry.render();
        let labels = "operation=\"GetItem\",table_name=\"t\"";
        let name = "nimbus_dynamodb_successful_request_latency_seconds";
        assert!(text.contains(&format!("{name}_bucket{{{labels},le=\"0.0001\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{{labels},le=\"0.001\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{{labels},le=\"0.0025\"}} 3\n")), "{text}");
        assert!(text.contains(&format!("{name}_bucket{{{labels},le=\"+Inf\"}} 4\n")), "{text}");
        assert_eq!(text.matches("le=\"+Inf\"").count(), 1, "{text}");
        assert!(text.contains(&format!("{name}_count{{{labels}}} 4\n")), "{text}");
        assert!(text.contains("nimbus_dynamodb_consumed_write_capacity_units_total{table_name=\"t\"} 3\n"), "{text}");
    }
}
