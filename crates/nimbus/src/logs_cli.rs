//! `nimbus logs <function> [--follow] [--since 10m]`: a function's log events
//! (group `/aws/lambda/<function>`, all streams interleaved in time order)
//! from a running Nimbus, through the CloudWatch Logs API (FilterLogEvents),
//! as `aws logs tail` would read them. `--follow` polls for new events.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use crate::server_client::{send, Request, ServerArgs};

const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Args)]
pub struct LogsArgs {
    /// The function's name.
    function: String,
    /// Keep printing new events as they arrive (Ctrl-C stops).
    #[arg(long, short)]
    follow: bool,
    /// Only events from this long ago on: `30s`, `10m`, `2h`, `1d`.
    #[arg(long, value_parser = parse_age)]
    since: Option<Duration>,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn run(args: LogsArgs) -> Result<(), String> {
    crate::server_client::runtime()?.block_on(print_events(&args))
}

async fn print_events(args: &LogsArgs) -> Result<(), String> {
    let group = format!("/aws/lambda/{}", args.function);
    let mut start = args.since.map(|age| nimbus_core::time::now_epoch_millis() as i64 - age.as_millis() as i64);
    // Events at the latest timestamp printed: the next poll starts at that
    // millisecond again and must not print them twice.
    let mut printed_at_start: HashSet<String> = HashSet::new();
    let mut out = std::io::stdout().lock();
    loop {
        let mut token: Option<String> = None;
        loop {
            let page = match filter(&args.server, &group, start, token.as_deref()).await? {
                Page::Events(page) => page,
                Page::NoGroup if args.follow => break,
                Page::NoGroup => {
                    return Err(format!("no logs for function {}: log group {group} does not exist", args.function))
                }
            };
            for event in page["events"].as_array().into_iter().flatten() {
                let (Some(ts), Some(id)) = (event["timestamp"].as_i64(), event["eventId"].as_str()) else { continue };
                if start == Some(ts) && printed_at_start.contains(id) {
                    continue;
                }
                if start != Some(ts) {
                    start = Some(ts);
                    printed_at_start.clear();
                }
                printed_at_start.insert(id.to_owned());
                let message = event["message"].as_str().unwrap_or("");
                let stamp = nimbus_core::time::format_iso8601_millis(ts);
                let newline = if message.ends_with('\n') { "" } else { "\n" };
                write!(out, "{stamp} {message}{newline}").map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())?;
            token = page["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

enum Page {
    Events(Value),
    NoGroup,
}

async fn filter(server: &ServerArgs, group: &str, start: Option<i64>, token: Option<&str>) -> Result<Page, String> {
    let mut body = json!({"logGroupName": group, "interleaved": true});
    if let Some(start) = start {
        body["startTime"] = start.into();
    }
    if let Some(token) = token {
        body["nextToken"] = token.into();
    }
    let body = body.to_string();
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        service: "logs",
        headers: vec![
            ("content-type", "application/x-amz-json-1.1".into()),
            ("x-amz-target", "Logs_20140328.FilterLogEvents".into()),
        ],
        body: body.as_bytes(),
    };
    let (status, reply) = send(server, request).await?;
    let value: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    match status {
        200 => Ok(Page::Events(value)),
        _ if value["__type"].as_str().is_some_and(|t| t.ends_with("ResourceNotFoundException")) => Ok(Page::NoGroup),
        _ => Err(format!("FilterLogEvents answered {status}: {}", String::from_utf8_lossy(&reply))),
    }
}

/// `30s`, `10m`, `2h`, `1d` (a bare number is seconds).
fn parse_age(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("expected a duration like 10m, not {text:?}"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_age("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_age("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_age("5w").is_err());
        assert!(parse_age("m").is_err());
    }
}
