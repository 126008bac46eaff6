//! The `nimbus` command.

mod iam_cli;
mod logs_cli;
mod serve;
mod server_client;
mod stack_cli;
mod storage;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of glibc malloc: the request path allocates and frees
/// many small, short-lived buffers across threads, where glibc's arenas and
/// locks cost measurably (see bench/dynamodb/notes.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "nimbus", version, about = "AWS serverless applications on your machine: one binary, one port")]
struct Cli {
    /// Log format on stderr; the filter comes from RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "NIMBUS_LOG_FORMAT")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the AWS APIs on one port with embedded durable storage.
    Serve(serve::ServeArgs),
    /// Serve, deploy the SAM application in DIR, and redeploy its functions as their code changes.
    Up(serve::UpArgs),
    /// Create or update a stack on a running server from a SAM/CloudFormation template.
    Deploy(stack_cli::DeployArgs),
    /// Delete a stack and the resources it made.
    Delete(stack_cli::DeleteArgs),
    /// List the stacks.
    Stacks(stack_cli::StacksArgs),
    /// IAM helpers against a running server.
    Iam(iam_cli::IamArgs),
    /// Print a function's log events from a running server (--follow for new ones).
    Logs(logs_cli::LogsArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Up(args) => serve::run_up(args),
        Command::Deploy(args) => stack_cli::deploy(args),
        Command::Delete(args) => stack_cli::delete(args),
        Command::Stacks(args) => stack_cli::stacks(args),
        Command::Iam(args) => iam_cli::run(args),
        Command::Logs(args) => logs_cli::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("nimbus: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
