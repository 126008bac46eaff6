//! AWS/ApiGateway metrics, named and dimensioned as API Gateway publishes them.
//!
//! - HTTP APIs: `Count`, `4xx`, `5xx`, `Latency`, `IntegrationLatency`,
//!   `DataProcessed`, by `ApiId` and by `ApiId, Stage`; with detailed metrics
//!   enabled on the route, also by `ApiId, Stage, Route`.
//! - REST APIs: `Count`, `4XXError`, `5XXError`, `Latency`,
//!   `IntegrationLatency`, by `ApiName` and by `ApiName, Stage`; with
//!   `metricsEnabled` in the method's settings, also by
//!   `ApiName, Method, Resource, Stage`.
//!
//! Error counts are reported as 0 or 1 on every request, so their `Average`
//! is the error rate, as on AWS. Requests are summed up per second by the
//! shared `MetricAggregator` and reported as statistic sets.

use std::borrow::Cow;
use std::time::Duration;

use http::StatusCode;
use nimbus_core::aggregate::Recorder;

pub const NAMESPACE: &str = "AWS/ApiGateway";

/// What one request measured.
pub struct Measurement {
    pub status: StatusCode,
    pub latency: Duration,
    /// `None` when no integration was called (e.g. unmatched route, throttled).
    pub integration_latency: Option<Duration>,
    /// Request and response body bytes, for HTTP APIs' `DataProcessed`.
    pub bytes: usize,
}

/// Which API, stage and (with detailed metrics) route a request belongs to.
pub enum Scope<'a> {
    Http {
        api_id: &'a str,
        stage: &'a str,
        /// The route key, when the route has detailed metrics enabled.
        detailed_route: Option<&'a str>,
    },
    Rest {
        api_name: &'a str,
        api_id: &'a str,
        stage: &'a str,
        /// `(httpMethod, resourcePath)`, when the method has metrics enabled.
        detailed_method: Option<(&'a str, &'a str)>,
    },
}

impl Scope<'_> {
    pub fn api_and_stage(&self) -> (&str, &str) {
        match *self {
            Scope::Http { api_id, stage, .. } | Scope::Rest { api_id, stage, .. } => (api_id, stage),
        }
    }
}

/// The `ApiName` dimension: the API's name without its non-ASCII
/// characters, or its id when no ASCII character is left.
fn api_name_dimension<'a>(name: &'a str, id: &'a str) -> Cow<'a, str> {
    if name.is_ascii() {
        return Cow::Borrowed(name);
    }
    let ascii: String = name.chars().filter(char::is_ascii).collect();
    if ascii.is_empty() {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(ascii)
    }
}

/// Record what one request measured, under each dimension set its API
/// publishes.
pub fn record(recorder: &mut Recorder<'_>, scope: &Scope<'_>, measured: &Measurement) {
    match *scope {
        Scope::Http { api_id, stage, detailed_route } => {
            let by_api = [("ApiId", api_id)];
            let by_stage = [("ApiId", api_id), ("Stage", stage)];
            let mut sets: [&[(&str, &str)]; 3] = [&by_api, &by_stage, &[]];
            let by_route;
            if let Some(route) = detailed_route {
                by_route = [("ApiId", api_id), ("Stage", stage), ("Route", route)];
                sets[2] = &by_route;
            }
            for dimensions in sets.iter().filter(|d| !d.is_empty()) {
                record_in(recorder, dimensions, measured, ("4xx", "5xx"));
                recorder.add("DataProcessed", "Bytes", dimensions, measured.bytes as f64);
            }
        }
        Scope::Rest { api_name, api_id, stage, detailed_method } => {
            let name = api_name_dimension(api_name, api_id);
            let by_api = [("ApiName", &*name)];
            let by_stage = [("ApiName", &*name), ("Stage", stage)];
            let mut sets: [&[(&str, &str)]; 3] = [&by_api, &by_stage, &[]];
            let by_method;
            if let Some((method, resource)) = detailed_method {
                by_method = [("ApiName", &*name), ("Method", method), ("Resource", resource), ("Stage", stage)];
                sets[2] = &by_method;
            }
            for dimensions in sets.iter().filter(|d| !d.is_empty()) {
                record_in(recorder, dimensions, measured, ("4XXError", "5XXError"));
            }
        }
    }
}

/// The metrics REST and HTTP APIs share, under one dimension set.
fn record_in(
    recorder: &mut Recorder<'_>,
    dimensions: &[(&str, &str)],
    measured: &Measurement,
    (client_errors, server_errors): (&'static str, &'static str),
) {
    recorder.add("Count", "Count", dimensions, 1.0);
    recorder.add(client_errors, "Count", dimensions, f64::from(u8::from(measured.status.is_client_error())));
    recorder.add(server_errors, "Count", dimensions, f64::from(u8::from(measured.status.is_server_error())));
    recorder.duration("Latency", dimensions, measured.latency);
    if let Some(integration) = measured.integration_latency {
        recorder.duration("IntegrationLatency", dimensions, integration);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nimbus_core::{MetricAggregator, MetricSummary, SummaryRecorder};

    use super::*;

    /// What `scope` reports for `measured`, once per request.
    fn reported(scope: &Scope<'_>, measured: &Measurement, requests: usize) -> Vec<MetricSummary> {
        let aggregator = Arc::new(MetricAggregator::new(NAMESPACE));
        let kept = Arc::new(SummaryRecorder::default());
        aggregator.start(kept.clone());
        for _ in 0..requests {
            aggregator.record(|r| record(r, scope, measured));
        }
        aggregator.flush();
        kept.take()
    }

    fn names_by_dimensions(data: &[MetricSummary]) -> Vec<(Vec<&str>, Vec<&str>)> {
        let mut out: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
        for d in data {
            let dims: Vec<&str> = d.dimensions.iter().map(|(k, _)| k.as_str()).collect();
            match out.iter_mut().find(|(k, _)| *k == dims) {
                Some((_, names)) => names.push(&d.name),
                None => out.push((dims, vec![&d.name])),
            }
        }
        for (_, names) in &mut out {
            names.sort_unstable();
        }
        out
    }

    #[test]
    fn http_api_metrics() {
        let measured = Measurement {
            status: StatusCode::NOT_FOUND,
            latency: Duration::from_micros(1500),
            integration_latency: Some(Duration::from_millis(1)),
            bytes: 42,
        };
        let scope = Scope::Http { api_id: "a1", stage: "$default", detailed_route: Some("GET /x") };
        let data = reported(&scope, &measured, 2);
        let mut all = vec!["Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed"];
        all.sort_unstable();
        assert_eq!(
            names_by_dimensions(&data),
            vec![
                (vec!["ApiId"], all.clone()),
                (vec!["ApiId", "Stage"], all.clone()),
                (vec!["ApiId", "Stage", "Route"], all)
            ]
        );
        let stat = |name: &str| {
            let s = data.iter().find(|d| d.name == name).unwrap();
            (s.sample_count, s.sum, s.unit.as_str())
        };
        assert_eq!(stat("Count"), (2.0, 2.0, "Count"));
        assert_eq!(stat("4xx"), (2.0, 2.0, "Count"));
        assert_eq!(stat("5xx"), (2.0, 0.0, "Count"));
        assert_eq!(stat("Latency"), (2.0, 3.0, "Milliseconds"));
        assert_eq!(stat("DataProcessed"), (2.0, 84.0, "Bytes"));
        let latency = data.iter().find(|d| d.name == "Latency").unwrap();
        assert_eq!(latency.buckets.iter().map(|(_, n)| n).sum::<u64>(), 2);
    }

    #[test]
    fn rest_api_metrics() {
        let measured = Measurement {
            status: StatusCode::BAD_GATEWAY,
            latency: Duration::ZERO,
            integration_latency: None,
            bytes: 0,
        };
        let scope = Scope::Rest { api_name: "pets", api_id: "a1", stage: "dev", detailed_method: None };
        let data = reported(&scope, &measured, 1);
        let mut all = vec!["Count", "4XXError", "5XXError", "Latency"];
        all.sort_unstable();
        assert_eq!(names_by_dimensions(&data), vec![(vec!["ApiName"], all.clone()), (vec!["ApiName", "Stage"], all)]);
        assert_eq!(data.iter().find(|d| d.name == "5XXError").map(|d| d.sum), Some(1.0));
        let detailed =
            Scope::Rest { api_name: "pets", api_id: "a1", stage: "dev", detailed_method: Some(("GET", "/p")) };
        let detailed_data = reported(&detailed, &measured, 1);
        let dims: Vec<Vec<(&str, &str)>> = detailed_data
            .iter()
            .map(|d| d.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .collect();
        assert!(dims.contains(&vec![("ApiName", "pets"), ("Method", "GET"), ("Resource", "/p"), ("Stage", "dev")]));
    }

    #[test]
    fn api_name_drops_non_ascii() {
        assert_eq!(api_name_dimension("café-api", "id1"), "caf-api");
        assert_eq!(api_name_dimension("日本", "id1"), "id1");
        assert_eq!(api_name_dimension("pets", "id1"), "pets");
    }
}
