//! Logs API handlers, one file per group of operations.

mod events;
mod groups;
mod metric_filters;
mod streams;
mod tags;

use nimbus_core::AwsError;
use serde_json::Value;

use super::errors::invalid;
use crate::wire::{self, Object};

/// Log group names: 1–512 of `[\.\-_/#A-Za-z0-9]`.
pub(crate) fn valid_group_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 512 {
        return Err(invalid(wire::constraint(
            &Value::from(name),
            "logGroupName",
            "Member must have length between 1 and 512",
        )));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b)) {
        return Err(invalid(wire::constraint(
            &Value::from(name),
            "logGroupName",
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        )));
    }
    Ok(())
}

/// Log stream names: 1–512 characters, no `:` or `*`.
pub(crate) fn valid_stream_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty() || name.len() > 512 {
        return Err(invalid(wire::constraint(
            &Value::from(name),
            "logStreamName",
            "Member must have length between 1 and 512",
        )));
    }
    if name.contains([':', '*']) {
        return Err(invalid(wire::constraint(
            &Value::from(name),
            "logStreamName",
            "Member must satisfy regular expression pattern: [^:*]*",
        )));
    }
    Ok(())
}

/// The log group a request names, by `logGroupName` or `logGroupIdentifier`
/// (a name or an ARN, with or without the trailing `:*`).
pub(crate) fn group_name(body: &Object) -> Result<String, AwsError> {
    let name = wire::opt_str(body, "logGroupName").map_err(invalid)?;
    let identifier = wire::opt_str(body, "logGroupIdentifier").map_err(invalid)?;
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")),
        (Some(name), None) => Ok(name.to_owned()),
        (None, Some(identifier)) => Ok(group_from_identifier(identifier).to_owned()),
        (None, None) => Err(invalid("Either parameter logGroupName or logGroupIdentifier is required.")),
    }
}

/// `arn:aws:logs:r:a:log-group:NAME[:*]` → `NAME`; a plain name stays itself.
pub(crate) fn group_from_identifier(identifier: &str) -> &str {
    match identifier.split_once(":log-group:") {
        Some((_, rest)) if identifier.starts_with("arn:") => rest.strip_suffix(":*").unwrap_or(rest),
        _ => identifier,
    }
}

pub(crate) fn str_arg<'a>(body: &'a Object, field: &str) -> Result<&'a str, AwsError> {
    wire::req_str(body, field).map_err(invalid)
}

/// `limit` within `1..=max`, or `default`.
pub(crate) fn limit_arg(body: &Object, max: i64, default: usize) -> Result<usize, AwsError> {
    match wire::opt_i64(body, "limit").map_err(invalid)? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => {
            let rule = if n < 1 {
                "Member must have value greater than or equal to 1".to_owned()
            } else {
                format!("Member must have value less than or equal to {max}")
            };
            Err(invalid(wire::constraint(&Value::from(n), "limit", &rule)))
        }
    }
}

pub(crate) use groups::txn_error;

/// The required `logGroupName` member as an owned name.
pub(crate) fn group_name_arg(body: &Object) -> Result<String, AwsError> {
    Ok(str_arg(body, "logGroupName")?.to_owned())
}
