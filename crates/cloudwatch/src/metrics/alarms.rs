//! Metric alarms: the persisted definition, CloudWatch's state machine
//! (OK / ALARM / INSUFFICIENT_DATA) evaluated on a schedule, history, and
//! actions (a Lambda function ARN is invoked through the `Invoker` door
//! with CloudWatch's alarm event).
//!
//! Evaluation: the alarm looks at its last `EvaluationPeriods` periods (the
//! one in progress included once it has data, else ending with the last
//! complete one), computes its statistic per period and counts
//! the periods that breach the threshold. `DatapointsToAlarm` (M, default
//! N) breaching periods put it in ALARM. Periods without data follow
//! `TreatMissingData`: `missing` (default; all missing → INSUFFICIENT_DATA),
//! `notBreaching` (good), `breaching` (bad), `ignore` (all missing → state
//! kept).

use std::ops::{Bound, ControlFlow};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use nimbus_core::time::civil_from_days;
use nimbus_core::{InvokeRequest, Invoker};
use nimbus_store::{Direction, KeyWriter, Keyspace, ReadView, ReadViewExt, StoreError, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::model::SeriesId;
use super::MetricsService;

pub const ALARMS: Keyspace = "metrics.alarms";
pub const HISTORY: Keyspace = "metrics.alarm_history";

/// How often alarms are evaluated when nothing wakes the evaluator.
const EVALUATION_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AlarmRecord {
    pub name: String,
    pub description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    /// `Sum`, `Average`… or a percentile such as `p99`.
    pub statistic: String,
    pub extended: bool,
    pub period: i64,
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing_data: Option<String>,
    pub state: String,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated: i64,
    pub state_transitioned: i64,
    pub configuration_updated: i64,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// A metric-math alarm's `Metrics` queries, as given (then `namespace`,
    /// `metric_name` and `statistic` are empty).
    #[serde(default)]
    pub metrics: Option<Vec<Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub alarm: String,
    pub timestamp: i64,
    pub kind: String,
    pub summary: String,
    pub data: String,
}

pub fn alarm_key(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

pub fn history_key(timestamp: i64, seq: u64) -> Vec<u8> {
    KeyWriter::new().u64(super::model::time_key(timestamp)).u64(seq).finish()
}

pub fn load_alarm(view: &dyn ReadView, name: &str) -> Result<Option<AlarmRecord>, StoreError> {
    match view.get(ALARMS, &alarm_key(name))? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError(format!("corrupt alarm: {e}"))),
    }
}

pub fn list_alarms(view: &dyn ReadView, prefix: &str) -> Result<Vec<AlarmRecord>, StoreError> {
    view.scan_prefix(ALARMS, prefix.as_bytes(), usize::MAX)?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(|e| StoreError(format!("corrupt alarm: {e}"))))
        .collect()
}

/// History, newest first or oldest first.
pub fn list_history(view: &dyn ReadView, descending: bool) -> Result<Vec<HistoryRecord>, StoreError> {
    let mut out = Vec::new();
    let direction = if descending { Direction::Backward } else { Direction::Forward };
    view.scan(HISTORY, (Bound::Unbounded, Bound::Unbounded), direction, &mut |_, v| {
        if let Ok(record) = serde_json::from_slice(v) {
            out.push(record);
        }
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

pub fn compare(op: &str, value: f64, threshold: f64) -> bool {
    match op {
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    }
}

fn comparison_words(op: &str) -> &'static str {
    match op {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        _ => "less than or equal to",
    }
}

/// What one evaluation concluded.
pub struct Verdict {
    pub state: &'static str,
    pub reason: String,
    pub reason_data: Value,
}

/// Decide an alarm's state from its periods' values (oldest first; `None`
/// for a period without data). `None` means "keep the current state".
pub fn decide(alarm: &AlarmRecord, values: &[(i64, Option<f64>)]) -> Option<Verdict> {
    let n = values.len() as i64;
    let m = alarm.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods);
    let present: Vec<(i64, f64)> = values.iter().filter_map(|(t, v)| v.map(|v| (*t, v))).collect();
    let missing = n - present.len() as i64;
    let breaching = present.iter().filter(|(_, v)| compare(&alarm.comparison, *v, alarm.threshold)).count() as i64;
    let treat = alarm.treat_missing_data.as_deref().unwrap_or("missing");
    let bad = if treat == "breaching" { breaching + missing } else { breaching };
    if present.is_empty() && matches!(treat, "missing" | "ignore") {
        if treat == "ignore" {
            return None;
        }
        return Some(Verdict {
            state: "INSUFFICIENT_DATA",
            reason: format!(
                "Insufficient Data: {n} datapoint{} {} unknown.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "was" } else { "were" }
            ),
            reason_data: json!({"version": "1.0", "queryDate": iso(now_ms()), "statistic": alarm.statistic, "period": alarm.period, "recentDatapoints": [], "threshold": alarm.threshold}),
        });
    }
    let state = if bad >= m { "ALARM" } else { "OK" };
    let shown: Vec<String> =
        present.iter().rev().map(|(t, v)| format!("{} ({})", number(*v), short_date(*t))).collect();
    let counted = if state == "ALARM" { bad } else { present.len() as i64 - breaching };
    let reason = format!(
        "Threshold Crossed: {counted} out of the last {n} datapoints [{}] {} {}{} the threshold ({}) (minimum {m} datapoint{} for {} transition).",
        shown.join(", "),
        if counted == 1 { "was" } else { "were" },
        if state == "ALARM" { "" } else { "not " },
        comparison_words(&alarm.comparison),
        number(alarm.threshold),
        if m == 1 { "" } else { "s" },
        if state == "ALARM" { "OK -> ALARM" } else { "ALARM -> OK" },
    );
    let reason_data = json!({
        "version": "1.0",
        "queryDate": iso(now_ms()),
        "startDate": iso(values.first().map_or(0, |v| v.0)),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "recentDatapoints": present.iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": present.iter().rev().map(|(t, v)| json!({"timestamp": iso(*t), "sampleCount": 1.0, "value": v})).collect::<Vec<_>>(),
    });
    Some(Verdict { state, reason, reason_data })
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn now_ms() -> i64 {
    nimbus_core::time::now_epoch_millis() as i64
}

/// `2026-11-27T05:20:00.000+0000`, the form CloudWatch's events use.
pub fn iso(ms: i64) -> String {
    nimbus_core::time::format_iso8601_millis(ms).replace('Z', "+0000")
}

/// `27/11/26 05:20:00`, the form of state reasons.
fn short_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!("{d:02}/{mo:02}/{:02} {:02}:{:02}:{:02}", y.rem_euclid(100), s / 3600, s / 60 % 60, s % 60)
}

impl MetricsService {
    pub fn alarm_arn(&self, name: &str) -> String {
        nimbus_core::arn::arn("cloudwatch", &self.context.region, &self.context.account_id, &format!("alarm:{name}"))
    }

    /// Give alarms a way to invoke Lambda functions (set once Lambda exists).
    pub fn set_invoker(&self, invoker: Arc<dyn Invoker>) {
        *self.invoker.write().unwrap_or_else(|e| e.into_inner()) = Some(invoker);
    }

    pub(crate) fn history_item(&self, batch: &mut WriteBatch, alarm: &str, kind: &str, summary: String, data: Value) {
        let now = now_ms();
        let seq = self.history_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let record = HistoryRecord {
            alarm: alarm.to_owned(),
            timestamp: now,
            kind: kind.to_owned(),
            summary,
            data: data.to_string(),
        };
        batch.put(HISTORY, history_key(now, seq), super::model::encode(&record));
    }

    /// Evaluate every alarm once.
    pub async fn evaluate_alarms(&self) -> Result<(), StoreError> {
        let _serial = self.alarm_lock.lock().await;
        let now = now_ms();
        for alarm in list_alarms(self.store.as_ref(), "")? {
            let period_ms = alarm.period * 1000;
            let current = now - now.rem_euclid(period_ms);
            // One period more than evaluated: the period in progress counts
            // once it has data; until then the window ends with the last
            // complete one (so data from a period's final moments is seen).
            let first = current - alarm.evaluation_periods * period_ms;
            let mut values: Vec<(i64, Option<f64>)> =
                (0..=alarm.evaluation_periods).map(|i| (first + i * period_ms, None)).collect();
            if let Some(queries) = &alarm.metrics {
                let series = match self.alarm_queries_series(queries, first, current + period_ms) {
                    Ok(series) => series,
                    Err(err) => {
                        tracing::debug!(alarm = %alarm.name, %err, "metric math alarm cannot be evaluated");
                        continue;
                    }
                };
                for (t, v) in values.iter_mut() {
                    *v = series.get(t).copied();
                }
            } else {
                let series = SeriesId::new(&alarm.namespace, &alarm.metric_name, alarm.dimensions.clone());
                let buckets =
                    match self.aggregate(&series, first, current + period_ms, alarm.period, alarm.unit.as_deref()) {
                        Ok(buckets) => buckets,
                        Err(err) => return Err(StoreError(err.message)),
                    };
                for mut bucket in buckets {
                    if let Some(slot) = values.iter_mut().find(|(t, _)| *t == bucket.start_ms) {
                        slot.1 = bucket.acc.stat(&alarm.statistic);
                    }
                }
            }
            if values.last().is_some_and(|(_, v)| v.is_some()) {
                values.remove(0);
            } else {
                values.pop();
            }
            let Some(verdict) = decide(&alarm, &values) else { continue };
            if verdict.state != alarm.state {
                self.change_state(alarm, verdict.state, verdict.reason, Some(verdict.reason_data.to_string())).await?;
            }
        }
        Ok(())
    }

    /// Move an alarm to `state`, record it, and run the state's actions.
    pub(crate) async fn change_state(
        &self,
        mut alarm: AlarmRecord,
        state: &str,
        reason: String,
        reason_data: Option<String>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let previous = alarm.clone();
        alarm.state = state.to_owned();
        alarm.state_reason = reason;
        alarm.state_reason_data = reason_data;
        alarm.state_updated = now;
        if previous.state != alarm.state {
            alarm.state_transitioned = now;
        }
        let mut batch = WriteBatch::new();
        batch.put(ALARMS, alarm_key(&alarm.name), super::model::encode(&alarm));
        let data = json!({
            "version": "1.0",
            "oldState": {"stateValue": previous.state, "stateReason": previous.state_reason},
            "newState": {"stateValue": alarm.state, "stateReason": alarm.state_reason},
        });
        self.history_item(
            &mut batch,
            &alarm.name,
            "StateUpdate",
            format!("Alarm updated from {} to {}", previous.state, alarm.state),
            data,
        );
        self.store.write(batch).await?;
        if alarm.actions_enabled && previous.state != alarm.state {
            let actions = match state {
                "ALARM" => &alarm.alarm_actions,
                "OK" => &alarm.ok_actions,
                _ => &alarm.insufficient_data_actions,
            };
            for action in actions.clone() {
                self.run_action(&alarm, &previous, action);
            }
        }
        Ok(())
    }

    /// Invoke a Lambda action in the background and record the outcome.
    fn run_action(&self, alarm: &AlarmRecord, previous: &AlarmRecord, action: String) {
        let invoker = self.invoker.read().unwrap_or_else(|e| e.into_inner()).clone();
        let event = self.alarm_event(alarm, previous);
        let store = self.store.clone();
        let name = alarm.name.clone();
        let seq = self.history_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let outcome = match (&invoker, action.contains(":lambda:") && action.contains(":function:")) {
                (Some(invoker), true) => {
                    let request = InvokeRequest {
                        function: action.clone(),
                        qualifier: None,
                        payload: Bytes::from(event.to_string()),
                        client_context: None,
                    };
                    match invoker.invoke(request).await {
                        Ok(result) if result.function_error.is_none() => Ok(()),
                        Ok(result) => Err(format!("function error {}", result.function_error.unwrap_or_default())),
                        Err(err) => Err(err.message),
                    }
                }
                (None, true) => Err("no Lambda invoker is available".to_owned()),
                (_, false) => Err("only Lambda function actions are supported".to_owned()),
            };
            let now = now_ms();
            let summary = match &outcome {
                Ok(()) => format!("Successfully executed action {action}"),
                Err(err) => format!("Failed to execute action {action}. Received error: \"{err}\""),
            };
            let data = json!({"actionState": if outcome.is_ok() { "Succeeded" } else { "Failed" }, "notificationResource": action});
            let record =
                HistoryRecord { alarm: name, timestamp: now, kind: "Action".into(), summary, data: data.to_string() };
            let mut batch = WriteBatch::new();
            batch.put(HISTORY, history_key(now, seq), super::model::encode(&record));
            if let Err(err) = store.write(batch).await {
                tracing::warn!(%err, "recording an alarm action failed");
            }
        });
    }

    /// The event a Lambda alarm action receives, as CloudWatch sends it.
    pub fn alarm_event(&self, alarm: &AlarmRecord, previous: &AlarmRecord) -> Value {
        let dimensions: serde_json::Map<String, Value> =
            alarm.dimensions.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect();
        let mut previous_state = json!({
            "value": previous.state,
            "reason": previous.state_reason,
            "timestamp": iso(previous.state_updated),
        });
        if let Some(data) = &previous.state_reason_data {
            previous_state["reasonData"] = Value::from(data.clone());
        }
        let mut state =
            json!({"value": alarm.state, "reason": alarm.state_reason, "timestamp": iso(alarm.state_updated)});
        if let Some(data) = &alarm.state_reason_data {
            state["reasonData"] = Value::from(data.clone());
        }
        json!({
            "source": "aws.cloudwatch",
            "alarmArn": self.alarm_arn(&alarm.name),
            "accountId": self.context.account_id,
            "time": iso(alarm.state_updated),
            "region": self.context.region,
            "alarmData": {
                "alarmName": alarm.name,
                "state": state,
                "previousState": previous_state,
                "configuration": {
                    "description": alarm.description.clone().unwrap_or_default(),
                    "metrics": alarm.metrics.as_ref().map_or_else(|| json!([{
                        "id": "m1",
                        "metricStat": {
                            "metric": {"namespace": alarm.namespace, "name": alarm.metric_name, "dimensions": dimensions},
                            "period": alarm.period,
                            "stat": alarm.statistic,
                        },
                        "returnData": true,
                    }]), |queries| Value::Array(queries.iter().map(lower_camel).collect())),
                },
            },
        })
    }
}

/// Alarm events spell query members in lowerCamelCase (`metricStat`).
fn lower_camel(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key =
                        chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default();
                    (if key == "metricName" { "name".to_owned() } else { key }, lower_camel(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lower_camel).collect()),
        other => other.clone(),
    }
}

/// Evaluate alarms every couple of seconds, and at once when woken.
pub(crate) fn spawn_evaluator(service: Weak<MetricsService>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(EVALUATION_INTERVAL) => {}
                _ = wake.notified() => {}
            }
            let Some(service) = service.upgrade() else { return };
            if let Err(err) = service.evaluate_alarms().await {
                tracing::warn!(%err, "alarm evaluation failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(m: Option<i64>, n: i64, treat: Option<&str>) -> AlarmRecord {
        AlarmRecord {
            name: "a".into(),
            description: None,
            actions_enabled: true,
            ok_actions: vec![],
            alarm_actions: vec![],
            insufficient_data_actions: vec![],
            namespace: "N".into(),
            metric_name: "Errors".into(),
            dimensions: vec![],
            statistic: "Sum".into(),
            extended: false,
            period: 60,
            unit: None,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            threshold: 0.0,
            comparison: "GreaterThanThreshold".into(),
            treat_missing_data: treat.map(str::to_owned),
            state: "INSUFFICIENT_DATA".into(),
            state_reason: String::new(),
            state_reason_data: None,
            state_updated: 0,
            state_transitioned: 0,
            configuration_updated: 0,
            tags: Default::default(),
            metrics: None,
        }
    }

    fn state(a: &AlarmRecord, values: &[Option<f64>]) -> Option<&'static str> {
        let values: Vec<(i64, Option<f64>)> = values.iter().enumerate().map(|(i, v)| (i as i64 * 60_000, *v)).collect();
        decide(a, &values).map(|v| v.state)
    }

    #[test]
    fn m_out_of_n() {
        let a = alarm(Some(2), 3, None);
        assert_eq!(state(&a, &[Some(1.0), Some(0.0), Some(1.0)]), Some("ALARM"));
        assert_eq!(state(&a, &[Some(1.0), Some(0.0), Some(0.0)]), Some("OK"));
        assert_eq!(state(&a, &[None, None, None]), Some("INSUFFICIENT_DATA"));
    }

    #[test]
    fn treat_missing_data() {
        let gap = [None, Some(1.0), None];
        assert_eq!(state(&alarm(Some(2), 3, Some("breaching")), &gap), Some("ALARM"));
        assert_eq!(state(&alarm(Some(2), 3, Some("notBreaching")), &gap), Some("OK"));
        assert_eq!(state(&alarm(Some(2), 3, Some("notBreaching")), &[None, None, None]), Some("OK"));
        assert_eq!(state(&alarm(Some(2), 3, Some("ignore")), &[None, None, None]), None);
        assert_eq!(state(&alarm(Some(1), 3, Some("missing")), &gap), Some("ALARM"));
    }

    #[test]
    fn reasons_read_like_cloudwatch() {
        let a = alarm(None, 1, None);
        let verdict = decide(&a, &[(1_764_220_800_000, Some(3.0))]).unwrap();
        assert_eq!(
            verdict.reason,
            "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (27/11/25 05:20:00)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
        );
    }
}
