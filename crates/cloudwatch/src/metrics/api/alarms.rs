//! PutMetricAlarm, DescribeAlarms, DescribeAlarmHistory, DeleteAlarms,
//! SetAlarmState, EnableAlarmActions, DisableAlarmActions.

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::WriteBatch;
use serde_json::{json, Map, Value};

use super::{check_period, dimensions_arg, dimensions_json, opt_str, req_str, unit_arg};
use crate::metrics::alarms::{self, AlarmRecord, ALARMS};
use crate::metrics::errors::{self, invalid_combination, invalid_value};
use crate::metrics::model;
use crate::metrics::stats::{parse_percentile, STATISTICS};
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

const COMPARISONS: [&str; 4] =
    ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"];
const TREATMENTS: [&str; 4] = ["breaching", "notBreaching", "ignore", "missing"];
const STATES: [&str; 3] = ["OK", "ALARM", "INSUFFICIENT_DATA"];

impl MetricsService {
    pub(crate) async fn put_metric_alarm(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = req_str(&body, "AlarmName", "AlarmName")?.to_owned();
        if name.is_empty() || name.len() > 255 {
            return Err(invalid_value(format!("The value {name} for parameter AlarmName is invalid.")));
        }
        request.authorize("cloudwatch:PutMetricAlarm", &self.alarm_arn(&name))?;
        let metrics = match body.get("Metrics") {
            None | Some(Value::Null) => None,
            Some(Value::Array(queries)) => Some(queries.clone()),
            Some(_) => return Err(invalid_value("The parameter Metrics is invalid.")),
        };
        let spec = match &metrics {
            Some(queries) => self.math_alarm_spec(&body, queries)?,
            None => metric_alarm_spec(&body)?,
        };
        let MetricSpec { namespace, metric_name, dimensions, period, statistic, extended, unit } = spec;
        let evaluation_periods = wire::opt_i64(&body, "EvaluationPeriods")
            .map_err(invalid_value)?
            .ok_or_else(|| errors::missing("EvaluationPeriods"))?;
        if evaluation_periods < 1 {
            return Err(invalid_value("The parameter EvaluationPeriods must be greater than or equal to 1."));
        }
        if period * evaluation_periods > 7 * 86_400 {
            return Err(invalid_value("The evaluation period (Period * EvaluationPeriods) must not exceed one week."));
        }
        let datapoints_to_alarm = wire::opt_i64(&body, "DatapointsToAlarm").map_err(invalid_value)?;
        if let Some(m) = datapoints_to_alarm {
            if m < 1 || m > evaluation_periods {
                return Err(invalid_value(
                    "DatapointsToAlarm must be greater than or equal to 1 and less than or equal to EvaluationPeriods.",
                ));
            }
        }
        let threshold =
            wire::opt_f64(&body, "Threshold").map_err(invalid_value)?.ok_or_else(|| errors::missing("Threshold"))?;
        let comparison = req_str(&body, "ComparisonOperator", "ComparisonOperator")?.to_owned();
        if !COMPARISONS.contains(&comparison.as_str()) {
            return Err(invalid_value(format!("The value {comparison} for parameter ComparisonOperator is invalid.")));
        }
        let treat_missing_data = opt_str(&body, "TreatMissingData")?.map(str::to_owned);
        if let Some(treat) = &treat_missing_data {
            if !TREATMENTS.contains(&treat.as_str()) {
                return Err(invalid_value(format!("The value {treat} for parameter TreatMissingData is invalid.")));
            }
        }
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let _serial = self.alarm_lock.lock().await;
        let existing = alarms::load_alarm(self.store.as_ref(), &name).map_err(errors::store)?;
        let record = AlarmRecord {
            name: name.clone(),
            description: opt_str(&body, "AlarmDescription")?.map(str::to_owned),
            actions_enabled: wire::opt_bool(&body, "ActionsEnabled").map_err(invalid_value)?.unwrap_or(true),
            ok_actions: strings(&body, "OKActions")?,
            alarm_actions: strings(&body, "AlarmActions")?,
            insufficient_data_actions: strings(&body, "InsufficientDataActions")?,
            namespace,
            metric_name,
            dimensions,
            statistic,
            extended,
            period,
            unit,
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison,
            treat_missing_data,
            // An updated alarm keeps its state; a new one starts unchecked.
            state: existing.as_ref().map_or("INSUFFICIENT_DATA".into(), |a| a.state.clone()),
            state_reason: existing
                .as_ref()
                .map_or("Unchecked: Initial alarm creation".into(), |a| a.state_reason.clone()),
            state_reason_data: existing.as_ref().and_then(|a| a.state_reason_data.clone()),
            state_updated: existing.as_ref().map_or(now, |a| a.state_updated),
            state_transitioned: existing.as_ref().map_or(now, |a| a.state_transitioned),
            configuration_updated: now,
            // Tags are set at creation; an update ignores them, as on AWS.
            tags: match &existing {
                Some(a) => a.tags.clone(),
                None => tag_list(&body, "Tags")?.into_iter().collect(),
            },
            metrics,
        };
        let mut batch = WriteBatch::new();
        batch.put(ALARMS, alarms::alarm_key(&name), model::encode(&record));
        let verb = if existing.is_some() { "updated" } else { "created" };
        let data = json!({"version": "1.0", "type": if existing.is_some() { "Update" } else { "Create" }, "createdAlarm": alarm_json(self, &record)});
        self.history_item(&mut batch, &name, "ConfigurationUpdate", format!("Alarm \"{name}\" {verb}"), data);
        self.store.write(batch).await.map_err(errors::store)?;
        self.alarm_wake.notify_one();
        Ok(json!({}))
    }

    pub(crate) fn describe_alarms(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        request.authorize("cloudwatch:DescribeAlarms", "*")?;
        let names = strings(&body, "AlarmNames")?;
        let prefix = opt_str(&body, "AlarmNamePrefix")?.unwrap_or("");
        if !names.is_empty() && !prefix.is_empty() {
            return Err(invalid_combination("AlarmNames and AlarmNamePrefix cannot be specified together."));
        }
        let state = opt_str(&body, "StateValue")?;
        if let Some(state) = state {
            if !STATES.contains(&state) {
                return Err(invalid_value(format!("The value {state} for parameter StateValue is invalid.")));
            }
        }
        let action_prefix = opt_str(&body, "ActionPrefix")?;
        let types = strings(&body, "AlarmTypes")?;
        let max = wire::opt_i64(&body, "MaxRecords").map_err(invalid_value)?.unwrap_or(50);
        if !(1..=100).contains(&max) {
            return Err(invalid_value(format!("The value {max} for parameter MaxRecords is invalid.")));
        }
        let start = next_token(&body)?;
        let matching: Vec<AlarmRecord> = alarms::list_alarms(self.store.as_ref(), prefix)
            .map_err(errors::store)?
            .into_iter()
            .filter(|a| names.is_empty() || names.contains(&a.name))
            .filter(|a| state.is_none_or(|s| a.state == s))
            .filter(|a| {
                action_prefix.is_none_or(|p| {
                    a.alarm_actions
                        .iter()
                        .chain(&a.ok_actions)
                        .chain(&a.insufficient_data_actions)
                        .any(|x| x.starts_with(p))
                })
            })
            .filter(|_| types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
            .collect();
        let page: Vec<Value> = matching.iter().skip(start).take(max as usize).map(|a| alarm_json(self, a)).collect();
        let end = start + page.len();
        let mut out = Map::new();
        out.insert("MetricAlarms".into(), Value::Array(page));
        out.insert("CompositeAlarms".into(), Value::Array(vec![]));
        if end < matching.len() {
            out.insert("NextToken".into(), Value::from(format!("a/{end}")));
        }
        Ok(Value::Object(out))
    }

    pub(crate) fn describe_alarm_history(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        request.authorize("cloudwatch:DescribeAlarmHistory", "*")?;
        let name = opt_str(&body, "AlarmName")?;
        let kind = opt_str(&body, "HistoryItemType")?;
        let start_date = wire::opt_timestamp_ms(&body, "StartDate").map_err(invalid_value)?;
        let end_date = wire::opt_timestamp_ms(&body, "EndDate").map_err(invalid_value)?;
        let descending = match opt_str(&body, "ScanBy")? {
            None | Some("TimestampDescending") => true,
            Some("TimestampAscending") => false,
            Some(other) => return Err(invalid_value(format!("The value {other} for parameter ScanBy is invalid."))),
        };
        let max = wire::opt_i64(&body, "MaxRecords").map_err(invalid_value)?.unwrap_or(100);
        if !(1..=100).contains(&max) {
            return Err(invalid_value(format!("The value {max} for parameter MaxRecords is invalid.")));
        }
        let start = next_token(&body)?;
        let matching: Vec<alarms::HistoryRecord> = alarms::list_history(self.store.as_ref(), descending)
            .map_err(errors::store)?
            .into_iter()
            .filter(|h| name.is_none_or(|n| h.alarm == n))
            .filter(|h| kind.is_none_or(|k| h.kind == k))
            .filter(|h| start_date.is_none_or(|s| h.timestamp >= s) && end_date.is_none_or(|e| h.timestamp <= e))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max as usize)
            .map(|h| {
                json!({
                    "AlarmName": h.alarm,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": wire::timestamp_value(h.timestamp),
                    "HistoryItemType": h.kind,
                    "HistorySummary": h.summary,
                    "HistoryData": h.data,
                })
            })
            .collect();
        let end = start + page.len();
        let mut out = Map::new();
        out.insert("AlarmHistoryItems".into(), Value::Array(page));
        if end < matching.len() {
            out.insert("NextToken".into(), Value::from(format!("a/{end}")));
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn delete_alarms(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let names = strings(&body, "AlarmNames")?;
        if names.len() > 100 {
            return Err(invalid_value("The collection AlarmNames must not have a size greater than 100."));
        }
        let _serial = self.alarm_lock.lock().await;
        let mut batch = WriteBatch::new();
        for name in &names {
            request.authorize("cloudwatch:DeleteAlarms", &self.alarm_arn(name))?;
            // Unknown names do not stop the others being deleted, and are not
            // reported: AWS says to confirm with DescribeAlarms.
            batch.delete(ALARMS, alarms::alarm_key(name));
        }
        self.store.write(batch).await.map_err(errors::store)?;
        Ok(json!({}))
    }

    pub(crate) async fn set_alarm_state(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = req_str(&body, "AlarmName", "AlarmName")?;
        let state = req_str(&body, "StateValue", "StateValue")?;
        let reason = req_str(&body, "StateReason", "StateReason")?.to_owned();
        if !STATES.contains(&state) {
            return Err(invalid_value(format!("The value {state} for parameter StateValue is invalid.")));
        }
        let reason_data = opt_str(&body, "StateReasonData")?.map(str::to_owned);
        if let Some(data) = &reason_data {
            if serde_json::from_str::<Value>(data).is_err() {
                return Err(AwsError::new(
                    400,
                    "InvalidFormatFault",
                    "The StateReasonData is not a valid JSON document.",
                ));
            }
        }
        request.authorize("cloudwatch:SetAlarmState", &self.alarm_arn(name))?;
        let _serial = self.alarm_lock.lock().await;
        let alarm = alarms::load_alarm(self.store.as_ref(), name)
            .map_err(errors::store)?
            .ok_or_else(|| AwsError::new(404, "ResourceNotFound", format!("Alarm {name} not found")))?;
        self.change_state(alarm, state, reason, reason_data).await.map_err(errors::store)?;
        Ok(json!({}))
    }

    pub(crate) async fn set_alarm_actions(
        &self,
        request: &AwsRequest,
        body: Object,
        enabled: bool,
    ) -> Result<Value, AwsError> {
        let names = strings(&body, "AlarmNames")?;
        let action = if enabled { "cloudwatch:EnableAlarmActions" } else { "cloudwatch:DisableAlarmActions" };
        let _serial = self.alarm_lock.lock().await;
        let mut batch = WriteBatch::new();
        for name in &names {
            request.authorize(action, &self.alarm_arn(name))?;
            if let Some(mut alarm) = alarms::load_alarm(self.store.as_ref(), name).map_err(errors::store)? {
                alarm.actions_enabled = enabled;
                batch.put(ALARMS, alarms::alarm_key(name), model::encode(&alarm));
            }
        }
        self.store.write(batch).await.map_err(errors::store)?;
        Ok(json!({}))
    }
}

impl MetricsService {
    pub(crate) fn describe_alarms_for_metric(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        request.authorize("cloudwatch:DescribeAlarmsForMetric", "*")?;
        let namespace = req_str(&body, "Namespace", "Namespace")?;
        let metric_name = req_str(&body, "MetricName", "MetricName")?;
        let dimensions = dimensions_arg(&body, "Dimensions", "Dimensions")?;
        let statistic = opt_str(&body, "Statistic")?.or(opt_str(&body, "ExtendedStatistic")?);
        let period = wire::opt_i64(&body, "Period").map_err(invalid_value)?;
        let unit = unit_arg(&body, "Unit", "Unit")?;
        let mut wanted_dims = dimensions;
        wanted_dims.sort();
        let alarms: Vec<Value> = alarms::list_alarms(self.store.as_ref(), "")
            .map_err(errors::store)?
            .into_iter()
            .filter(|a| a.namespace == namespace && a.metric_name == metric_name)
            .filter(|a| {
                let mut dims = a.dimensions.clone();
                dims.sort();
                dims == wanted_dims
            })
            .filter(|a| statistic.is_none_or(|s| a.statistic == s))
            .filter(|a| period.is_none_or(|p| a.period == p))
            .filter(|a| unit.is_none() || a.unit == unit)
            .map(|a| alarm_json(self, &a))
            .collect();
        Ok(json!({"MetricAlarms": alarms}))
    }

    pub(crate) async fn tag_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = self.alarm_of_arn(&body)?;
        request.authorize("cloudwatch:TagResource", &self.alarm_arn(&name))?;
        let tags = tag_list(&body, "Tags")?;
        self.update_alarm_tags(&name, |current| current.extend(tags)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = self.alarm_of_arn(&body)?;
        request.authorize("cloudwatch:UntagResource", &self.alarm_arn(&name))?;
        let keys = strings(&body, "TagKeys")?;
        self.update_alarm_tags(&name, |current| current.retain(|k, _| !keys.contains(k))).await?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags_for_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = self.alarm_of_arn(&body)?;
        request.authorize("cloudwatch:ListTagsForResource", &self.alarm_arn(&name))?;
        let alarm =
            alarms::load_alarm(self.store.as_ref(), &name).map_err(errors::store)?.ok_or_else(resource_not_found)?;
        let tags: Vec<Value> = alarm.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        Ok(json!({"Tags": tags}))
    }

    /// The alarm an ARN names (`arn:aws:cloudwatch:r:a:alarm:NAME`).
    fn alarm_of_arn(&self, body: &Object) -> Result<String, AwsError> {
        let arn = req_str(body, "ResourceARN", "ResourceARN")?;
        match nimbus_core::arn::Arn::parse(arn) {
            Some(parsed) if parsed.service == "cloudwatch" => match parsed.resource.strip_prefix("alarm:") {
                Some(name) if !name.is_empty() => Ok(name.to_owned()),
                _ => Err(resource_not_found()),
            },
            _ => Err(invalid_value(format!("The value {arn} for parameter ResourceARN is invalid."))),
        }
    }

    async fn update_alarm_tags(
        &self,
        name: &str,
        change: impl FnOnce(&mut std::collections::BTreeMap<String, String>),
    ) -> Result<(), AwsError> {
        let _serial = self.alarm_lock.lock().await;
        let mut alarm =
            alarms::load_alarm(self.store.as_ref(), name).map_err(errors::store)?.ok_or_else(resource_not_found)?;
        change(&mut alarm.tags);
        let mut batch = WriteBatch::new();
        batch.put(ALARMS, alarms::alarm_key(name), model::encode(&alarm));
        self.store.write(batch).await.map_err(errors::store)
    }
}

/// What an alarm watches: one metric and statistic, or (metric math) the
/// result of its `Metrics` queries.
struct MetricSpec {
    namespace: String,
    metric_name: String,
    dimensions: Vec<(String, String)>,
    period: i64,
    statistic: String,
    extended: bool,
    unit: Option<String>,
}

impl MetricsService {
    fn math_alarm_spec(&self, body: &Object, queries: &[Value]) -> Result<MetricSpec, AwsError> {
        // A metric-math alarm names its data only through Metrics.
        for field in ["MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Dimensions", "Unit"] {
            if body.get(field).is_some_and(|v| !v.is_null()) {
                return Err(invalid_combination(format!(
                    "The parameters Metrics and {field} are mutually exclusive and you have specified both."
                )));
            }
        }
        let period = self.alarm_queries_period(queries)?;
        Ok(MetricSpec {
            namespace: String::new(),
            metric_name: String::new(),
            dimensions: Vec::new(),
            period,
            statistic: String::new(),
            extended: false,
            unit: None,
        })
    }
}

fn metric_alarm_spec(body: &Object) -> Result<MetricSpec, AwsError> {
    let namespace = req_str(body, "Namespace", "Namespace")?.to_owned();
    let metric_name = req_str(body, "MetricName", "MetricName")?.to_owned();
    let dimensions = dimensions_arg(body, "Dimensions", "Dimensions")?;
    let period = wire::opt_i64(body, "Period").map_err(invalid_value)?.ok_or_else(|| errors::missing("Period"))?;
    check_period(period, "Period")?;
    let (statistic, extended) = match (opt_str(body, "Statistic")?, opt_str(body, "ExtendedStatistic")?) {
        (Some(s), None) if STATISTICS.contains(&s) => (s.to_owned(), false),
        (Some(s), None) => return Err(invalid_value(format!("The value {s} for parameter Statistic is invalid."))),
        (None, Some(p)) if parse_percentile(p).is_some() => (p.to_owned(), true),
        (None, Some(p)) => {
            return Err(invalid_value(format!("The value {p} for parameter ExtendedStatistic is invalid.")))
        }
        (Some(_), Some(_)) => {
            return Err(invalid_combination("Exactly one of Statistic or ExtendedStatistic must be specified."))
        }
        (None, None) => return Err(invalid_combination("One of Statistic or ExtendedStatistic must be specified.")),
    };
    let unit = unit_arg(body, "Unit", "Unit")?;
    Ok(MetricSpec { namespace, metric_name, dimensions, period, statistic, extended, unit })
}

fn resource_not_found() -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", "The specified resource does not exist.")
}

/// `[{Key, Value}]` tags.
fn tag_list(body: &Object, field: &str) -> Result<Vec<(String, String)>, AwsError> {
    let items = wire::opt_array(body, field).map_err(invalid_value)?;
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(invalid_value(format!("The parameter {field}.member.{} is invalid.", i + 1)));
        };
        let key = req_str(item, "Key", &format!("{field}.member.{}.Key", i + 1))?;
        let value = req_str(item, "Value", &format!("{field}.member.{}.Value", i + 1))?;
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(invalid_value(format!("The parameter {field}.member.{} is invalid.", i + 1)));
        }
        tags.push((key.to_owned(), value.to_owned()));
    }
    Ok(tags)
}

fn alarm_json(service: &MetricsService, a: &AlarmRecord) -> Value {
    let mut out = json!({
        "AlarmName": a.name,
        "AlarmArn": service.alarm_arn(&a.name),
        "AlarmConfigurationUpdatedTimestamp": wire::timestamp_value(a.configuration_updated),
        "ActionsEnabled": a.actions_enabled,
        "OKActions": a.ok_actions,
        "AlarmActions": a.alarm_actions,
        "InsufficientDataActions": a.insufficient_data_actions,
        "StateValue": a.state,
        "StateReason": a.state_reason,
        "StateUpdatedTimestamp": wire::timestamp_value(a.state_updated),
        "MetricName": a.metric_name,
        "Namespace": a.namespace,
        "Dimensions": dimensions_json(&a.dimensions),
        "Period": a.period,
        "EvaluationPeriods": a.evaluation_periods,
        "Threshold": a.threshold,
        "ComparisonOperator": a.comparison,
        "StateTransitionedTimestamp": wire::timestamp_value(a.state_transitioned),
    });
    if let (Some(queries), Value::Object(map)) = (&a.metrics, &mut out) {
        for field in ["MetricName", "Namespace", "Dimensions", "Period"] {
            map.remove(field);
        }
        map.insert("Metrics".into(), Value::Array(queries.clone()));
    } else if a.extended {
        out["ExtendedStatistic"] = Value::from(a.statistic.clone());
    } else {
        out["Statistic"] = Value::from(a.statistic.clone());
    }
    if let Some(d) = &a.description {
        out["AlarmDescription"] = Value::from(d.clone());
    }
    if let Some(data) = &a.state_reason_data {
        out["StateReasonData"] = Value::from(data.clone());
    }
    if let Some(unit) = &a.unit {
        out["Unit"] = Value::from(unit.clone());
    }
    if let Some(m) = a.datapoints_to_alarm {
        out["DatapointsToAlarm"] = Value::from(m);
    }
    if let Some(t) = &a.treat_missing_data {
        out["TreatMissingData"] = Value::from(t.clone());
    }
    out
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

fn next_token(body: &Object) -> Result<usize, AwsError> {
    match opt_str(body, "NextToken")? {
        None => Ok(0),
        Some(token) => token.strip_prefix("a/").and_then(|n| n.parse().ok()).ok_or_else(errors::invalid_token),
    }
}
