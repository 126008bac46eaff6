//! PutMetricData: Value, Values+Counts or StatisticValues per datum.

use nimbus_core::{AwsError, AwsRequest};
use serde_json::{json, Value};

use super::{dimensions_arg, req_str, unit_arg};
use crate::metrics::errors::{self, invalid_combination, invalid_value};
use crate::metrics::model::{Point, SeriesId, StatSet};
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

const MAX_DATA: usize = 1000;
const MAX_VALUES: usize = 150;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;
const TWO_HOURS_MS: i64 = 2 * 3_600_000;

impl MetricsService {
    pub(crate) async fn put_metric_data(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let namespace = req_str(&body, "Namespace", "Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with("AWS/") || namespace.starts_with(':')
        {
            return Err(invalid_value(format!("The value {namespace} for parameter Namespace is invalid.")));
        }
        request.authorize("cloudwatch:PutMetricData", "*")?;
        let data = wire::opt_array(&body, "MetricData").map_err(invalid_value)?;
        if data.is_empty() {
            return Err(errors::missing("MetricData"));
        }
        if data.len() > MAX_DATA {
            return Err(invalid_value(format!(
                "The collection MetricData must not have a size greater than {MAX_DATA}."
            )));
        }
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let mut points = Vec::with_capacity(data.len());
        for (i, datum) in data.iter().enumerate() {
            let path = format!("MetricData.member.{}", i + 1);
            let Value::Object(datum) = datum else {
                return Err(invalid_value(format!("The parameter {path} is invalid.")));
            };
            points.push(parse_datum(namespace, datum, &path, now)?);
        }
        self.ingest.store_points(points).await.map_err(errors::store)?;
        self.alarm_wake.notify_one();
        Ok(json!({}))
    }
}

fn parse_datum(namespace: &str, datum: &Object, path: &str, now: i64) -> Result<(SeriesId, i64, Point), AwsError> {
    let name = req_str(datum, "MetricName", &format!("{path}.MetricName"))?;
    if name.is_empty() || name.len() > 255 {
        return Err(invalid_value(format!("The value {name} for parameter {path}.MetricName is invalid.")));
    }
    let dims = dimensions_arg(datum, "Dimensions", &format!("{path}.Dimensions"))?;
    let unit = unit_arg(datum, "Unit", &format!("{path}.Unit"))?.unwrap_or_else(|| "None".into());
    let timestamp = wire::opt_timestamp_ms(datum, "Timestamp").map_err(invalid_value)?.unwrap_or(now);
    if timestamp < now - TWO_WEEKS_MS {
        return Err(invalid_value(format!(
            "The parameter {path}.Timestamp must specify a time no more than two weeks in the past."
        )));
    }
    if timestamp > now + TWO_HOURS_MS {
        return Err(invalid_value(format!(
            "The parameter {path}.Timestamp must specify a time no more than two hours in the future."
        )));
    }
    if let Some(resolution) = wire::opt_i64(datum, "StorageResolution").map_err(invalid_value)? {
        if resolution != 1 && resolution != 60 {
            return Err(invalid_value(format!(
                "The value {resolution} for parameter {path}.StorageResolution is invalid."
            )));
        }
    }
    let value = wire::opt_f64(datum, "Value").map_err(invalid_value)?;
    let values = numbers(datum, "Values", &format!("{path}.Values"))?;
    let counts = numbers(datum, "Counts", &format!("{path}.Counts"))?;
    let stats = match datum.get("StatisticValues") {
        None | Some(Value::Null) => None,
        Some(Value::Object(set)) => Some(statistic_set(set, &format!("{path}.StatisticValues"))?),
        Some(_) => return Err(invalid_value(format!("The parameter {path}.StatisticValues is invalid."))),
    };
    let given: Vec<&str> =
        [("Value", value.is_some()), ("StatisticValues", stats.is_some()), ("Values", !values.is_empty())]
            .iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| *name)
            .collect();
    if given.len() > 1 {
        return Err(invalid_combination(format!(
            "The parameters {path}.{} and {path}.{} are mutually exclusive and you have specified both.",
            given[0], given[1]
        )));
    }
    let point = if let Some(v) = value {
        check_value(v, &format!("{path}.Value"))?;
        Point { unit, values: vec![(v, 1.0)], stats: None }
    } else if let Some(set) = stats {
        Point { unit, values: vec![], stats: Some(set) }
    } else if !values.is_empty() {
        if values.len() > MAX_VALUES {
            return Err(invalid_value(format!(
                "The collection {path}.Values must not have a size greater than {MAX_VALUES}."
            )));
        }
        if !counts.is_empty() && counts.len() != values.len() {
            return Err(invalid_value(format!(
                "The parameters {path}.Values and {path}.Counts must be of the same size."
            )));
        }
        let mut pairs = Vec::with_capacity(values.len());
        for (j, v) in values.iter().enumerate() {
            check_value(*v, &format!("{path}.Values.member.{}", j + 1))?;
            let count = counts.get(j).copied().unwrap_or(1.0);
            if !count.is_finite() || count < 0.0 {
                return Err(invalid_value(format!(
                    "The value {count} for parameter {path}.Counts.member.{} is invalid.",
                    j + 1
                )));
            }
            pairs.push((*v, count));
        }
        Point { unit, values: pairs, stats: None }
    } else {
        return Err(invalid_combination(format!(
            "At least one of the parameters {path}.Value, {path}.StatisticValues or {path}.Values must be specified."
        )));
    };
    Ok((SeriesId::new(namespace, name, dims), timestamp, point))
}

fn numbers(datum: &Object, field: &str, path: &str) -> Result<Vec<f64>, AwsError> {
    wire::opt_array(datum, field)
        .map_err(invalid_value)?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Number(n) => {
                n.as_f64().ok_or_else(|| invalid_value(format!("The parameter {path}.member.{} is invalid.", i + 1)))
            }
            _ => Err(invalid_value(format!("The value {v} for parameter {path}.member.{} is invalid.", i + 1))),
        })
        .collect()
}

fn statistic_set(set: &Object, path: &str) -> Result<StatSet, AwsError> {
    let get = |field: &str| -> Result<f64, AwsError> {
        let value = wire::opt_f64(set, field)
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing(&format!("{path}.{field}")))?;
        check_value(value, &format!("{path}.{field}"))?;
        Ok(value)
    };
    let stats = StatSet { n: get("SampleCount")?, sum: get("Sum")?, min: get("Minimum")?, max: get("Maximum")? };
    if stats.n <= 0.0 {
        return Err(invalid_value(format!("The parameter {path}.SampleCount must be greater than 0.")));
    }
    if stats.min > stats.max {
        return Err(invalid_value(format!("The parameter {path}.Minimum must not be greater than {path}.Maximum.")));
    }
    Ok(stats)
}

/// CloudWatch rejects NaN, infinities, and magnitudes beyond 2^360 (or
/// non-zero ones below 2^-260).
fn check_value(value: f64, path: &str) -> Result<(), AwsError> {
    let magnitude = value.abs();
    if !value.is_finite() || magnitude > 2f64.powi(360) || (magnitude != 0.0 && magnitude < 2f64.powi(-260)) {
        let shown = if value.is_nan() { "NaN".to_owned() } else { value.to_string() };
        return Err(invalid_value(format!("The value {shown} for parameter {path} is invalid.")));
    }
    Ok(())
}
