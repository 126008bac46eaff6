//! GetMetricData: MetricStat queries and metric-math expressions, with
//! ReturnData, ScanBy and pagination by datapoints.

use std::collections::{BTreeSet, HashMap};

use nimbus_core::{AwsError, AwsRequest};
use serde_json::{json, Map, Value};

use super::{check_period, dimensions_arg, opt_str, req_str, unit_arg};
use crate::metrics::errors::{self, invalid_value};
use crate::metrics::math::{self, Env, Expr, MathValue, Series};
use crate::metrics::model::SeriesId;
use crate::metrics::stats::{parse_percentile, STATISTICS};
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

const MAX_QUERIES: usize = 500;

/// One returned series: id, label, points in scan order.
type Output = (String, String, Vec<(i64, f64)>);
const DEFAULT_MAX_DATAPOINTS: i64 = 100_800;

enum Source {
    Stat { series: SeriesId, period: i64, stat: String, unit: Option<String> },
    Expression(Expr),
}

struct Query {
    id: String,
    label: Option<String>,
    return_data: bool,
    /// An expression's own `Period` (alarms use it).
    period: Option<i64>,
    source: Source,
}

struct Results {
    values: HashMap<String, MathValue>,
    stats: Vec<(String, String, Series)>,
    grid: Vec<i64>,
    period: i64,
}

impl Env for Results {
    fn lookup(&self, id: &str) -> Option<MathValue> {
        self.values.get(id).cloned()
    }

    fn metrics(&self) -> Vec<(String, String, Series)> {
        self.stats.clone()
    }

    fn grid(&self) -> Vec<i64> {
        self.grid.clone()
    }

    fn period_seconds(&self) -> i64 {
        self.period
    }
}

impl MetricsService {
    pub(crate) fn get_metric_data(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let items = wire::opt_array(&body, "MetricDataQueries").map_err(invalid_value)?;
        if items.is_empty() {
            return Err(errors::missing("MetricDataQueries"));
        }
        if items.len() > MAX_QUERIES {
            return Err(invalid_value(format!(
                "The collection MetricDataQueries must not have a size greater than {MAX_QUERIES}."
            )));
        }
        let start = wire::opt_timestamp_ms(&body, "StartTime")
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing("StartTime"))?;
        let end = wire::opt_timestamp_ms(&body, "EndTime")
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing("EndTime"))?;
        if start >= end {
            return Err(invalid_value("The parameter StartTime must be less than the parameter EndTime."));
        }
        let descending = match opt_str(&body, "ScanBy")? {
            None | Some("TimestampDescending") => true,
            Some("TimestampAscending") => false,
            Some(other) => return Err(invalid_value(format!("The value {other} for parameter ScanBy is invalid."))),
        };
        let max_points =
            wire::opt_i64(&body, "MaxDatapoints").map_err(invalid_value)?.unwrap_or(DEFAULT_MAX_DATAPOINTS);
        if max_points < 1 {
            return Err(invalid_value("The parameter MaxDatapoints must be greater than 0."));
        }
        let offset = match opt_str(&body, "NextToken")? {
            None => 0,
            Some(token) => {
                token.strip_prefix("d/").and_then(|n| n.parse::<usize>().ok()).ok_or_else(errors::invalid_token)?
            }
        };
        request.authorize("cloudwatch:GetMetricData", "*")?;
        let queries = items.iter().enumerate().map(|(i, q)| parse_query(q, i + 1)).collect::<Result<Vec<_>, _>>()?;
        let mut ids = BTreeSet::new();
        for q in &queries {
            if !ids.insert(q.id.as_str()) {
                return Err(AwsError::new(
                    400,
                    "ValidationError",
                    format!("The value {} for parameter MetricDataQueries is not unique.", q.id),
                ));
            }
        }
        if !queries.iter().any(|q| q.return_data) {
            return Err(AwsError::new(400, "ValidationError", "No metric data query has ReturnData set to true."));
        }

        let results = self.evaluate(&queries, start, end)?;
        // Each returned query (an array expression gives several results),
        // its points in scan order; pages cut the concatenation.
        let mut outputs: Vec<Output> = Vec::new();
        let all_times: BTreeSet<i64> = results.stats.iter().flat_map(|(_, _, s)| s.keys().copied()).collect();
        for q in queries.iter().filter(|q| q.return_data) {
            let default_label = match &q.source {
                Source::Stat { series, .. } => series.name.clone(),
                Source::Expression(_) => q.id.clone(),
            };
            let label = q.label.clone().unwrap_or(default_label);
            let series_list = match results.values.get(&q.id) {
                Some(MathValue::Series(s)) => vec![s.clone()],
                Some(MathValue::Array(a)) => a.clone(),
                Some(MathValue::Scalar(v)) => vec![all_times.iter().map(|t| (*t, *v)).collect()],
                None => vec![Series::new()],
            };
            for series in series_list {
                let mut points: Vec<(i64, f64)> = series.into_iter().filter(|(_, v)| v.is_finite()).collect();
                if descending {
                    points.reverse();
                }
                outputs.push((q.id.clone(), label.clone(), points));
            }
        }
        let total: usize = outputs.iter().map(|o| o.2.len()).sum();
        let page_end = (offset + max_points as usize).min(total);
        let mut position = 0;
        let mut out_results = Vec::new();
        for (id, label, points) in outputs {
            let from = offset.saturating_sub(position).min(points.len());
            let to = page_end.saturating_sub(position).min(points.len());
            position += points.len();
            let slice = &points[from..to.max(from)];
            out_results.push(json!({
                "Id": id,
                "Label": label,
                "Timestamps": slice.iter().map(|(t, _)| wire::timestamp_value(*t)).collect::<Vec<_>>(),
                "Values": slice.iter().map(|(_, v)| json!(v)).collect::<Vec<_>>(),
                "StatusCode": "Complete",
            }));
        }
        let mut out = Map::new();
        out.insert("MetricDataResults".into(), Value::Array(out_results));
        out.insert("Messages".into(), Value::Array(vec![]));
        if page_end < total {
            out.insert("NextToken".into(), Value::from(format!("d/{page_end}")));
        }
        Ok(Value::Object(out))
    }

    /// MetricStat queries first, then expressions as their inputs resolve.
    fn evaluate(&self, queries: &[Query], start: i64, end: i64) -> Result<Results, AwsError> {
        // The finest MetricStat period sets the grid expressions see.
        let period = queries
            .iter()
            .filter_map(|q| match &q.source {
                Source::Stat { period, .. } => Some(*period),
                Source::Expression(_) => q.period,
            })
            .min()
            .unwrap_or(60);
        let period_ms = period * 1000;
        let first = start - start.rem_euclid(period_ms);
        let grid = (0..).map(|i| first + i * period_ms).take_while(|t| *t < end).take(100_800).collect();
        let mut results = Results { values: HashMap::new(), stats: Vec::new(), grid, period };
        for q in queries {
            if let Source::Stat { series, period, stat, unit } = &q.source {
                let mut points = Series::new();
                for mut bucket in self.aggregate(series, start, end, *period, unit.as_deref())? {
                    if let Some(v) = bucket.acc.stat(stat) {
                        points.insert(bucket.start_ms, v);
                    }
                }
                let label = q.label.clone().unwrap_or_else(|| series.name.clone());
                results.stats.push((q.id.clone(), label, points.clone()));
                results.values.insert(q.id.clone(), MathValue::Series(points));
            }
        }
        let mut pending: Vec<&Query> = queries.iter().filter(|q| matches!(q.source, Source::Expression(_))).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut waiting = Vec::new();
            for q in pending {
                let Source::Expression(expr) = &q.source else { continue };
                let mut refs = Vec::new();
                math::references(expr, &mut refs);
                if refs.iter().all(|r| results.values.contains_key(r) || !queries.iter().any(|o| &o.id == r)) {
                    let value = math::eval(expr, &results).map_err(|m| {
                        AwsError::new(400, "ValidationError", format!("Error in expression '{}': {m}", q.id))
                    })?;
                    results.values.insert(q.id.clone(), value);
                } else {
                    waiting.push(q);
                }
            }
            if waiting.len() == before {
                return Err(AwsError::new(400, "ValidationError", "Circular dependency between metric data queries."));
            }
            pending = waiting;
        }
        Ok(results)
    }
}

impl MetricsService {
    /// Check a metric-math alarm's `Metrics`: valid queries, exactly one
    /// returning data. Returns the alarm's period (seconds).
    pub(crate) fn alarm_queries_period(&self, items: &[Value]) -> Result<i64, AwsError> {
        let queries = items.iter().enumerate().map(|(i, q)| parse_query(q, i + 1)).collect::<Result<Vec<_>, _>>()?;
        let returned: Vec<&Query> = queries.iter().filter(|q| q.return_data).collect();
        let [result] = returned.as_slice() else {
            return Err(AwsError::new(
                400,
                "ValidationError",
                "Exactly one element of the metrics list should return data.",
            ));
        };
        let first_stat_period = queries.iter().find_map(|q| match &q.source {
            Source::Stat { period, .. } => Some(*period),
            Source::Expression(_) => None,
        });
        let period = match &result.source {
            Source::Stat { period, .. } => Some(*period),
            Source::Expression(_) => result.period.or(first_stat_period),
        };
        period.ok_or_else(|| AwsError::new(400, "ValidationError", "The metrics list needs a Period."))
    }

    /// A metric-math alarm's series over `[start, end)`: the values of its
    /// one query with ReturnData, by period start.
    pub(crate) fn alarm_queries_series(&self, items: &[Value], start: i64, end: i64) -> Result<Series, AwsError> {
        let queries = items.iter().enumerate().map(|(i, q)| parse_query(q, i + 1)).collect::<Result<Vec<_>, _>>()?;
        let results = self.evaluate(&queries, start, end)?;
        let returned = queries.iter().find(|q| q.return_data).map(|q| q.id.as_str()).unwrap_or_default();
        Ok(match results.values.get(returned) {
            Some(MathValue::Series(series)) => series.clone(),
            Some(MathValue::Array(array)) => array.first().cloned().unwrap_or_default(),
            _ => Series::new(),
        })
    }
}

fn parse_query(item: &Value, index: usize) -> Result<Query, AwsError> {
    let path = format!("MetricDataQueries.member.{index}");
    let Value::Object(item) = item else {
        return Err(invalid_value(format!("The parameter {path} is invalid.")));
    };
    let id = req_str(item, "Id", &format!("{path}.Id"))?.to_owned();
    let mut chars = id.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(AwsError::new(
            400,
            "ValidationError",
            format!("The value {id} for parameter {path}.Id is invalid: it must start with a lowercase letter and contain only letters, digits and underscores."),
        ));
    }
    let label = opt_str(item, "Label")?.map(str::to_owned);
    let return_data = wire::opt_bool(item, "ReturnData").map_err(invalid_value)?.unwrap_or(true);
    let expression = opt_str(item, "Expression")?;
    let source = match (item.get("MetricStat"), expression) {
        (Some(Value::Object(stat)), None) => parse_stat(stat, &format!("{path}.MetricStat"))?,
        (None, Some(text)) if text.len() > 2048 => {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("The parameter {path}.Expression must not be longer than 2048 characters."),
            ))
        }
        (None, Some(text)) => Source::Expression(math::parse(text).map_err(|m| {
            AwsError::new(400, "ValidationError", format!("Invalid metrics math expression '{text}': {m}"))
        })?),
        (Some(_), Some(_)) => {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("The parameters {path}.MetricStat and {path}.Expression are mutually exclusive."),
            ))
        }
        _ => {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("Either {path}.MetricStat or {path}.Expression must be specified."),
            ))
        }
    };
    let period = wire::opt_i64(item, "Period").map_err(invalid_value)?;
    Ok(Query { id, label, return_data, period, source })
}

fn parse_stat(stat: &Object, path: &str) -> Result<Source, AwsError> {
    let Some(Value::Object(metric)) = stat.get("Metric") else {
        return Err(errors::missing(&format!("{path}.Metric")));
    };
    let namespace = req_str(metric, "Namespace", &format!("{path}.Metric.Namespace"))?;
    let name = req_str(metric, "MetricName", &format!("{path}.Metric.MetricName"))?;
    let dims = dimensions_arg(metric, "Dimensions", &format!("{path}.Metric.Dimensions"))?;
    let period = wire::opt_i64(stat, "Period")
        .map_err(invalid_value)?
        .ok_or_else(|| errors::missing(&format!("{path}.Period")))?;
    check_period(period, &format!("{path}.Period"))?;
    let name_of_stat = req_str(stat, "Stat", &format!("{path}.Stat"))?.to_owned();
    if !STATISTICS.contains(&name_of_stat.as_str()) && parse_percentile(&name_of_stat).is_none() {
        return Err(invalid_value(format!("The value {name_of_stat} for parameter {path}.Stat is invalid.")));
    }
    let unit = unit_arg(stat, "Unit", &format!("{path}.Unit"))?;
    Ok(Source::Stat { series: SeriesId::new(namespace, name, dims), period, stat: name_of_stat, unit })
}
