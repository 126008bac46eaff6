//! `nimbus iam suggest-policy`: ask a running server what a principal was
//! allowed and denied, and print the smallest identity policy covering it.

use clap::{Args, Subcommand};

use crate::server_client::{send, Request, ServerArgs};

#[derive(Args)]
pub struct IamArgs {
    #[command(subcommand)]
    command: IamCommand,
}

#[derive(Subcommand)]
enum IamCommand {
    /// Print the smallest policy covering what a role, user or session did.
    SuggestPolicy(SuggestArgs),
}

#[derive(Args)]
struct SuggestArgs {
    /// A role name or ARN (all its sessions, e.g. a function's environments),
    /// a user ARN, or one session's ARN.
    principal: String,
    /// The server and its root credentials (only root may read activity).
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long, default_value = nimbus_core::DEFAULT_ACCOUNT_ID, env = "NIMBUS_ACCOUNT_ID")]
    account_id: String,
    /// Also print each recorded action and resource with its counts.
    #[arg(long)]
    activity: bool,
}

pub fn run(args: IamArgs) -> Result<(), String> {
    let IamCommand::SuggestPolicy(args) = args.command;
    let body = crate::server_client::runtime()?.block_on(fetch(&args))?;
    let reply: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("the server's answer is not JSON: {e}"))?;
    if args.activity {
        for entry in reply["activity"].as_array().into_iter().flatten() {
            eprintln!(
                "{:<40} {:<70} allowed {:>5}  denied {:>5}",
                entry["action"].as_str().unwrap_or(""),
                entry["resource"].as_str().unwrap_or(""),
                entry["allowed"],
                entry["denied"]
            );
        }
    }
    let policy = serde_json::to_string_pretty(&reply["suggested_policy"]).map_err(|e| e.to_string())?;
    println!("{policy}");
    Ok(())
}

/// One signed GET of `/_nimbus/iam/activity`.
async fn fetch(args: &SuggestArgs) -> Result<Vec<u8>, String> {
    let principal = if args.principal.starts_with("arn:") {
        args.principal.clone()
    } else {
        format!("arn:aws:iam::{}:role/{}", args.account_id, args.principal)
    };
    let query =
        format!("principal={}", percent_encoding::utf8_percent_encode(&principal, percent_encoding::NON_ALPHANUMERIC));
    let request = Request {
        method: "GET",
        path: "/_nimbus/iam/activity",
        query: &query,
        service: "iam",
        headers: Vec::new(),
        body: b"",
    };
    let (status, body) = send(&args.server, request).await?;
    if status != 200 {
        return Err(format!("the server answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(body)
}
