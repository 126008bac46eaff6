//! PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter,
//! TestMetricFilter, and publishing: each appended event that matches a
//! group's filter becomes a metric datum through the `MetricSink`.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, AwsRequest, MetricDatum};
use nimbus_store::{transact, KeyWriter, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::groups::txn_error;
use super::limit_arg;
use crate::logs::errors::{self, invalid};
use crate::logs::filter::Pattern;
use crate::logs::model::{self, MetricFilterRecord, Transformation};
use crate::logs::LogsService;
use crate::wire::{self, Object};

/// Metric filters a log group may have.
const MAX_FILTERS: usize = 100;

impl LogsService {
    pub(crate) async fn put_metric_filter(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        let name = super::str_arg(&body, "filterName")?.to_owned();
        request.authorize("logs:PutMetricFilter", &self.group_arn(&group))?;
        if name.is_empty() || name.len() > 512 || name.contains([':', '*']) {
            return Err(invalid(wire::constraint(
                &Value::from(name),
                "filterName",
                "Member must satisfy regular expression pattern: [^:*]*",
            )));
        }
        let pattern = super::str_arg(&body, "filterPattern")?.to_owned();
        if pattern.len() > 1024 {
            return Err(invalid(wire::constraint(
                &Value::from(pattern),
                "filterPattern",
                "Member must have length less than or equal to 1024",
            )));
        }
        Pattern::parse(&pattern).map_err(invalid)?;
        let items = wire::opt_array(&body, "metricTransformations").map_err(invalid)?;
        if items.len() != 1 {
            return Err(invalid(wire::constraint(
                &Value::from(format!("[{} transformations]", items.len())),
                "metricTransformations",
                "Member must have length less than or equal to 1 and greater than or equal to 1",
            )));
        }
        let transformations = items.iter().map(parse_transformation).collect::<Result<Vec<_>, _>>()?;
        let record = MetricFilterRecord {
            name: name.clone(),
            pattern,
            transformations,
            creation_time: nimbus_core::time::now_epoch_millis() as i64,
        };
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &group)?.is_none() {
                return Err(TxnError::Aborted(errors::group_not_found()));
            }
            let existing = model::list_metric_filters(view, &group, "")?;
            if !existing.iter().any(|f| f.name == name) && existing.len() >= MAX_FILTERS {
                return Err(TxnError::Aborted(AwsError::new(
                    400,
                    "LimitExceededException",
                    "Resource limit exceeded.",
                )));
            }
            let mut batch = WriteBatch::new();
            batch.put(model::METRIC_FILTERS, model::metric_filter_key(&group, &name), model::encode(&record));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        Ok(json!({}))
    }

    pub(crate) fn describe_metric_filters(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = wire::opt_str(&body, "logGroupName").map_err(invalid)?;
        let prefix = wire::opt_str(&body, "filterNamePrefix").map_err(invalid)?.unwrap_or("");
        if group.is_none() && !prefix.is_empty() {
            return Err(invalid("You must specify a log group name when you specify a filter name prefix."));
        }
        let metric_name = wire::opt_str(&body, "metricName").map_err(invalid)?;
        let metric_namespace = wire::opt_str(&body, "metricNamespace").map_err(invalid)?;
        if metric_name.is_some() != metric_namespace.is_some() {
            return Err(invalid("metricName and metricNamespace must be specified together."));
        }
        request.authorize("logs:DescribeMetricFilters", &self.group_arn(group.unwrap_or("*")))?;
        let limit = limit_arg(&body, 50, 50)?;
        let groups: Vec<String> = match group {
            Some(g) => vec![self.require_group(g)?.name],
            None => model::list_groups(self.store.as_ref(), "")
                .map_err(errors::store)?
                .into_iter()
                .map(|g| g.name)
                .collect(),
        };
        let mut all = Vec::new();
        for g in &groups {
            for filter in model::list_metric_filters(self.store.as_ref(), g, prefix).map_err(errors::store)? {
                let wanted = match (metric_name, metric_namespace) {
                    (Some(n), Some(ns)) => {
                        filter.transformations.iter().any(|t| t.metric_name == n && t.metric_namespace == ns)
                    }
                    _ => true,
                };
                if wanted {
                    all.push((g.clone(), filter));
                }
            }
        }
        let start = match wire::opt_str(&body, "nextToken").map_err(invalid)? {
            None => 0,
            Some(token) => token
                .strip_prefix("m/")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| invalid("The specified nextToken is invalid."))?,
        };
        let page: Vec<Value> = all.iter().skip(start).take(limit).map(|(g, f)| filter_json(g, f)).collect();
        let end = start + page.len();
        let mut out = Map::new();
        out.insert("metricFilters".into(), Value::Array(page));
        if end < all.len() {
            out.insert("nextToken".into(), Value::from(format!("m/{end}")));
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn delete_metric_filter(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        let name = super::str_arg(&body, "filterName")?.to_owned();
        request.authorize("logs:DeleteMetricFilter", &self.group_arn(&group))?;
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &group)?.is_none() {
                return Err(TxnError::Aborted(errors::group_not_found()));
            }
            let key = model::metric_filter_key(&group, &name);
            if view.get(model::METRIC_FILTERS, &key)?.is_none() {
                return Err(TxnError::Aborted(AwsError::new(
                    400,
                    "ResourceNotFoundException",
                    "The specified metric filter does not exist.",
                )));
            }
            let mut batch = WriteBatch::new();
            batch.delete(model::METRIC_FILTERS, key);
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        Ok(json!({}))
    }

    pub(crate) fn test_metric_filter(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        request.authorize("logs:TestMetricFilter", "*")?;
        let pattern_text = super::str_arg(&body, "filterPattern")?;
        let pattern = Pattern::parse(pattern_text).map_err(invalid)?;
        let messages = wire::opt_array(&body, "logEventMessages").map_err(invalid)?;
        if messages.is_empty() || messages.len() > 50 {
            return Err(invalid(wire::constraint(
                &Value::from(format!("[{} messages]", messages.len())),
                "logEventMessages",
                "Member must have length less than or equal to 50 and greater than or equal to 1",
            )));
        }
        let mut matches = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let Some(message) = message.as_str() else {
                return Err(invalid("Invalid type for 'logEventMessages': expected a list of strings"));
            };
            if pattern.matches(message) {
                let extracted: Map<String, Value> =
                    pattern.extracted_values(message).into_iter().map(|(k, v)| (k, Value::from(v))).collect();
                matches.push(json!({"eventNumber": i + 1, "eventMessage": message, "extractedValues": extracted}));
            }
        }
        Ok(json!({"matches": matches}))
    }

    /// Publish the metrics of `group`'s filters for newly stored events.
    pub(crate) fn publish_metric_filters(&self, group: &str, events: &[(i64, String)]) {
        let filters = match model::list_metric_filters(self.store.as_ref(), group, "") {
            Ok(filters) => filters,
            Err(err) => {
                tracing::warn!(%err, "reading metric filters failed");
                return;
            }
        };
        let mut data = Vec::new();
        for filter in filters {
            let Ok(pattern) = Pattern::parse(&filter.pattern) else { continue };
            for t in &filter.transformations {
                let before = data.len();
                for (timestamp, message) in events {
                    if !pattern.matches(message) {
                        continue;
                    }
                    let Some(value) = pattern.extract_number(message, &t.metric_value) else { continue };
                    let dimensions: Vec<(String, String)> = t
                        .dimensions
                        .iter()
                        .filter_map(|(k, r)| pattern.extract(message, r).map(|v| (k.clone(), v)))
                        .collect();
                    data.push(datum(t, dimensions, value, *timestamp));
                }
                // No match in this batch: the default value, when there is one.
                if data.len() == before {
                    if let (Some(default), Some((timestamp, _))) = (t.default_value, events.last()) {
                        data.push(datum(t, Vec::new(), default, *timestamp));
                    }
                }
            }
        }
        if !data.is_empty() {
            self.metrics.put_metrics(data);
        }
    }

    /// How many metric filters a group has (DescribeLogGroups shows it).
    pub(crate) fn metric_filter_count(&self, group: &str) -> usize {
        let start = KeyWriter::new().str(group).finish();
        nimbus_store::ReadViewExt::scan_prefix(self.store.as_ref(), model::METRIC_FILTERS, &start, usize::MAX)
            .map_or(0, |filters| filters.len())
    }
}

fn datum(t: &Transformation, dimensions: Vec<(String, String)>, value: f64, timestamp_ms: i64) -> MetricDatum {
    MetricDatum {
        namespace: t.metric_namespace.clone(),
        name: t.metric_name.clone(),
        dimensions,
        value,
        unit: t.unit.clone().unwrap_or_else(|| "None".into()),
        timestamp_ms,
    }
}

fn parse_transformation(item: &Value) -> Result<Transformation, AwsError> {
    let Value::Object(item) = item else {
        return Err(invalid("Invalid type for 'metricTransformations': expected a list of MetricTransformation"));
    };
    let metric_name = super::str_arg(item, "metricName")?.to_owned();
    let metric_namespace = super::str_arg(item, "metricNamespace")?.to_owned();
    let metric_value = super::str_arg(item, "metricValue")?.to_owned();
    if !metric_value.starts_with('$') && metric_value.parse::<f64>().is_err() {
        return Err(invalid(format!("Invalid metric value: {metric_value}")));
    }
    let default_value = wire::opt_f64(item, "defaultValue").map_err(invalid)?;
    let mut dimensions = BTreeMap::new();
    if let Some(Value::Object(map)) = item.get("dimensions") {
        for (k, v) in map {
            let Some(v) = v.as_str() else { return Err(invalid("Invalid type for 'dimensions'")) };
            dimensions.insert(k.clone(), v.to_owned());
        }
    }
    if default_value.is_some() && !dimensions.is_empty() {
        return Err(invalid("You cannot specify both defaultValue and dimensions in the same metric transformation."));
    }
    let unit = wire::opt_str(item, "unit").map_err(invalid)?.map(str::to_owned);
    Ok(Transformation { metric_name, metric_namespace, metric_value, default_value, dimensions, unit })
}

fn filter_json(group: &str, filter: &MetricFilterRecord) -> Value {
    let transformations: Vec<Value> = filter
        .transformations
        .iter()
        .map(|t| {
            let mut out = json!({"metricName": t.metric_name, "metricNamespace": t.metric_namespace, "metricValue": t.metric_value});
            if let Some(d) = t.default_value {
                out["defaultValue"] = json!(d);
            }
            if !t.dimensions.is_empty() {
                out["dimensions"] = json!(t.dimensions);
            }
            if let Some(unit) = &t.unit {
                out["unit"] = Value::from(unit.clone());
            }
            out
        })
        .collect();
    json!({
        "filterName": filter.name,
        "filterPattern": filter.pattern,
        "metricTransformations": transformations,
        "creationTime": filter.creation_time,
        "logGroupName": group,
    })
}
