//! Metrics API handlers, one file per operation group.

mod alarms;
mod dashboards;
mod data;
mod list;
mod put;
mod statistics;

use nimbus_core::AwsError;
use serde_json::Value;

use super::errors::{invalid_value, missing};
use crate::wire::{self, Object};

pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

pub(crate) fn req_str<'a>(body: &'a Object, field: &str, path: &str) -> Result<&'a str, AwsError> {
    match wire::opt_str(body, field).map_err(invalid_value)? {
        Some(s) => Ok(s),
        None => Err(missing(path)),
    }
}

pub(crate) fn opt_str<'a>(body: &'a Object, field: &str) -> Result<Option<&'a str>, AwsError> {
    wire::opt_str(body, field).map_err(invalid_value)
}

/// A unit from the standard set.
pub(crate) fn unit_arg(body: &Object, field: &str, path: &str) -> Result<Option<String>, AwsError> {
    match opt_str(body, field)? {
        None => Ok(None),
        Some(unit) if UNITS.contains(&unit) => Ok(Some(unit.to_owned())),
        Some(unit) => Err(invalid_value(format!("The value {unit} for parameter {path} is invalid."))),
    }
}

/// `[{Name, Value}]` dimensions, at most 30, names unique.
pub(crate) fn dimensions_arg(body: &Object, field: &str, path: &str) -> Result<Vec<(String, String)>, AwsError> {
    let items = wire::opt_array(body, field).map_err(invalid_value)?;
    if items.len() > 30 {
        return Err(invalid_value(format!("The collection {path} must not have a size greater than 30.")));
    }
    let mut dims: Vec<(String, String)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(invalid_value(format!("The parameter {path}.member.{} is invalid.", i + 1)));
        };
        let name = req_str(item, "Name", &format!("{path}.member.{}.Name", i + 1))?;
        let value = req_str(item, "Value", &format!("{path}.member.{}.Value", i + 1))?;
        if name.is_empty() || name.len() > 255 {
            return Err(invalid_value(format!(
                "The value {name} for parameter {path}.member.{}.Name is invalid.",
                i + 1
            )));
        }
        if value.is_empty() || value.len() > 1024 {
            return Err(invalid_value(format!("The parameter {path}.member.{}.Value must not be empty.", i + 1)));
        }
        if dims.iter().any(|(n, _)| n == name) {
            return Err(invalid_value(format!("No duplicate dimension names allowed: {name}")));
        }
        dims.push((name.to_owned(), value.to_owned()));
    }
    Ok(dims)
}

/// A period: 1, 5, 10, 30 or any multiple of 60 seconds.
pub(crate) fn check_period(period: i64, path: &str) -> Result<(), AwsError> {
    if period < 1 {
        return Err(invalid_value(format!("The parameter {path} must be greater than 0.")));
    }
    if period < 60 && ![1, 5, 10, 30].contains(&period) || period >= 60 && period % 60 != 0 {
        return Err(invalid_value(format!("The parameter {path} must be a multiple of 60.")));
    }
    Ok(())
}

pub(crate) fn dimensions_json(dims: &[(String, String)]) -> Value {
    Value::Array(dims.iter().map(|(n, v)| serde_json::json!({"Name": n, "Value": v})).collect())
}
