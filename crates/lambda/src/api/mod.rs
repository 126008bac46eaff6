//! The restJson API: one module per group of operations, routed here by
//! method and path.

mod concurrency;
mod event_config;
pub mod event_source_mappings;
mod functions;
mod invoke;
mod policy;
mod usage;
mod versions;

pub use usage::USAGE_PATH;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::engine::Engine;

/// Path prefix under which `Code.Location` downloads are served.
pub const CODE_PATH: &str = "/_nimbus/lambda/code/";

pub async fn handle(engine: &Arc<Engine>, request: AwsRequest) -> Result<AwsResponse, AwsError> {
    let path = request.uri.path().to_owned();
    if let Some(file) = path.strip_prefix(CODE_PATH) {
        return functions::download_code(engine, &request, file).await;
    }
    if path == USAGE_PATH && request.method == Method::GET {
        return usage::usage(engine, &request).await;
    }
    let segments: Vec<String> =
        path.trim_matches('/').split('/').map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method.clone();
    match (&method, segs.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions"]) => functions::create(engine, &request).await,
        (&Method::GET, ["2015-03-31", "functions"]) => functions::list(engine, &request),
        (&Method::GET, ["2015-03-31", "functions", name]) => functions::get(engine, &request, name),
        (&Method::DELETE, ["2015-03-31", "functions", name]) => functions::delete(engine, &request, name).await,
        (&Method::GET, ["2015-03-31", "functions", name, "configuration"]) => {
            functions::get_configuration(engine, &request, name)
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "configuration"]) => {
            functions::update_configuration(engine, &request, name).await
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "code"]) => {
            functions::update_code(engine, &request, name).await
        }
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            invoke::invoke(engine, &request, name).await
        }
        (&Method::POST, ["2015-03-31", "functions", name, "versions"]) => {
            versions::publish(engine, &request, name).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "versions"]) => {
            versions::list_versions(engine, &request, name)
        }
        (&Method::POST, ["2015-03-31", "functions", name, "aliases"]) => {
            versions::create_alias(engine, &request, name).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "aliases"]) => versions::list_aliases(engine, &request, name),
        (&Method::GET, ["2015-03-31", "functions", name, "aliases", alias]) => {
            versions::get_alias(engine, &request, name, alias)
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "aliases", alias]) => {
            versions::update_alias(engine, &request, name, alias).await
        }
        (&Method::DELETE, ["2015-03-31", "functions", name, "aliases", alias]) => {
            versions::delete_alias(engine, &request, name, alias).await
        }
        (&Method::PUT, ["2017-10-31", "functions", name, "concurrency"]) => {
            concurrency::put(engine, &request, name).await
        }
        (&Method::GET, ["2019-09-30", "functions", name, "concurrency"]) => concurrency::get(engine, &request, name),
        (&Method::DELETE, ["2017-10-31", "functions", name, "concurrency"]) => {
            concurrency::delete(engine, &request, name).await
        }
        (&Method::PUT, ["2019-09-30", "functions", name, "provisioned-concurrency"]) => {
            concurrency::put_provisioned(engine, &request, name).await
        }
        (&Method::GET, ["2019-09-30", "functions", name, "provisioned-concurrency"]) => {
            concurrency::get_provisioned(engine, &request, name)
        }
        (&Method::DELETE, ["2019-09-30", "functions", name, "provisioned-concurrency"]) => {
            concurrency::delete_provisioned(engine, &request, name).await
        }
        (&Method::POST, ["2015-03-31", "functions", name, "policy"]) => {
            policy::add_permission(engine, &request, name).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "policy"]) => policy::get_policy(engine, &request, name),
        (&Method::DELETE, ["2015-03-31", "functions", name, "policy", sid]) => {
            policy::remove_permission(engine, &request, name, sid).await
        }
        (&Method::GET, ["2017-03-31", "tags", arn]) => policy::list_tags(engine, &request, arn),
        (&Method::POST, ["2017-03-31", "tags", arn]) => policy::tag_resource(engine, &request, arn).await,
        (&Method::DELETE, ["2017-03-31", "tags", arn]) => policy::untag_resource(engine, &request, arn).await,
        (&Method::PUT, ["2019-09-25", "functions", name, "event-invoke-config"]) => {
            event_config::put(engine, &request, name, true).await
        }
        (&Method::POST, ["2019-09-25", "functions", name, "event-invoke-config"]) => {
            event_config::put(engine, &request, name, false).await
        }
        (&Method::GET, ["2019-09-25", "functions", name, "event-invoke-config"]) => {
            event_config::get(engine, &request, name)
        }
        (&Method::DELETE, ["2019-09-25", "functions", name, "event-invoke-config"]) => {
            event_config::delete(engine, &request, name).await
        }
        (&Method::GET, ["2019-09-25", "functions", name, "event-invoke-config", "list"]) => {
            event_config::list(engine, &request, name)
        }
        (&Method::GET, ["2016-08-19", "account-settings"]) => concurrency::account_settings(engine, &request),
        _ => Err(AwsError::new(
            404,
            "UnknownOperationException",
            format!("Nimbus Lambda does not implement {method} {path}"),
        )),
    }
}

pub fn json_response(status: u16, body: &Value) -> AwsResponse {
    let mut response = http::Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

pub fn empty_response(status: u16) -> AwsResponse {
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    response
}

/// The JSON body of a request (an empty body is `{}`).
pub fn body_json(request: &AwsRequest) -> Result<Value, AwsError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(&request.body).map_err(|e| {
        AwsError::new(400, "InvalidRequestContentException", format!("Could not parse request body into json: {e}"))
    })?;
    if !value.is_object() {
        return Err(AwsError::new(400, "InvalidRequestContentException", "Could not parse request body into json"));
    }
    Ok(value)
}

/// A query-string parameter, percent-decoded.
pub fn query_param(request: &AwsRequest, name: &str) -> Option<String> {
    request.uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(k).decode_utf8_lossy() == name)
            .then(|| percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
    })
}

/// Every value of a repeated query-string parameter, percent-decoded.
pub fn query_params(request: &AwsRequest, name: &str) -> Vec<String> {
    let Some(query) = request.uri.query() else { return Vec::new() };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode_str(k).decode_utf8_lossy() == name)
                .then(|| percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
        })
        .collect()
}

/// A function reference as the API accepts it (`name`, `name:qualifier`,
/// `123456789012:function:name`, or a full ARN) split into name and qualifier.
pub fn parse_function_ref(text: &str) -> Result<(String, Option<String>), AwsError> {
    let rest = match text.find("function:") {
        Some(i) if text.starts_with("arn:") || text.as_bytes().first().is_some_and(u8::is_ascii_digit) => {
            &text[i + "function:".len()..]
        }
        _ => text,
    };
    let (name, qualifier) = match rest.split_once(':') {
        Some((n, q)) => (n, Some(q.to_owned())),
        None => (rest, None),
    };
    if !crate::util::is_name(name) || text.len() > 256 || qualifier.as_deref().is_some_and(|q| !is_qualifier(q)) {
        let mut v = crate::util::Violations::default();
        v.add(
            text,
            "functionName",
            "must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        );
        v.into_result()?;
    }
    Ok((name.to_owned(), qualifier))
}

fn is_qualifier(q: &str) -> bool {
    q == "$LATEST" || crate::util::is_name(q)
}

/// The qualifier of a request: from the name, or the `Qualifier` parameter.
pub fn qualifier(request: &AwsRequest, from_name: Option<String>) -> Result<Option<String>, AwsError> {
    let param = query_param(request, "Qualifier");
    match (from_name, param) {
        (Some(a), Some(b)) if a != b => Err(AwsError::new(
            400,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// What a (possibly qualified) reference runs: `$LATEST`, a published
/// version, or an alias's version (drawn by its weights when `pick`).
pub fn resolve(
    engine: &Engine,
    name: &str,
    qualifier: Option<&str>,
    pick: bool,
) -> Result<crate::model::FunctionRecord, AwsError> {
    let missing = |q: &str| {
        AwsError::new(
            404,
            "ResourceNotFoundException",
            format!("Function not found: {}:{q}", crate::model::function_arn(&engine.ctx, name)),
        )
    };
    let latest = engine.functions.get(name)?.ok_or_else(|| crate::model::not_found(&engine.ctx, name))?;
    let version = match qualifier {
        None | Some("$LATEST") => return Ok(latest),
        Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => q.to_owned(),
        Some(alias) => {
            let record = engine.functions.get_alias(name, alias)?.ok_or_else(|| missing(alias))?;
            if pick {
                record.pick_version()
            } else {
                record.function_version
            }
        }
    };
    if version == "$LATEST" {
        return Ok(latest);
    }
    let n: u64 = version.parse().map_err(|_| missing(&version))?;
    engine.functions.get_version(name, n)?.ok_or_else(|| missing(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_refs() {
        assert_eq!(parse_function_ref("f").unwrap(), ("f".into(), None));
        assert_eq!(parse_function_ref("f:$LATEST").unwrap(), ("f".into(), Some("$LATEST".into())));
        assert_eq!(
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:my-fn:prod").unwrap(),
            ("my-fn".into(), Some("prod".into()))
        );
        assert_eq!(parse_function_ref("000000000000:function:g").unwrap(), ("g".into(), None));
        assert!(parse_function_ref("bad name").is_err());
    }
}
