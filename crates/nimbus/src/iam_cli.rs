//! `nimbus iam suggest-policy`: ask a running server what a principal was
//! allowed and denied, and print the smallest identity policy covering it.
//! A function is looked up by name: its environments act as the session
//! `assumed-role/{its role}/{function name}`, so exactly its calls count.

use clap::{Args, Subcommand};

use crate::server_client::{send, Request, ServerArgs};

#[derive(Args)]
pub struct IamArgs {
    #[command(subcommand)]
    command: IamCommand,
}

#[derive(Subcommand)]
enum IamCommand {
    /// Print the smallest policy covering what a function, role, user or session did.
    SuggestPolicy(SuggestArgs),
}

#[derive(Args)]
struct SuggestArgs {
    /// A function name (what its environments did), a role name or ARN (all
    /// its sessions), a user ARN, or one session's ARN.
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

/// The activity of the principal the argument names.
async fn fetch(args: &SuggestArgs) -> Result<Vec<u8>, String> {
    let principal = match args.principal.as_str() {
        arn if arn.starts_with("arn:") => arn.to_owned(),
        name => match function_session(args, name).await? {
            Some(session) => session,
            None => format!("arn:aws:iam::{}:role/{name}", args.account_id),
        },
    };
    let query =
        format!("principal={}", percent_encoding::utf8_percent_encode(&principal, percent_encoding::NON_ALPHANUMERIC));
    let (status, body) = signed_get(args, "iam", "/_nimbus/iam/activity", &query).await?;
    if status != 200 {
        return Err(format!("the server answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(body)
}

/// The role session of function `name`'s environments, if it is a function.
async fn function_session(args: &SuggestArgs, name: &str) -> Result<Option<String>, String> {
    let path = format!("/2015-03-31/functions/{name}/configuration");
    let (status, body) = signed_get(args, "lambda", &path, "").await?;
    if status != 200 {
        return Ok(None);
    }
    let config: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("the server's answer is not JSON: {e}"))?;
    let role = config["Role"].as_str().unwrap_or_default();
    let role_name = role.rsplit('/').next().unwrap_or_default();
    // Lambda names the session after the function (padded to STS's minimum of two).
    let session = if name.len() >= 2 { name.to_owned() } else { format!("{name}-lambda") };
    Ok(Some(format!("arn:aws:sts::{}:assumed-role/{role_name}/{session}", args.account_id)))
}

/// One signed GET: the status and the body.
async fn signed_get(args: &SuggestArgs, service: &str, path: &str, query: &str) -> Result<(u16, Vec<u8>), String> {
    send(&args.server, Request { method: "GET", path, query, service, headers: Vec::new(), body: b"" }).await
}
