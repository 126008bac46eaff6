//! GetMetricStatistics, and the per-period aggregation GetMetricData shares.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, AwsRequest};
use serde_json::{json, Map, Value};

use super::{check_period, dimensions_arg, req_str, unit_arg};
use crate::metrics::errors::{self, invalid_combination, invalid_value};
use crate::metrics::model::{self, SeriesId};
use crate::metrics::stats::{parse_percentile, Acc, STATISTICS};
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

const MAX_DATAPOINTS: i64 = 1440;

/// One period's aggregate.
pub(crate) struct Bucket {
    pub start_ms: i64,
    pub acc: Acc,
    pub unit: String,
}

impl MetricsService {
    pub(crate) fn get_metric_statistics(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let namespace = req_str(&body, "Namespace", "Namespace")?;
        let name = req_str(&body, "MetricName", "MetricName")?;
        let dims = dimensions_arg(&body, "Dimensions", "Dimensions")?;
        let start = wire::opt_timestamp_ms(&body, "StartTime")
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing("StartTime"))?;
        let end = wire::opt_timestamp_ms(&body, "EndTime")
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing("EndTime"))?;
        let period = wire::opt_i64(&body, "Period").map_err(invalid_value)?.ok_or_else(|| errors::missing("Period"))?;
        check_period(period, "Period")?;
        let unit = unit_arg(&body, "Unit", "Unit")?;
        let statistics = strings(&body, "Statistics")?;
        let extended = strings(&body, "ExtendedStatistics")?;
        request.authorize("cloudwatch:GetMetricStatistics", "*")?;
        if statistics.is_empty() && extended.is_empty() {
            return Err(invalid_combination("Must specify either Statistics or ExtendedStatistics, but not both."));
        }
        for (i, stat) in statistics.iter().enumerate() {
            if !STATISTICS.contains(&stat.as_str()) {
                return Err(invalid_value(format!(
                    "The value {stat} for parameter Statistics.member.{} is invalid.",
                    i + 1
                )));
            }
        }
        for stat in &extended {
            if parse_percentile(stat).is_none() {
                return Err(invalid_value(format!(
                    "The value {stat} for parameter ExtendedStatistics is not supported."
                )));
            }
        }
        if start >= end {
            return Err(invalid_value("The parameter StartTime must be less than the parameter EndTime."));
        }
        let requested = (end - start + period * 1000 - 1) / (period * 1000);
        if requested > MAX_DATAPOINTS {
            return Err(invalid_combination(format!(
                "You have requested up to {requested} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )));
        }
        let series = SeriesId::new(namespace, name, dims);
        let buckets = self.aggregate(&series, start, end, period, unit.as_deref())?;
        let datapoints: Vec<Value> = buckets
            .into_iter()
            .map(|mut bucket| {
                let mut point = Map::new();
                point.insert("Timestamp".into(), wire::timestamp_value(bucket.start_ms));
                for stat in &statistics {
                    if let Some(v) = bucket.acc.stat(stat) {
                        point.insert(stat.clone(), json!(v));
                    }
                }
                if !extended.is_empty() {
                    let values: Map<String, Value> =
                        extended.iter().filter_map(|p| bucket.acc.stat(p).map(|v| (p.clone(), json!(v)))).collect();
                    point.insert("ExtendedStatistics".into(), Value::Object(values));
                }
                point.insert("Unit".into(), Value::from(bucket.unit));
                Value::Object(point)
            })
            .collect();
        Ok(json!({"Label": name, "Datapoints": datapoints}))
    }

    /// Aggregate a series' points in `[start, end)` into periods aligned to
    /// multiples of `period` seconds; only periods with data are returned.
    pub(crate) fn aggregate(
        &self,
        series: &SeriesId,
        start: i64,
        end: i64,
        period: i64,
        unit: Option<&str>,
    ) -> Result<Vec<Bucket>, AwsError> {
        let period_ms = period * 1000;
        let aligned = start - start.rem_euclid(period_ms);
        let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
        model::scan_points(self.store.as_ref(), &series.key(), start, end, &mut |ts, point| {
            if unit.is_some_and(|u| u != point.unit) {
                return;
            }
            let bucket_start = aligned + (ts - aligned).div_euclid(period_ms) * period_ms;
            let bucket = buckets.entry(bucket_start).or_insert_with(|| Bucket {
                start_ms: bucket_start,
                acc: Acc::new(),
                unit: point.unit.clone(),
            });
            bucket.acc.add(&point);
        })
        .map_err(errors::store)?;
        Ok(buckets.into_values().collect())
    }
}

fn strings(body: &Object, field: &str) -> Result<Vec<String>, AwsError> {
    wire::opt_array(body, field)
        .map_err(invalid_value)?
        .iter()
        .map(|v| {
            v.as_str().map(str::to_owned).ok_or_else(|| invalid_value(format!("The parameter {field} is invalid.")))
        })
        .collect()
}
