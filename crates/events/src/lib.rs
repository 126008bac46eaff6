//! EventBridge for Nimbus, as far as serverless applications schedule work:
//! rules with `rate()` or `cron()` expressions on the default bus, their
//! targets, and a scheduler that invokes Lambda targets when a rule is due
//! (what SAM's `Schedule` events become). Rules with an event pattern are
//! kept but never match: Nimbus has no event sources on the bus yet.
//!
//! API: awsJson 1.1, `AWSEvents.PutRule`, `DescribeRule`, `ListRules`,
//! `DeleteRule`, `EnableRule`, `DisableRule`, `PutTargets`, `RemoveTargets`,
//! `ListTargetsByRule`. Rules live in the store, so they survive restarts.

pub mod schedule;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use nimbus_core::{
    AwsError, AwsRequest, AwsResponse, BoxFuture, Context, InvokeRequest, Invoker, Protocol, Service, ServiceSpec,
};
use nimbus_store::{ReadViewExt, Store, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use schedule::Schedule;

const KEYSPACE: &str = "events_rules";

static SPEC: ServiceSpec = ServiceSpec {
    name: "events",
    signing_name: "events",
    protocol: Protocol::AwsJson1_1,
    target_prefix: Some("AWSEvents"),
    ..ServiceSpec::BASE
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "Input", default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub arn: String,
    pub schedule_expression: Option<String>,
    pub event_pattern: Option<String>,
    pub state: String,
    pub description: Option<String>,
    pub targets: Vec<Target>,
    /// Milliseconds since the epoch when the schedule was last set.
    pub scheduled_at: u64,
}

/// When each rule last fired, in memory: a restart starts the count afresh.
#[derive(Default)]
struct Timers {
    /// Rate rules: the next time they are due.
    next_rate: BTreeMap<String, u64>,
    /// Cron rules: the minute they last fired.
    last_minute: BTreeMap<String, u64>,
}

pub struct Events {
    store: Arc<dyn Store>,
    context: Context,
    rules: Mutex<BTreeMap<String, Rule>>,
    timers: Mutex<Timers>,
    invoker: OnceLock<Arc<dyn Invoker>>,
}

fn bad(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

fn not_found(name: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", format!("Rule {name} does not exist on EventBus default."))
}

fn text(body: &Value, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn rule_json(r: &Rule) -> Value {
    let mut v = json!({"Name": r.name, "Arn": r.arn, "State": r.state, "EventBusName": "default"});
    if let Some(s) = &r.schedule_expression {
        v["ScheduleExpression"] = json!(s);
    }
    if let Some(p) = &r.event_pattern {
        v["EventPattern"] = json!(p);
    }
    if let Some(d) = &r.description {
        v["Description"] = json!(d);
    }
    v
}

impl Events {
    /// Load the rules kept in the store.
    pub fn new(store: Arc<dyn Store>, context: Context) -> Result<Self, String> {
        let snapshot = store.snapshot().map_err(|e| e.to_string())?;
        let mut rules = BTreeMap::new();
        for (_, bytes) in snapshot.scan_prefix(KEYSPACE, b"", usize::MAX).map_err(|e| e.to_string())? {
            let rule: Rule = serde_json::from_slice(&bytes).map_err(|e| format!("stored rule: {e}"))?;
            rules.insert(rule.name.clone(), rule);
        }
        Ok(Events { store, context, rules: Mutex::new(rules), timers: Mutex::default(), invoker: OnceLock::new() })
    }

    /// Connect Lambda (set once, after Lambda is built).
    pub fn set_invoker(&self, invoker: Arc<dyn Invoker>) {
        let _ = self.invoker.set(invoker);
    }

    fn rules(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Rule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn persist(&self, name: &str) -> Result<(), AwsError> {
        let mut batch = WriteBatch::new();
        match self.rules().get(name) {
            Some(rule) => {
                let bytes = serde_json::to_vec(rule).map_err(|e| AwsError::internal(e.to_string()))?;
                batch.put(KEYSPACE, name.as_bytes().to_vec(), bytes);
            }
            None => {
                batch.delete(KEYSPACE, name.as_bytes().to_vec());
            }
        }
        self.store.write(batch).await.map_err(|e| AwsError::internal(e.to_string()))
    }

    /// The scheduler: check every rule once a second until the runtime stops.
    pub fn start(self: &Arc<Self>) {
        let events = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(events) = events.upgrade() else { return };
                for (rule, target) in events.due(nimbus_core::time::now_epoch_millis()) {
                    events.fire(&rule, target);
                }
            }
        });
    }

    /// The (rule, target) pairs due at `now` (epoch milliseconds), marking them fired.
    pub fn due(&self, now: u64) -> Vec<(Rule, Target)> {
        let rules = self.rules().clone();
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for rule in rules.values().filter(|r| r.state == "ENABLED") {
            let Some(Ok(schedule)) = rule.schedule_expression.as_deref().map(Schedule::parse) else { continue };
            let fire = match schedule {
                Schedule::Rate(every) => {
                    let next = timers.next_rate.entry(rule.name.clone()).or_insert(rule.scheduled_at + every);
                    if now >= *next {
                        // Missed periods are skipped, not replayed.
                        *next += every * ((now - *next) / every + 1);
                        true
                    } else {
                        false
                    }
                }
                Schedule::Cron(cron) => {
                    let minute = now / 60_000;
                    let first = timers.last_minute.get(&rule.name) != Some(&minute);
                    if first && cron.matches(minute) {
                        timers.last_minute.insert(rule.name.clone(), minute);
                        true
                    } else {
                        false
                    }
                }
            };
            if fire {
                out.extend(rule.targets.iter().map(|t| (rule.clone(), t.clone())));
            }
        }
        out
    }

    /// The event a scheduled rule delivers, unless the target gives its own Input.
    pub fn scheduled_event(&self, rule: &Rule, now: u64) -> Value {
        json!({
            "version": "0",
            "id": nimbus_core::request::new_request_id(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.context.account_id,
            "time": nimbus_core::time::format_iso8601_millis(now as i64 / 1000 * 1000).replace(".000Z", "Z"),
            "region": self.context.region,
            "resources": [rule.arn],
            "detail": {}
        })
    }

    /// Invoke a target in the background; failures are logged, as EventBridge retries are not modelled.
    fn fire(&self, rule: &Rule, target: Target) {
        let Some(invoker) = self.invoker.get().cloned() else {
            tracing::warn!(rule = %rule.name, "a scheduled rule is due but no Lambda service is connected");
            return;
        };
        if !target.arn.contains(":lambda:") {
            tracing::warn!(rule = %rule.name, target = %target.arn, "only Lambda targets are invoked");
            return;
        }
        let payload = target
            .input
            .clone()
            .unwrap_or_else(|| self.scheduled_event(rule, nimbus_core::time::now_epoch_millis()).to_string());
        let rule_name = rule.name.clone();
        tokio::spawn(async move {
            let request = InvokeRequest {
                function: target.arn.clone(),
                qualifier: None,
                payload: Bytes::from(payload),
                client_context: None,
            };
            match invoker.invoke(request).await {
                Ok(outcome) if outcome.function_error.is_some() => {
                    tracing::warn!(rule = %rule_name, target = %target.arn, "scheduled invocation failed in the function")
                }
                Ok(_) => tracing::debug!(rule = %rule_name, target = %target.arn, "scheduled invocation done"),
                Err(e) => tracing::warn!(rule = %rule_name, target = %target.arn, %e, "scheduled invocation failed"),
            }
        });
    }

    async fn dispatch(&self, request: AwsRequest) -> Result<Value, AwsError> {
        let operation = request.target_operation.clone().unwrap_or_default();
        let body: Value = if request.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&request.body)
                .map_err(|e| AwsError::new(400, "SerializationException", e.to_string()))?
        };
        let arn_of =
            |name: &str| format!("arn:aws:events:{}:{}:rule/{name}", self.context.region, self.context.account_id);
        request.authorize(
            &format!("events:{operation}"),
            &arn_of(&text(&body, "Name").or_else(|| text(&body, "Rule")).unwrap_or_default()),
        )?;
        match operation.as_str() {
            "PutRule" => {
                let name = text(&body, "Name").ok_or_else(|| bad("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"))?;
                if name.is_empty()
                    || name.len() > 64
                    || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                {
                    return Err(bad(format!("1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+")));
                }
                let schedule = text(&body, "ScheduleExpression");
                let pattern =
                    body.get("EventPattern").map(|p| p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string()));
                if schedule.is_none() && pattern.is_none() {
                    return Err(bad("Parameter(s) EventPattern or ScheduleExpression must be specified."));
                }
                if let Some(s) = &schedule {
                    Schedule::parse(s).map_err(bad)?;
                }
                let state = text(&body, "State").unwrap_or_else(|| "ENABLED".into());
                if state != "ENABLED" && state != "DISABLED" {
                    return Err(bad(format!("1 validation error detected: Value '{state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]")));
                }
                let arn = arn_of(&name);
                {
                    let mut rules = self.rules();
                    let targets = rules.get(&name).map(|r| r.targets.clone()).unwrap_or_default();
                    let previous = rules.get(&name).cloned();
                    let scheduled_at = match &previous {
                        Some(p) if p.schedule_expression == schedule => p.scheduled_at,
                        _ => nimbus_core::time::now_epoch_millis(),
                    };
                    rules.insert(
                        name.clone(),
                        Rule {
                            name: name.clone(),
                            arn: arn.clone(),
                            schedule_expression: schedule,
                            event_pattern: pattern,
                            state,
                            description: text(&body, "Description"),
                            targets,
                            scheduled_at,
                        },
                    );
                }
                self.persist(&name).await?;
                Ok(json!({"RuleArn": arn}))
            }
            "DescribeRule" => {
                let name = text(&body, "Name").unwrap_or_default();
                self.rules().get(&name).map(rule_json).ok_or_else(|| not_found(&name))
            }
            "ListRules" => {
                let prefix = text(&body, "NamePrefix").unwrap_or_default();
                let rules: Vec<Value> =
                    self.rules().values().filter(|r| r.name.starts_with(&prefix)).map(rule_json).collect();
                Ok(json!({"Rules": rules}))
            }
            "DeleteRule" => {
                let name = text(&body, "Name").unwrap_or_default();
                {
                    let mut rules = self.rules();
                    match rules.get(&name) {
                        None => return Ok(json!({})),
                        Some(r) if !r.targets.is_empty() && body.get("Force") != Some(&json!(true)) => {
                            return Err(bad("Rule can't be deleted since it has targets."));
                        }
                        Some(_) => {
                            rules.remove(&name);
                        }
                    }
                }
                self.persist(&name).await?;
                Ok(json!({}))
            }
            "EnableRule" | "DisableRule" => {
                let name = text(&body, "Name").unwrap_or_default();
                {
                    let mut rules = self.rules();
                    let rule = rules.get_mut(&name).ok_or_else(|| not_found(&name))?;
                    rule.state = if operation == "EnableRule" { "ENABLED" } else { "DISABLED" }.into();
                }
                self.persist(&name).await?;
                Ok(json!({}))
            }
            "PutTargets" => {
                let name = text(&body, "Rule").unwrap_or_default();
                let targets: Vec<Target> = serde_json::from_value(body.get("Targets").cloned().unwrap_or(json!([])))
                    .map_err(|e| AwsError::new(400, "SerializationException", e.to_string()))?;
                {
                    let mut rules = self.rules();
                    let rule = rules.get_mut(&name).ok_or_else(|| not_found(&name))?;
                    for t in targets {
                        rule.targets.retain(|old| old.id != t.id);
                        rule.targets.push(t);
                    }
                }
                self.persist(&name).await?;
                Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
            }
            "RemoveTargets" => {
                let name = text(&body, "Rule").unwrap_or_default();
                let ids: Vec<String> = body
                    .get("Ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect();
                {
                    let mut rules = self.rules();
                    let rule = rules.get_mut(&name).ok_or_else(|| not_found(&name))?;
                    rule.targets.retain(|t| !ids.contains(&t.id));
                }
                self.persist(&name).await?;
                Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
            }
            "ListTargetsByRule" => {
                let name = text(&body, "Rule").unwrap_or_default();
                let rules = self.rules();
                let rule = rules.get(&name).ok_or_else(|| not_found(&name))?;
                Ok(json!({"Targets": rule.targets}))
            }
            _ => Err(AwsError::unknown_operation(Protocol::AwsJson1_1)),
        }
    }
}

impl Service for Events {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            let value = self.dispatch(request).await?;
            Ok(http::Response::builder()
                .status(200)
                .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
                .body(Bytes::from(value.to_string()))
                .unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests;
