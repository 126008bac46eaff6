//! Lambda for Nimbus.
//!
//! A map of the crate:
//! - `api/`: the restJson operations (wire in, wire out, validation);
//! - `model/`: persisted function state in the Store;
//! - `code`, `zip`: deployment packages, content-addressed on disk;
//! - `engine`: the invoke path (concurrency, environments, failures, logs);
//! - `pool`: warm environments and concurrency accounting;
//! - `environment`: starting a runtime process with Lambda's environment;
//! - `output`: a runtime's stdout and stderr, gathered into log lines;
//! - `python_probe`: finding the host's Python installation, cached in the data dir;
//! - `node_sdk`: the AWS SDK for JavaScript v3 the nodejs runtimes include, installed once per package set;
//! - `log_writer`: function log lines batched per stream into the LogSink;
//! - `metrics`: the AWS/Lambda metrics, summed up per second;
//! - `to_completion`: invocations that finish even when their caller goes;
//! - `runtime_api`: the Runtime API each environment's runtime talks to;
//! - `runtime_version`: the runtime version an environment's INIT_START names;
//! - `async_queue`: durable Event invocations with retries;
//! - `esm`: event source mappings (DynamoDB stream pollers invoking functions);
//! - `prewarm`: proactive initialization of a function's first environment (for `nimbus up`);
//! - `provisioned`: provisioned-concurrency configs and their warm environments;
//! - `cgroup`, `sandbox`: resource limits and isolation of environments;
//! - `usage`: per-invocation usage records for metering;
//! - `iam`: execution-role credentials and resource policies through IAM's doors.

pub(crate) mod api;
mod async_queue;
mod cgroup;
mod code;
mod engine;
mod environment;
mod esm;
mod iam;
mod log_writer;
mod metrics;
mod model;
mod node_sdk;
mod output;
mod pool;
mod prewarm;
mod provisioned;
mod python_probe;
mod runtime_api;
mod runtime_version;
mod sandbox;
mod to_completion;
mod usage;
mod util;
mod zip;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nimbus_core::{
    AwsError, AwsRequest, AwsResponse, BoxFuture, Context, InvokeOutcome, InvokeRequest, Invoker, LogSink, MetricSink,
    Protocol, Service, ServiceSpec,
};
use nimbus_store::Store;

use crate::engine::{Engine, InvokeInput};

/// How the Lambda service is set up.
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    /// Nimbus's data directory; Lambda keeps code and runtimes under `lambda/`.
    pub data_dir: PathBuf,
    /// Where what runtimes need from package registries is installed once
    /// and shared by servers (`lambda/node-sdk/`); the data dir's by default.
    pub cache_dir: PathBuf,
    /// Where functions reach Nimbus (`AWS_ENDPOINT_URL`) and `Code.Location` points.
    pub endpoint_url: String,
    /// Credentials handed to functions while IAM is not connected (`connect_iam`).
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The account concurrency limit.
    pub account_concurrency: u32,
    /// How long an idle environment stays warm.
    pub keep_alive: Duration,
    /// Delay before the first retry of a failed async event (doubled for the second).
    pub async_retry_delay: Duration,
    /// Run functions in namespaces as an unprivileged user where the host allows.
    pub sandbox: bool,
    /// How long environments' role sessions last (once IAM is connected).
    pub role_session_seconds: i64,
}

impl LambdaConfig {
    /// Lambda's defaults: 1000 concurrent executions, retries after 1 and 2 minutes.
    pub fn new(data_dir: PathBuf, endpoint_url: String) -> Self {
        LambdaConfig {
            cache_dir: data_dir.join("cache"),
            data_dir,
            endpoint_url,
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            account_concurrency: 1000,
            keep_alive: Duration::from_secs(600),
            async_retry_delay: Duration::from_secs(60),
            sandbox: true,
            role_session_seconds: iam::DEFAULT_SESSION_SECONDS,
        }
    }
}

pub struct Lambda {
    engine: Arc<Engine>,
    mappings: Arc<esm::Mappings>,
}

/// Where the event source mapping operations live.
const ESM_PATH: &str = "/2015-03-31/event-source-mappings";

const SPEC: ServiceSpec = ServiceSpec {
    name: "lambda",
    signing_name: "lambda",
    protocol: Protocol::RestJson,
    path_prefixes: &[
        "/2015-03-31/functions",
        ESM_PATH,
        "/2016-08-19/account-settings",
        "/2017-10-31/functions",
        "/2019-09-30/functions",
        "/2019-09-25/functions",
        "/2017-03-31/tags",
        api::USAGE_PATH,
    ],
    public_paths: &[api::CODE_PATH],
    ..ServiceSpec::BASE
};

impl Lambda {
    /// Open the service: write the runtime bootstraps, load reserved
    /// concurrency, and start the async worker and the idle reaper (must be
    /// called inside a Tokio runtime).
    pub fn new(
        store: Arc<dyn Store>,
        context: Context,
        config: LambdaConfig,
        logs: Arc<dyn LogSink>,
        metrics: Arc<dyn MetricSink>,
    ) -> Result<Self, String> {
        // Absolute, because sandboxed environments mount from it.
        let mut config = config;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("lambda data dir: {e}"))?;
        config.data_dir = config.data_dir.canonicalize().map_err(|e| format!("lambda data dir: {e}"))?;
        config.cache_dir =
            match std::fs::create_dir_all(&config.cache_dir).and_then(|()| config.cache_dir.canonicalize()) {
                Ok(dir) => dir,
                Err(e) => {
                    tracing::warn!("lambda: cache dir {}: {e}; using the data dir", config.cache_dir.display());
                    config.data_dir.join("cache")
                }
            };
        let code = code::CodeStore::open(&config.data_dir).map_err(|e| format!("lambda code store: {e}"))?;
        let launcher = environment::Launcher::new(
            &config.data_dir,
            &config.cache_dir,
            config.sandbox,
            config.endpoint_url.clone(),
            context.region.clone(),
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
        )
        .map_err(|e| format!("lambda runtimes: {e}"))?;
        let functions = model::Functions::new(store.clone());
        let pool = pool::Pool::new(config.account_concurrency);
        for f in functions.list(None, usize::MAX).map_err(|e| e.to_string())? {
            if f.reserved_concurrency.is_some() {
                pool.set_reserved(&f.name, f.reserved_concurrency);
            }
        }
        let engine = Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            ctx: context,
            functions,
            code,
            pool,
            launcher,
            logs,
            metrics: metrics::Metrics::start(metrics),
            keep_alive: config.keep_alive,
            endpoint_url: config.endpoint_url.trim_end_matches('/').to_owned(),
            store,
            async_wakeup: tokio::sync::Notify::new(),
            async_retry_delay: config.async_retry_delay,
            provisioned: Default::default(),
            usage: Default::default(),
            iam: iam::IamDoors::new(config.role_session_seconds),
            log_writer: Default::default(),
            prewarming: Default::default(),
        });
        tokio::spawn(usage::UsageLog::run(Arc::downgrade(&engine)));
        tokio::spawn(log_writer::LogWriter::run(Arc::downgrade(&engine)));
        for config in engine.provisioned_configs(None).map_err(|e| e.to_string())? {
            engine.warm(config);
        }
        let preparing = engine.clone();
        tokio::spawn(async move { preparing.launcher.prepare().await });
        tokio::spawn(async_queue::run_worker(engine.clone()));
        let reaper = Arc::downgrade(&engine);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(engine) = reaper.upgrade() else { break };
                engine.pool.reap(engine.keep_alive);
                // Provisioned environments whose role credentials ran low are replaced.
                for function in engine.pool.take_retired_provisioned() {
                    for config in engine.provisioned_configs(Some(&function)).unwrap_or_default() {
                        engine.warm(config);
                    }
                }
            }
        });
        let mappings = esm::Mappings::new(engine.store.clone(), Arc::downgrade(&engine));
        Ok(Lambda { engine, mappings })
    }
}

impl Lambda {
    /// Connect IAM: environments then run with their role's credentials, and
    /// functions' resource policies (also those stored before) take effect.
    pub fn connect_iam(
        &self,
        roles: Arc<dyn nimbus_core::RoleAssumer>,
        policies: Arc<dyn nimbus_core::ResourcePolicies>,
    ) -> Result<(), String> {
        let engine = &self.engine;
        engine.iam.connect(roles, policies);
        for function in engine.functions.list(None, usize::MAX).map_err(|e| e.to_string())? {
            engine.iam.publish_all(&engine.ctx, &function);
        }
        Ok(())
    }

    /// Connect DynamoDB Streams (through core's door): event source mappings
    /// can then be created, and stored ones resume from their checkpoints.
    pub fn connect_streams(&self, reader: Arc<dyn nimbus_core::StreamReader>) -> Result<(), String> {
        self.mappings.connect(reader)
    }

    /// Stop every idle environment and remove their cgroups; call once the
    /// edge has drained in-flight requests.
    pub async fn shutdown(&self) {
        self.engine.usage.flush(self.engine.store.as_ref()).await;
        self.engine.log_writer.flush(self.engine.logs.as_ref()).await;
        self.engine.metrics.flush();
        let envs = self.engine.pool.drain();
        for env in &envs {
            env.kill();
        }
        for env in &envs {
            let _ = tokio::time::timeout(Duration::from_secs(2), env.exited()).await;
        }
        drop(envs);
        // Environment groups empty as the kernel reaps their processes.
        for _ in 0..30 {
            if self.engine.launcher.cleanup() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Service for Lambda {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            if request.uri.path().starts_with(ESM_PATH) {
                return api::event_source_mappings::handle(&self.engine, &self.mappings, request).await;
            }
            api::handle(&self.engine, request).await
        })
    }
}

impl nimbus_core::Prewarmer for Lambda {
    fn prewarm(&self, function_name: &str) {
        match api::resolve(&self.engine, function_name, None, false) {
            Ok(function) => self.engine.prewarm(function),
            Err(e) => tracing::debug!("lambda: nothing to prewarm for {function_name}: {}", e.message),
        }
    }
}

impl Invoker for Lambda {
    fn invoke(&self, request: InvokeRequest) -> BoxFuture<'_, Result<InvokeOutcome, AwsError>> {
        Box::pin(invoke_function(&self.engine, request))
    }
}

/// A synchronous invocation by function reference: the Invoker door, and
/// event source mappings delivering batches.
pub(crate) async fn invoke_function(engine: &Engine, request: InvokeRequest) -> Result<InvokeOutcome, AwsError> {
    let (name, from_name) = api::parse_function_ref(&request.function)?;
    let qualifier = from_name.or(request.qualifier);
    let function = api::resolve(engine, &name, qualifier.as_deref(), true)?;
    let arn = model::function_arn(&engine.ctx, &name);
    let invoked_arn = match &qualifier {
        Some(q) => format!("{arn}:{q}"),
        None => arn,
    };
    let client_context =
        request.client_context.as_deref().and_then(util::base64_decode).and_then(|b| String::from_utf8(b).ok());
    let input = InvokeInput {
        request_id: nimbus_core::request::new_request_id(),
        payload: request.payload,
        client_context,
        tail: false,
        invoked_arn,
    };
    let result = engine.invoke(&function, &function.version(), input).await?;
    Ok(InvokeOutcome {
        payload: result.payload,
        function_error: result.function_error,
        executed_version: result.executed_version,
    })
}
