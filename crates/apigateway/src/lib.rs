//! API Gateway: HTTP APIs (apigatewayv2) and their data plane.
//!
//! The management API (restJson under `/v2/apis`) edits API definitions,
//! kept in memory as immutable snapshots (`Arc<ApiRecord>`) and written
//! through to the store, so the data plane reads a definition without locks
//! or storage access. The data plane answers on
//! `{apiId}.execute-api.localhost:4566/{stage}/{path}` and
//! `/_aws/execute-api/{apiId}/{stage}/{path}`: it matches a route, builds
//! the proxy event, invokes the function through the `Invoker` door and maps
//! its answer back to HTTP.

mod dataplane;
mod ids;
mod state;
mod v1;
mod v2;

use std::sync::{Arc, OnceLock};

use nimbus_core::{
    AwsError, AwsRequest, AwsResponse, BoxFuture, Context, Invoker, LogSink, MetricAggregator, MetricSink, Protocol,
    Service, ServiceSpec,
};
use nimbus_store::Store;

use crate::state::Registry;
use crate::v2::model::ApiRecord;

/// Where each kind of definition is kept in the store.
const HTTP_APIS: &str = "apigateway.v2.apis";
const REST_APIS: &str = "apigateway.v1.restapis";
const API_KEYS: &str = "apigateway.v1.apikeys";
const USAGE_PLANS: &str = "apigateway.v1.usageplans";

static SPEC: ServiceSpec = ServiceSpec {
    name: "apigateway",
    signing_name: "apigateway",
    protocol: Protocol::RestJson,
    path_prefixes: &["/v2/apis", "/v2/tags", "/restapis", "/apikeys", "/usageplans"],
    public_paths: &[dataplane::PATH_PREFIX],
    public_host_suffixes: &[dataplane::HOST_SUFFIX],
    ..ServiceSpec::BASE
};

pub struct ApiGateway {
    registry: Registry<ApiRecord>,
    rest_apis: Registry<v1::model::RestApiRecord>,
    api_keys: Registry<v1::model::ApiKey>,
    usage_plans: Registry<v1::model::UsagePlan>,
    quotas: v1::keys::QuotaCounters,
    authorizer_cache: dataplane::authorizers::Cache,
    context: Context,
    /// Where Nimbus is reachable, for `apiEndpoint` (`http://{id}.execute-api.localhost:4566`).
    port: u16,
    invoker: OnceLock<Arc<dyn Invoker>>,
    /// `AWS/ApiGateway` metrics, summed up per second.
    metrics: Arc<MetricAggregator>,
    logs: OnceLock<Arc<dyn LogSink>>,
    throttle: dataplane::throttle::Throttle,
    http_proxy: dataplane::http_proxy::HttpProxy,
    jwt: dataplane::jwt::Jwt,
}

impl ApiGateway {
    /// Load every API from the store.
    pub fn new(store: Arc<dyn Store>, context: Context, port: u16) -> Result<Self, String> {
        Ok(ApiGateway {
            registry: Registry::load(store.clone(), HTTP_APIS).map_err(|e| e.to_string())?,
            rest_apis: Registry::load(store.clone(), REST_APIS).map_err(|e| e.to_string())?,
            api_keys: Registry::load(store.clone(), API_KEYS).map_err(|e| e.to_string())?,
            usage_plans: Registry::load(store, USAGE_PLANS).map_err(|e| e.to_string())?,
            quotas: Default::default(),
            authorizer_cache: Default::default(),
            context,
            port,
            invoker: OnceLock::new(),
            metrics: Arc::new(MetricAggregator::new(dataplane::metrics::NAMESPACE)),
            logs: OnceLock::new(),
            throttle: dataplane::throttle::Throttle::default(),
            http_proxy: Default::default(),
            jwt: Default::default(),
        })
    }

    /// Connect the Lambda door (set once, after Lambda is built).
    pub fn set_invoker(&self, invoker: Arc<dyn Invoker>) {
        let _ = self.invoker.set(invoker);
    }

    /// Connect CloudWatch Logs for stage access logs (set once).
    pub fn set_log_sink(&self, logs: Arc<dyn LogSink>) {
        let _ = self.logs.set(logs);
    }

    /// Report the `AWS/ApiGateway` metrics to `sink` (once a second; set once).
    pub fn set_metrics(&self, sink: Arc<dyn MetricSink>) {
        self.metrics.start(sink);
    }

    /// Report the metrics recorded since the last report now (shutdown, tests).
    pub fn flush_metrics(&self) {
        self.metrics.flush();
    }
}

impl Service for ApiGateway {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            if let Some(target) = dataplane::target(&request) {
                return Ok(self.serve_data_plane(request, target).await);
            }
            if request.uri.path().starts_with("/v2/") {
                v2::control::handle(self, request).await
            } else {
                v1::control::handle(self, request).await
            }
        })
    }
}
