//! `nimbus deploy`, `nimbus delete` and `nimbus stacks`: SAM/CloudFormation
//! stacks on a running Nimbus. The deploy engine runs here and provisions
//! through the server's public APIs over SigV4-signed HTTP, exactly as
//! `nimbus up` does in-process; stack records are the JSON files in
//! `<data dir>/stacks`, the same ones the server's CloudFormation API and
//! `nimbus up` read, so run these from where the server keeps its data
//! (or pass `--data-dir`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use nimbus_deploy::api::sigv4::Credentials;
use nimbus_deploy::cli::{self, Print, Project};
use nimbus_deploy::engine::Engine;

/// Where the server is and who we are to it.
#[derive(Args)]
pub struct Remote {
    /// The running Nimbus.
    #[arg(long, default_value = "http://127.0.0.1:4566", env = "AWS_ENDPOINT_URL")]
    endpoint_url: String,
    /// The server's data dir, where stack records are kept.
    #[arg(long, default_value = ".nimbus", env = "NIMBUS_DATA_DIR")]
    data_dir: PathBuf,
    /// Credentials the calls are signed with (default: the root's test key).
    #[arg(long, default_value = "test", env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, default_value = "test", env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
}

impl Remote {
    async fn engine(&self) -> Result<Engine, String> {
        let credentials = Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        };
        // Records kept away from the server's own would be invisible to it
        // and to `nimbus up`: say so rather than quietly diverge.
        if !self.data_dir.join(crate::storage::STORE_FILE).is_file() {
            eprintln!(
                "nimbus: note: {} is not a Nimbus data dir; stack records will be kept there (pass the server's --data-dir to share them)",
                self.data_dir.display()
            );
        }
        cli::remote_engine(&self.endpoint_url, credentials, &self.data_dir).await
    }

    /// The port API URLs are printed with.
    fn port(&self) -> u16 {
        self.endpoint_url.trim_end_matches('/').rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(80)
    }
}

/// `nimbus deploy`: create or update a stack from a SAM/CloudFormation template.
#[derive(Args)]
pub struct DeployArgs {
    /// The template (default: template.yaml in the current folder).
    #[arg(long, short = 't')]
    template: Option<PathBuf>,
    /// The stack name (default: the template folder's name).
    #[arg(long)]
    stack_name: Option<String>,
    /// Template parameters: K=V …
    #[arg(long, num_args = 1..)]
    parameter_overrides: Vec<String>,
    #[command(flatten)]
    remote: Remote,
}

/// `nimbus delete`: delete a stack and every resource it made.
#[derive(Args)]
pub struct DeleteArgs {
    #[arg(long)]
    stack_name: String,
    #[command(flatten)]
    remote: Remote,
}

/// `nimbus stacks`: list the stacks.
#[derive(Args)]
pub struct StacksArgs {
    #[command(flatten)]
    remote: Remote,
}

/// `K=V` pairs as template parameter overrides.
pub fn parse_overrides(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(format!("parameter override {pair} is not K=V")),
        })
        .collect()
}

fn stdout() -> Print {
    Arc::new(|line: &str| println!("{line}"))
}

fn block_on<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(work)
}

pub fn deploy(args: DeployArgs) -> Result<(), String> {
    let overrides = parse_overrides(&args.parameter_overrides)?;
    // With --template, the stack is named after the template's folder.
    let dir = match &args.template {
        Some(t) => t.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
        None => PathBuf::from("."),
    };
    let project = Project::locate(&dir, args.template.as_deref(), args.stack_name.as_deref())?;
    block_on(async {
        let engine = args.remote.engine().await?;
        let print = stdout();
        let verb = if engine.stack(&project.stack_name).await.map_err(|e| e.to_string())?.is_some() {
            "Updating"
        } else {
            "Creating"
        };
        print(&format!("{verb} stack {} from {}", project.stack_name, project.template.display()));
        let started = std::time::Instant::now();
        let outcome = cli::deploy_project(&engine, &project, &overrides, Some(cli::progress_printer(print.clone())))
            .await
            .map_err(|e| e.to_string())?;
        if outcome.changes.is_empty() {
            print("No changes to deploy");
        } else {
            print(&format!("Deployed in {} ms", started.elapsed().as_millis()));
        }
        for failure in &outcome.cleanup_failures {
            print(&format!("  left behind: {failure}"));
        }
        print(&cli::summary(&outcome.stack, args.remote.port()));
        Ok(())
    })
}

pub fn delete(args: DeleteArgs) -> Result<(), String> {
    block_on(async {
        let engine = args.remote.engine().await?;
        let print = stdout();
        print(&format!("Deleting stack {}", args.stack_name));
        engine.delete(&args.stack_name, Some(cli::progress_printer(print.clone()))).await.map_err(|e| e.to_string())?;
        print(&format!("Stack {} deleted", args.stack_name));
        Ok(())
    })
}

pub fn stacks(args: StacksArgs) -> Result<(), String> {
    block_on(async {
        let engine = args.remote.engine().await?;
        println!("{}", cli::stacks_table(&engine.stacks().await.map_err(|e| e.to_string())?));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_key_value_pairs() {
        let parsed = parse_overrides(&["Stage=prod".into(), "Empty=".into(), "Url=a=b".into()]).unwrap();
        assert_eq!(parsed["Stage"], "prod");
        assert_eq!(parsed["Empty"], "");
        assert_eq!(parsed["Url"], "a=b");
        assert!(parse_overrides(&["novalue".into()]).unwrap_err().contains("not K=V"));
        assert!(parse_overrides(&["=v".into()]).is_err());
    }
}
