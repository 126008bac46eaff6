//! `GET /_nimbus/lambda/usage[?since=<epoch ms>]` (root only): what functions
//! used, per function and in total (requests, cold starts, errors, billed
//! ms, GB-seconds) and what Lambda would bill for it at AWS's published x86
//! prices. Not an AWS API: Nimbus's own metering read-out.

use std::sync::Arc;

use bytes::Bytes;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use serde_json::json;

use crate::engine::Engine;
use crate::usage::{summarize, PRICE_PER_GB_SECOND, PRICE_PER_REQUEST};

pub const USAGE_PATH: &str = "/_nimbus/lambda/usage";

pub async fn usage(engine: &Arc<Engine>, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
    if !request.principal.is_root() {
        return Err(AwsError::new(403, "AccessDeniedException", "Only the account root may read usage."));
    }
    let since = match super::query_param(request, "since") {
        None => 0,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| AwsError::validation(format!("since must be epoch milliseconds, not {text:?}")))?,
    };
    // Records are batched to the store once a second: write what is pending
    // so the answer includes the latest invocations.
    engine.usage.flush(engine.store.as_ref()).await;
    let (per_function, total) = summarize(engine.store.as_ref(), since).map_err(crate::util::internal)?;
    let functions: Vec<serde_json::Value> = per_function
        .into_iter()
        .map(|(name, totals)| {
            let mut entry = serde_json::to_value(totals).unwrap_or_default();
            entry["function"] = name.into();
            entry
        })
        .collect();
    let body = json!({
        "since": since,
        "functions": functions,
        "total": total,
        "prices": {"architecture": "x86_64", "per_request_usd": PRICE_PER_REQUEST, "per_gb_second_usd": PRICE_PER_GB_SECOND},
    });
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap_or_default())
}
