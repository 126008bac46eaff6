//! `nimbus iam suggest-policy`: ask a running server what a principal was
//! allowed and denied, and print the smallest identity policy covering it.
//! A function is looked up by name: its environments act as the session
//! `assumed-role/{its role}/{function name}`, so exactly its calls count.

use clap::{Args, Subcommand};
use http::{HeaderMap, HeaderValue};
use nimbus_iam::sigv4::Signer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    /// The server to ask.
    #[arg(long, default_value = "http://127.0.0.1:4566", env = "AWS_ENDPOINT_URL")]
    endpoint: String,
    #[arg(long, default_value = "us-east-1", env = "NIMBUS_REGION")]
    region: String,
    #[arg(long, default_value = nimbus_core::DEFAULT_ACCOUNT_ID, env = "NIMBUS_ACCOUNT_ID")]
    account_id: String,
    /// Root credentials of the server (only root may read activity).
    #[arg(long, default_value = "test", env = "NIMBUS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, default_value = "test", env = "NIMBUS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// Also print each recorded action and resource with its counts.
    #[arg(long)]
    activity: bool,
}

pub fn run(args: IamArgs) -> Result<(), String> {
    let IamCommand::SuggestPolicy(args) = args.command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let body = runtime.block_on(fetch(&args))?;
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
    if status != "200" {
        return Err(format!("the server answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(body)
}

/// The role session of function `name`'s environments, if it is a function.
async fn function_session(args: &SuggestArgs, name: &str) -> Result<Option<String>, String> {
    let path = format!("/2015-03-31/functions/{name}/configuration");
    let (status, body) = signed_get(args, "lambda", &path, "").await?;
    if status != "200" {
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

/// One signed GET over plain HTTP/1.1: the status and the body.
async fn signed_get(args: &SuggestArgs, service: &str, path: &str, query: &str) -> Result<(String, Vec<u8>), String> {
    let host = args
        .endpoint
        .strip_prefix("http://")
        .ok_or("only http:// endpoints are supported")?
        .trim_end_matches('/')
        .to_owned();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(&host).map_err(|e| e.to_string())?);
    let signer = Signer::new(&args.access_key_id, &args.secret_access_key, &args.region, service);
    let now = nimbus_core::time::now_epoch_seconds();
    let signed: String =
        signer.sign("GET", path, query, &headers, b"", now).into_iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();

    let mut stream =
        tokio::net::TcpStream::connect(&host).await.map_err(|e| format!("cannot reach {}: {e}", args.endpoint))?;
    let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let wire = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{signed}Connection: close\r\n\r\n");
    stream.write_all(wire.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.map_err(|e| e.to_string())?;
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").ok_or("malformed HTTP reply")?;
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let body = reply[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Ok((status, dechunk(&body)));
    }
    Ok((status, body))
}

/// Decode a chunked HTTP/1.1 body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        body = &body[line_end + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}
