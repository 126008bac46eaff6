//! `nimbus serve`: open the store, register the services, serve until signalled.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use nimbus_core::{Context, Service};
use nimbus_edge::{AuthMode, Edge};
use nimbus_iam::model::Model;
use nimbus_iam::{Iam, IamAuthorizer, IamCredentials, StaticCredentials, Sts, Verifier};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "NIMBUS_HOST")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4566, env = "NIMBUS_PORT")]
    port: u16,
    /// Where the embedded store keeps its data.
    #[arg(long, default_value = ".nimbus", env = "NIMBUS_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep state in PostgreSQL (or CockroachDB, YugabyteDB) instead of the
    /// embedded store: postgres://user:password@host:port/database.
    #[arg(long, env = "NIMBUS_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Where runtime packages installed from registries (the AWS SDK for
    /// JavaScript of the nodejs runtimes) are kept and shared between
    /// servers [default: $HOME/.cache/nimbus, else DATA_DIR/cache].
    #[arg(long, env = "NIMBUS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The region this server answers for.
    #[arg(long, default_value = "us-east-1", env = "NIMBUS_REGION")]
    region: String,
    /// The account every resource belongs to.
    #[arg(long, default_value = nimbus_core::DEFAULT_ACCOUNT_ID, env = "NIMBUS_ACCOUNT_ID")]
    account_id: String,
    /// Access key id of the account's root credentials.
    #[arg(long, default_value = "test", env = "NIMBUS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Secret access key of the account's root credentials.
    #[arg(long, default_value = "test", env = "NIMBUS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// Whether requests must be SigV4-signed.
    #[arg(long, value_enum, default_value_t = Auth::On, env = "NIMBUS_AUTH")]
    auth: Auth,
    /// Lambda: the account's concurrent-executions limit.
    #[arg(long, default_value_t = 1000, env = "NIMBUS_LAMBDA_CONCURRENCY")]
    lambda_concurrency: u32,
    /// Lambda: seconds an idle execution environment stays warm.
    #[arg(long, default_value_t = 600, env = "NIMBUS_LAMBDA_KEEP_ALIVE")]
    lambda_keep_alive: u64,
    /// Lambda: milliseconds before the first retry of a failed async event (Lambda waits 1 then 2 minutes).
    #[arg(long, default_value_t = 60_000, env = "NIMBUS_LAMBDA_ASYNC_RETRY_DELAY_MS")]
    lambda_async_retry_delay_ms: u64,
    /// Lambda: run functions in namespaces as an unprivileged user (off: plain processes).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, env = "NIMBUS_LAMBDA_SANDBOX")]
    lambda_sandbox: bool,
    /// Lambda: seconds each environment's role session lasts (environments
    /// retire before it ends). Within the role's MaxSessionDuration.
    #[arg(long, default_value_t = 3600, env = "NIMBUS_LAMBDA_ROLE_SESSION_SECONDS")]
    lambda_role_session_seconds: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Auth {
    On,
    Off,
}

/// `nimbus up`: serve, deploy a SAM app, keep it deployed as its code changes.
#[derive(Args)]
pub struct UpArgs {
    /// The application's folder (with template.yaml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The template, if not DIR/template.yaml.
    #[arg(long)]
    template: Option<PathBuf>,
    /// The stack name (default: the folder's name).
    #[arg(long)]
    stack_name: Option<String>,
    /// Template parameters: K=V …
    #[arg(long, num_args = 1..)]
    parameter_overrides: Vec<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

pub fn run_up(mut args: UpArgs) -> Result<(), String> {
    // The app's state lives beside it unless a data dir was given.
    if args.serve.data_dir == std::path::Path::new(".nimbus") {
        args.serve.data_dir = args.dir.join(".nimbus");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nimbus-worker")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let app = App {
        dir: args.dir,
        template: args.template,
        stack_name: args.stack_name,
        overrides: args.parameter_overrides,
    };
    runtime.block_on(serve_app(args.serve, Some(app)))
}

/// What `nimbus up` deploys.
struct App {
    dir: PathBuf,
    template: Option<PathBuf>,
    stack_name: Option<String>,
    overrides: Vec<String>,
}

pub fn run(args: ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("nimbus-worker")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve_app(args, None))
}

/// `$HOME/.cache/nimbus`, where scripts/test keeps its venv too.
fn home_cache_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".cache").join("nimbus"))
}

async fn serve_app(args: ServeArgs, app: Option<App>) -> Result<(), String> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", args.data_dir.display()))?;
    let (store, store_banner) = crate::storage::open(args.store.as_deref(), &args.data_dir)?;
    let context = Context { region: args.region.clone(), account_id: args.account_id.clone() };

    // Bound before the services are built: Lambda hands functions this address.
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let endpoint_ip = if address.ip().is_unspecified() { "127.0.0.1".to_owned() } else { address.ip().to_string() };
    let endpoint_url = format!("http://{endpoint_ip}:{}", address.port());

    // CloudWatch: the log and metric sinks Lambda and API Gateway write to.
    let cloudwatch = nimbus_cloudwatch::CloudWatch::new(store.clone(), context.clone());
    let mut lambda_config = nimbus_lambda::LambdaConfig::new(args.data_dir.clone(), endpoint_url);
    if let Some(cache_dir) = args.cache_dir.clone().or_else(home_cache_dir) {
        lambda_config.cache_dir = cache_dir;
    }
    lambda_config.access_key_id = args.access_key_id.clone();
    lambda_config.secret_access_key = args.secret_access_key.clone();
    lambda_config.account_concurrency = args.lambda_concurrency;
    lambda_config.keep_alive = std::time::Duration::from_secs(args.lambda_keep_alive);
    lambda_config.async_retry_delay = std::time::Duration::from_millis(args.lambda_async_retry_delay_ms);
    lambda_config.sandbox = args.lambda_sandbox;
    lambda_config.role_session_seconds = args.lambda_role_session_seconds;
    // Lambda is a service and the `Invoker` API Gateway calls: one Arc, two doors.
    let lambda = Arc::new(nimbus_lambda::Lambda::new(
        store.clone(),
        context.clone(),
        lambda_config,
        cloudwatch.log_sink(),
        cloudwatch.metric_sink(),
    )?);

    // IAM: users, keys, roles and sessions from the store; the authorizer
    // checks every non-root request against their policies.
    let iam_model =
        Arc::new(Model::open(store.clone(), &args.account_id).map_err(|e| format!("loading IAM state: {e}"))?);
    let authorizer = Arc::new(IamAuthorizer::new(iam_model.clone()));
    let sts = Arc::new(Sts::new(iam_model.clone(), authorizer.clone()));
    // Functions act with their execution role; AddPermission policies count.
    lambda.connect_iam(sts.clone(), authorizer.clone())?;

    let apigateway = Arc::new(
        nimbus_apigateway::ApiGateway::new(store.clone(), context.clone(), address.port())
            .map_err(|e| format!("cannot load API Gateway state: {e}"))?,
    );
    apigateway.set_invoker(lambda.clone());
    apigateway.set_log_sink(cloudwatch.log_sink());
    apigateway.set_metrics(cloudwatch.metric_sink());
    cloudwatch.set_invoker(lambda.clone());
    // EventBridge rules (SAM Schedule events) invoke functions on their schedule.
    let events = Arc::new(nimbus_events::Events::new(store.clone(), context.clone())?);
    events.set_invoker(lambda.clone());
    events.start();
    let dynamodb = Arc::new(nimbus_dynamodb::DynamoDb::new(store.clone(), context.clone()));
    dynamodb.set_metrics(cloudwatch.metric_sink());
    dynamodb.start_ttl_sweeper();
    let streams_settings = nimbus_dynamodb::streams::api::Settings::from_env();
    let dynamodb_streams =
        Arc::new(nimbus_dynamodb::streams::DynamoDbStreams::new(store.clone(), context.clone(), streams_settings));
    dynamodb_streams.start_trimming();
    // Event source mappings read streams through core's StreamReader door.
    let stream_reader = nimbus_dynamodb::stream_reader::DynamoDbStreamReader::new(
        dynamodb_streams.clone(),
        store.clone(),
        dynamodb.writes(),
    );
    lambda.connect_streams(Arc::new(stream_reader))?;
    let cloudformation = Arc::new(nimbus_deploy::service::CloudFormation::new(&args.data_dir));
    let services: Vec<Arc<dyn Service>> = vec![
        dynamodb.clone(),
        dynamodb_streams.clone(),
        apigateway.clone(),
        lambda.clone(),
        Arc::new(Iam::new(iam_model.clone(), authorizer.clone())),
        sts,
        cloudwatch.logs.clone(),
        cloudwatch.metrics.clone(),
        events.clone(),
        cloudformation.clone(),
    ];
    let engine = nimbus_deploy::cli::in_process_engine(&services, &args.region, &args.account_id, &args.data_dir);
    cloudformation.connect(engine.clone());

    let auth = match args.auth {
        Auth::On => {
            let root = StaticCredentials::root(&args.account_id, &args.access_key_id, &args.secret_access_key);
            let credentials = IamCredentials::new(root, iam_model.clone());
            AuthMode::SigV4(Verifier::new(Arc::new(credentials), &args.region))
        }
        Auth::Off => {
            tracing::warn!("AUTHENTICATION IS OFF: every request is accepted as the account root, signed or not");
            AuthMode::Off
        }
    };
    let edge = Arc::new(Edge::new(services, auth, context).with_authorizer(authorizer));

    println!("Nimbus {} listening on http://{address}", env!("CARGO_PKG_VERSION"));
    println!("  data dir:    {}", args.data_dir.display());
    println!("  store:       {store_banner}");
    println!("  region:      {}   account: {}", args.region, args.account_id);
    if args.auth == Auth::On {
        // The default secret is public knowledge; a chosen one stays off the screen.
        let secret = if args.secret_access_key == "test" { "test" } else { "<as configured>" };
        println!(
            "  credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={secret} AWS_ENDPOINT_URL=http://{address}",
            args.access_key_id
        );
    } else {
        println!("  credentials: any (authentication is OFF)");
    }

    match app {
        None => nimbus_edge::serve(edge, listener, shutdown_signal()).await.map_err(|e| e.to_string())?,
        Some(app) => {
            // The server runs until the app's watcher returns (Ctrl-C).
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(nimbus_edge::serve(edge, listener, async {
                let _ = stopped.await;
            }));
            let project =
                nimbus_deploy::cli::Project::locate(&app.dir, app.template.as_deref(), app.stack_name.as_deref())?;
            let overrides = crate::stack_cli::parse_overrides(&app.overrides)?;
            let print: nimbus_deploy::cli::Print = Arc::new(|line: &str| println!("{line}"));
            // Lambda starts each deployed function's first environment right away.
            let prewarmer = lambda.clone();
            let result =
                nimbus_deploy::cli::up(engine, project, overrides, address.port(), print, prewarmer, shutdown_signal())
                    .await;
            let _ = stop.send(());
            server.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
            if let Err(e) = result {
                lambda.shutdown().await;
                dynamodb.flush_metrics();
                apigateway.flush_metrics();
                cloudwatch.metrics.flush().await;
                store.close().map_err(|e| format!("closing the store: {e}"))?;
                return Err(e);
            }
        }
    }
    lambda.shutdown().await;
    // Metrics reported in the last moments are still buffered.
    dynamodb.flush_metrics();
    apigateway.flush_metrics();
    cloudwatch.metrics.flush().await;
    tracing::info!("flushing the store");
    store.close().map_err(|e| format!("closing the store: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
    tracing::info!("shutting down: finishing in-flight requests");
}
