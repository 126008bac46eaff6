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

use nimbus_core::MetricDatum;

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
    Histogram { buckets: [u64; BUCKETS.len()], count: u64, sum: f64 },
}

struct Family {
    kind: Kind,
    help: String,
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
            let (name, kind, value) = describe(datum);
            let family = families.entry(name).or_insert_with(|| Family {
                kind,
                help: format!("CloudWatch {} {} ({})", datum.namespace, datum.name, datum.unit),
                series: BTreeMap::new(),
            });
            let mut labels: Vec<(String, String)> =
                datum.dimensions.iter().map(|(k, v)| (snake_case(k), v.clone())).collect();
            labels.sort();
            let sample = family.series.entry(labels).or_insert_with(|| match family.kind {
                Kind::Histogram => Sample::Histogram { buckets: [0; BUCKETS.len()], count: 0, sum: 0.0 },
                _ => Sample::Value(0.0),
            });
            match (family.kind, sample) {
                (Kind::Counter, Sample::Value(total)) => *total += value,
                (Kind::Gauge, Sample::Value(current)) => *current = value,
                (Kind::Histogram, Sample::Histogram { buckets, count, sum }) => {
                    for (bucket, bound) in buckets.iter_mut().zip(BUCKETS) {
                        if value <= bound {
                            *bucket += 1;
                        }
                    }
                    *count += 1;
                    *sum += value;
                }
                _ => {}
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
                        for (bound, n) in BUCKETS.iter().zip(buckets) {
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

/// Prometheus name, kind and value (durations in seconds) of a datum.
fn describe(datum: &MetricDatum) -> (String, Kind, f64) {
    let service = datum.namespace.strip_prefix("AWS/").unwrap_or(&datum.namespace);
    let base = format!("nimbus_{}_{}", sanitize(&service.to_ascii_lowercase()), snake_case(&datum.name));
    let to_seconds = match datum.unit.as_str() {
        "Seconds" => Some(1.0),
        "Milliseconds" => Some(1e-3),
        "Microseconds" => Some(1e-6),
        _ => None,
    };
    if let Some(scale) = to_seconds {
        return (format!("{base}_seconds"), Kind::Histogram, datum.value * scale);
    }
    match datum.unit.as_str() {
        "Count" if GAUGES.contains(&datum.name.as_str()) => (base, Kind::Gauge, datum.value),
        "Count" => (format!("{base}_total"), Kind::Counter, datum.value),
        "Bytes" if base.ends_with("_bytes") => (format!("{base}_total"), Kind::Counter, datum.value),
        "Bytes" => (format!("{base}_bytes_total"), Kind::Counter, datum.value),
        _ => (base, Kind::Gauge, datum.value),
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
}
