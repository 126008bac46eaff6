//! CloudWatch metrics (signing name `monitoring`).
//!
//! Today's SDKs speak the JSON protocol to CloudWatch (awsJson 1.0,
//! `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`), with
//! `awsQueryCompatible` errors: the JSON body names the error shape and the
//! `x-amzn-query-error` header carries the classic query code
//! (`InvalidParameterValue;Sender`), which is the code SDKs report. The spec
//! stays awsQuery so requests of older query-protocol SDKs are recognised
//! (and answered with query errors).

mod alarms;
mod api;
mod ingest;
pub mod math;
pub mod model;
pub mod prometheus;
mod query;
mod rollup;
pub mod stats;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use nimbus_core::{
    AwsError, AwsRequest, AwsResponse, BoxFuture, Context, Invoker, MetricSink, Protocol, Service, ServiceSpec,
};
use nimbus_store::Store;
use serde_json::Value;
use tokio::sync::Notify;

use crate::wire;
pub use ingest::Ingest;

/// Path of the Prometheus exposition, served without signatures.
pub const PROMETHEUS_PATH: &str = "/_nimbus/metrics";
const ERROR_NAMESPACE: &str = "com.amazonaws.cloudwatch";

static SPEC: ServiceSpec = ServiceSpec {
    name: "monitoring",
    signing_name: "monitoring",
    protocol: Protocol::AwsQuery,
    target_prefix: Some("GraniteServiceVersion20100801"),
    xml_namespace: Some("http://monitoring.amazonaws.com/doc/2010-08-01/"),
    public_paths: &[PROMETHEUS_PATH],
    ..ServiceSpec::BASE
};

pub struct MetricsService {
    store: Arc<dyn Store>,
    context: Context,
    ingest: Arc<Ingest>,
    /// Invokes Lambda alarm actions; set once Lambda exists.
    invoker: RwLock<Option<Arc<dyn Invoker>>>,
    history_seq: AtomicU64,
    /// Wakes the alarm evaluator (after PutMetricAlarm, PutMetricData).
    alarm_wake: Arc<Notify>,
    /// Serialises alarm state changes (evaluator, SetAlarmState,
    /// PutMetricAlarm), so one transition runs its actions once.
    alarm_lock: tokio::sync::Mutex<()>,
}

impl MetricsService {
    /// Build the service and start its background tasks (sink flusher,
    /// roll-ups).
    pub fn start(store: Arc<dyn Store>, context: Context) -> Arc<Self> {
        let service = Arc::new(Self::new(store, context));
        Ingest::spawn_flusher(&service.ingest);
        rollup::spawn(Arc::downgrade(&service));
        alarms::spawn_evaluator(Arc::downgrade(&service), service.alarm_wake.clone());
        service
    }

    /// The service without background tasks (unit tests).
    pub fn new(store: Arc<dyn Store>, context: Context) -> Self {
        let ingest = Arc::new(Ingest::new(store.clone()));
        let history_seq = AtomicU64::new(nimbus_core::time::now_epoch_millis().saturating_mul(1000));
        MetricsService {
            store,
            context,
            ingest,
            invoker: RwLock::new(None),
            history_seq,
            alarm_wake: Arc::new(Notify::new()),
            alarm_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The door services report metrics through; never blocks.
    pub fn sink(&self) -> Arc<dyn MetricSink> {
        self.ingest.clone()
    }

    /// Store everything the sink has buffered (tests, shutdown).
    pub async fn flush(&self) {
        self.ingest.flush().await;
    }

    async fn dispatch(&self, request: &AwsRequest, operation: &str, body: wire::Object) -> Result<Value, AwsError> {
        match operation {
            "PutMetricData" => self.put_metric_data(request, body).await,
            "GetMetricStatistics" => self.get_metric_statistics(request, body),
            "ListMetrics" => self.list_metrics(request, body),
            "GetMetricData" => self.get_metric_data(request, body),
            "PutMetricAlarm" => self.put_metric_alarm(request, body).await,
            "DescribeAlarms" => self.describe_alarms(request, body),
            "DescribeAlarmHistory" => self.describe_alarm_history(request, body),
            "DeleteAlarms" => self.delete_alarms(request, body).await,
            "SetAlarmState" => self.set_alarm_state(request, body).await,
            "EnableAlarmActions" => self.set_alarm_actions(request, body, true).await,
            "DisableAlarmActions" => self.set_alarm_actions(request, body, false).await,
            "DescribeAlarmsForMetric" => self.describe_alarms_for_metric(request, body),
            "PutDashboard" => self.put_dashboard(request, body).await,
            "GetDashboard" => self.get_dashboard(request, body),
            "ListDashboards" => self.list_dashboards(request, body),
            "DeleteDashboards" => self.delete_dashboards(request, body).await,
            "TagResource" => self.tag_resource(request, body).await,
            "UntagResource" => self.untag_resource(request, body).await,
            "ListTagsForResource" => self.list_tags_for_resource(request, body),
            _ => Err(AwsError::unknown_operation(Protocol::AwsJson1_0)),
        }
    }

    fn prometheus(&self) -> AwsResponse {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
            .body(Bytes::from(self.ingest.prometheus.render()))
            .unwrap_or_else(|_| Response::new(Bytes::new()))
    }
}

impl Service for MetricsService {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            if request.uri.path() == PROMETHEUS_PATH {
                return match request.method {
                    Method::GET | Method::HEAD => Ok(self.prometheus()),
                    _ => Err(AwsError::new(405, "MethodNotAllowed", "Use GET")),
                };
            }
            let Some(operation) = request.target_operation.clone() else {
                return self.handle_query(&request).await;
            };
            let body = match wire::parse_body(&request.body) {
                Ok(body) => body,
                Err(m) => return Ok(json_error(AwsError::new(400, "SerializationException", m), &request.request_id)),
            };
            match self.dispatch(&request, &operation, body).await {
                Ok(body) => Ok(wire::json_response(Protocol::AwsJson1_0, &body)),
                Err(err) => Ok(json_error(err, &request.request_id)),
            }
        })
    }
}

impl MetricsService {
    /// An awsQuery request: form parameters in, XML out, query error codes.
    async fn handle_query(&self, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
        let mut params = query::parse_form(&request.body);
        params.extend(request.uri.query().map(|q| query::parse_form(q.as_bytes())).unwrap_or_default());
        let Some(operation) = params.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()) else {
            return Err(AwsError::new(400, "MissingAction", "Missing Action"));
        };
        let body = query::to_object(&params);
        match self.dispatch(request, &operation, body).await {
            Ok(result) => {
                let namespace = SPEC.xml_namespace.unwrap_or_default();
                let xml = query::to_xml(&operation, namespace, &result, &request.request_id);
                Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "text/xml")
                    .body(Bytes::from(xml))
                    .unwrap_or_else(|_| Response::new(Bytes::new())))
            }
            Err(err) if err.code == "UnknownOperationException" => Err(AwsError::unknown_operation(Protocol::AwsQuery)),
            Err(mut err) => {
                if let Some(code) = errors::query_code(&err.code) {
                    err.code = code.into();
                }
                err.namespace = None;
                Err(err)
            }
        }
    }
}

/// A JSON error with the `x-amzn-query-error` header awsQueryCompatible
/// clients read the error code from.
fn json_error(err: AwsError, request_id: &str) -> AwsResponse {
    let query_code = errors::query_code(&err.code);
    let err = if err.namespace.is_none() && query_code.is_some() { err.with_namespace(ERROR_NAMESPACE) } else { err };
    let mut response = err.to_response(Protocol::AwsJson1_0, None, request_id);
    if let Some(code) = query_code {
        let fault = if err.sender_fault { "Sender" } else { "Receiver" };
        if let Ok(value) = HeaderValue::from_str(&format!("{code};{fault}")) {
            response.headers_mut().insert("x-amzn-query-error", value);
        }
    }
    response
}

/// CloudWatch's error shapes and their query codes.
pub(crate) mod errors {
    use nimbus_core::AwsError;

    const CODES: [(&str, &str); 11] = [
        ("DashboardNotFoundError", "ResourceNotFound"),
        ("DashboardInvalidInputError", "InvalidParameterInput"),
        ("ResourceNotFoundException", "ResourceNotFoundException"),
        ("InvalidParameterValueException", "InvalidParameterValue"),
        ("InvalidParameterCombinationException", "InvalidParameterCombination"),
        ("MissingRequiredParameterException", "MissingParameter"),
        ("InvalidNextToken", "InvalidNextToken"),
        ("ResourceNotFound", "ResourceNotFound"),
        ("LimitExceededFault", "LimitExceeded"),
        ("InternalServiceFault", "InternalServiceError"),
        ("InvalidFormatFault", "InvalidFormat"),
    ];

    pub fn query_code(shape: &str) -> Option<&'static str> {
        CODES.iter().find(|(s, _)| *s == shape).map(|(_, code)| *code)
    }

    pub fn invalid_value(message: impl Into<String>) -> AwsError {
        AwsError::new(400, "InvalidParameterValueException", message)
    }

    pub fn invalid_combination(message: impl Into<String>) -> AwsError {
        AwsError::new(400, "InvalidParameterCombinationException", message)
    }

    pub fn missing(parameter: &str) -> AwsError {
        AwsError::new(400, "MissingRequiredParameterException", format!("The parameter {parameter} is required."))
    }

    pub fn invalid_token() -> AwsError {
        AwsError::new(
            400,
            "InvalidNextToken",
            "The service couldn't process your request because the NextToken is invalid.",
        )
    }

    pub fn store(err: nimbus_store::StoreError) -> AwsError {
        AwsError::new(500, "InternalServiceFault", format!("Internal service error: {err}"))
    }
}
