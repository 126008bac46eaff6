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
//! is the error rate, as on AWS.

use std::time::Duration;

use http::StatusCode;
use nimbus_core::MetricDatum;

const NAMESPACE: &str = "AWS/ApiGateway";

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
fn api_name_dimension(name: &str, id: &str) -> String {
    let ascii: String = name.chars().filter(char::is_ascii).collect();
    if ascii.is_empty() {
        id.to_owned()
    } else {
        ascii
    }
}

fn dimension_sets(scope: &Scope<'_>) -> Vec<Vec<(String, String)>> {
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    match *scope {
        Scope::Http { api_id, stage, detailed_route } => {
            let mut sets = vec![vec![pair("ApiId", api_id)], vec![pair("ApiId", api_id), pair("Stage", stage)]];
            if let Some(route) = detailed_route {
                sets.push(vec![pair("ApiId", api_id), pair("Stage", stage), pair("Route", route)]);
            }
            sets
        }
        Scope::Rest { api_name, api_id, stage, detailed_method } => {
            let name = api_name_dimension(api_name, api_id);
            let mut sets = vec![vec![pair("ApiName", &name)], vec![pair("ApiName", &name), pair("Stage", stage)]];
            if let Some((method, resource)) = detailed_method {
                sets.push(vec![
                    pair("ApiName", &name),
                    pair("Method", method),
                    pair("Resource", resource),
                    pair("Stage", stage),
                ]);
            }
            sets
        }
    }
}

/// The data points one request reports.
pub fn data(scope: &Scope<'_>, measured: &Measurement, timestamp_ms: i64) -> Vec<MetricDatum> {
    let (client_errors, server_errors) = match scope {
        Scope::Http { .. } => ("4xx", "5xx"),
        Scope::Rest { .. } => ("4XXError", "5XXError"),
    };
    let millis = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut values = vec![
        ("Count", 1.0, "Count"),
        (client_errors, f64::from(u8::from(measured.status.is_client_error())), "Count"),
        (server_errors, f64::from(u8::from(measured.status.is_server_error())), "Count"),
        ("Latency", millis(measured.latency), "Milliseconds"),
    ];
    if let Some(integration) = measured.integration_latency {
        values.push(("IntegrationLatency", millis(integration), "Milliseconds"));
    }
    if let Scope::Http { .. } = scope {
        values.push(("DataProcessed", measured.bytes as f64, "Bytes"));
    }
    let sets = dimension_sets(scope);
    let mut data = Vec::with_capacity(sets.len() * values.len());
    for dimensions in sets {
        for &(name, value, unit) in &values {
            data.push(MetricDatum {
                namespace: NAMESPACE.to_owned(),
                name: name.to_owned(),
                dimensions: dimensions.clone(),
                value,
                unit: unit.to_owned(),
                timestamp_ms,
            });
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_by_dimensions(data: &[MetricDatum]) -> Vec<(Vec<&str>, Vec<&str>)> {
        let mut out: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
        for d in data {
            let dims: Vec<&str> = d.dimensions.iter().map(|(k, _)| k.as_str()).collect();
            match out.iter_mut().find(|(k, _)| *k == dims) {
                Some((_, names)) => names.push(&d.name),
                None => out.push((dims, vec![&d.name])),
            }
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
        let data = data(&scope, &measured, 0);
        let all = ["Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed"];
        assert_eq!(
            names_by_dimensions(&data),
            vec![
                (vec!["ApiId"], all.to_vec()),
                (vec!["ApiId", "Stage"], all.to_vec()),
                (vec!["ApiId", "Stage", "Route"], all.to_vec())
            ]
        );
        let value = |name: &str| data.iter().find(|d| d.name == name).map(|d| (d.value, d.unit.as_str()));
        assert_eq!(value("4xx"), Some((1.0, "Count")));
        assert_eq!(value("5xx"), Some((0.0, "Count")));
        assert_eq!(value("Latency"), Some((1.5, "Milliseconds")));
        assert_eq!(value("DataProcessed"), Some((42.0, "Bytes")));
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
        let data = data(&scope, &measured, 0);
        let all = ["Count", "4XXError", "5XXError", "Latency"];
        assert_eq!(
            names_by_dimensions(&data),
            vec![(vec!["ApiName"], all.to_vec()), (vec!["ApiName", "Stage"], all.to_vec())]
        );
        assert_eq!(data.iter().find(|d| d.name == "5XXError").map(|d| d.value), Some(1.0));
        let detailed =
            Scope::Rest { api_name: "pets", api_id: "a1", stage: "dev", detailed_method: Some(("GET", "/p")) };
        let detailed_data = super::data(&detailed, &measured, 0);
        let dims = data_dims(&detailed_data);
        assert!(dims.contains(&vec![("ApiName", "pets"), ("Method", "GET"), ("Resource", "/p"), ("Stage", "dev")]));
    }

    fn data_dims(data: &[MetricDatum]) -> Vec<Vec<(&str, &str)>> {
        data.iter().map(|d| d.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()).collect()
    }

    #[test]
    fn api_name_drops_non_ascii() {
        assert_eq!(api_name_dimension("café-api", "id1"), "caf-api");
        assert_eq!(api_name_dimension("日本", "id1"), "id1");
    }
}
