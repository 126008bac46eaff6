//! Asynchronous invocation: a durable queue in the Store, drained by one
//! worker, with Lambda's retry policy (two retries by default, one and two
//! minutes apart, events older than six hours dropped). Throttled events wait
//! and are not counted as attempts. Keyspace `lambda.async`:
//! (due epoch ms, request id) → JSON `QueuedEvent`, so due events are one
//! range scan from the start.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use nimbus_core::AwsError;
use nimbus_store::{Direction, KeyWriter, ReadViewExt, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, InvokeInput};
use crate::util::{base64_decode, base64_encode, internal};

pub const QUEUE: &str = "lambda.async";
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_MAX_AGE_MS: u64 = 6 * 3600 * 1000;
/// How long a throttled event waits before it is tried again.
const THROTTLE_WAIT_MS: u64 = 1000;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub function: String,
    pub version: String,
    /// Base64 payload.
    pub payload: String,
    pub request_id: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub enqueued_ms: u64,
    /// The qualifier invoked (whose event invoke config applies).
    #[serde(default)]
    pub qualifier: Option<String>,
}

fn key(due_ms: u64, request_id: &str) -> Vec<u8> {
    KeyWriter::new().u64(due_ms).str(request_id).finish()
}

impl Engine {
    /// Store an Event invocation durably; the worker picks it up.
    pub async fn enqueue_async(
        &self,
        function: &str,
        version: &str,
        qualifier: Option<String>,
        payload: Bytes,
        request_id: String,
    ) -> Result<(), AwsError> {
        let now = nimbus_core::time::now_epoch_millis();
        let event = QueuedEvent {
            function: function.to_owned(),
            version: version.to_owned(),
            payload: base64_encode(&payload),
            request_id,
            attempts: 0,
            enqueued_ms: now,
            qualifier,
        };
        let mut batch = WriteBatch::new();
        batch.put(QUEUE, key(now, &event.request_id), serde_json::to_vec(&event).map_err(internal)?);
        self.store.write(batch).await.map_err(internal)?;
        self.async_wakeup.notify_one();
        Ok(())
    }
}

/// Drain the queue for as long as the engine lives.
pub async fn run_worker(engine: Arc<Engine>) {
    let in_flight: Arc<Mutex<HashSet<Vec<u8>>>> = Arc::default();
    loop {
        let now = nimbus_core::time::now_epoch_millis();
        let upper = KeyWriter::new().u64(now + 1).finish();
        let due = engine
            .store
            .scan_collect(QUEUE, (Bound::Unbounded, Bound::Excluded(upper.as_slice())), Direction::Forward, 256)
            .unwrap_or_default();
        for (k, _) in due {
            if !in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(k.clone()) {
                continue;
            }
            // The scan's snapshot may predate a task that has since handled
            // this event and left `in_flight`: read it again now. A task
            // leaves `in_flight` only once its queue update is acknowledged,
            // so this read sees that update (and skips the event).
            let Some(v) = engine.store.get(QUEUE, &k).ok().flatten() else {
                in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&k);
                continue;
            };
            let Ok(event) = serde_json::from_slice::<QueuedEvent>(&v) else {
                let mut batch = WriteBatch::new();
                batch.delete(QUEUE, k);
                let _ = engine.store.write(batch).await;
                continue;
            };
            let (engine, in_flight) = (engine.clone(), in_flight.clone());
            tokio::spawn(async move {
                process(&engine, &k, event).await;
                in_flight.lock().unwrap_or_else(|e| e.into_inner()).remove(&k);
                engine.async_wakeup.notify_one();
            });
        }
        // Sleep until woken or the next event may be due.
        let next_due = engine
            .store
            .scan_collect(QUEUE, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 1)
            .ok()
            .and_then(|rows| rows.first().and_then(|(k, _)| k.get(..8).map(|b| b.to_vec())))
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes));
        let wait = match next_due {
            Some(due) => {
                Duration::from_millis(due.saturating_sub(nimbus_core::time::now_epoch_millis()).clamp(10, 1000))
            }
            None => Duration::from_secs(1),
        };
        tokio::select! {
            () = engine.async_wakeup.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn process(engine: &Engine, queue_key: &[u8], mut event: QueuedEvent) {
    let mut batch = WriteBatch::new();
    batch.delete(QUEUE, queue_key.to_vec());
    let qualifier = (event.version != "$LATEST").then_some(event.version.as_str());
    let function = match crate::api::resolve(engine, &event.function, qualifier, false) {
        Ok(f) => f,
        // Deleted since: the event has nowhere to go.
        Err(e) if e.status == 404 => {
            let _ = engine.store.write(batch).await;
            return;
        }
        Err(_) => return,
    };
    let config = engine
        .functions
        .get(&event.function)
        .ok()
        .flatten()
        .and_then(|latest| latest.event_invoke.get(event.qualifier.as_deref().unwrap_or("$LATEST")).cloned())
        .unwrap_or_default();
    let max_retries = config.maximum_retry_attempts.unwrap_or(DEFAULT_MAX_RETRIES);
    let max_age_ms = config.maximum_event_age_seconds.map_or(DEFAULT_MAX_AGE_MS, |s| u64::from(s) * 1000);
    let now = nimbus_core::time::now_epoch_millis();
    let payload = Bytes::from(base64_decode(&event.payload).unwrap_or_default());
    if now.saturating_sub(event.enqueued_ms) > max_age_ms {
        deliver(engine, &config.on_failure, &event, &function.version(), "EventAgeExceeded", None).await;
        let _ = engine.store.write(batch).await;
        return;
    }
    let input = InvokeInput {
        request_id: event.request_id.clone(),
        payload: payload.clone(),
        client_context: None,
        tail: false,
        invoked_arn: match &event.qualifier {
            Some(q) => format!("{}:{q}", function.arn(&engine.ctx)),
            None => function.arn(&engine.ctx),
        },
    };
    let retry_at = match engine.invoke(&function, &event.version, input).await {
        // Throttled events wait; the attempt does not count.
        Err(err) if err.status == 429 => Some(now + THROTTLE_WAIT_MS),
        Err(err) => {
            tracing::warn!(function = %event.function, %err, "lambda: async invocation failed to run");
            None
        }
        Ok(result) if result.function_error.is_some() => {
            event.attempts += 1;
            let age = nimbus_core::time::now_epoch_millis().saturating_sub(event.enqueued_ms);
            if event.attempts <= max_retries && age < max_age_ms {
                Some(now + engine.async_retry_delay.as_millis() as u64 * event.attempts as u64)
            } else {
                let condition = if age >= max_age_ms { "EventAgeExceeded" } else { "RetriesExhausted" };
                tracing::info!(function = %event.function, request_id = %event.request_id, condition, "lambda: async event failed");
                deliver(engine, &config.on_failure, &event, &result.executed_version, condition, Some(&result)).await;
                None
            }
        }
        Ok(result) => {
            event.attempts += 1;
            deliver(engine, &config.on_success, &event, &result.executed_version, "Success", Some(&result)).await;
            None
        }
    };
    if let Some(due) = retry_at {
        if let Ok(value) = serde_json::to_vec(&event) {
            batch.put(QUEUE, key(due, &event.request_id), value);
        }
    }
    if let Err(e) = engine.store.write(batch).await {
        tracing::warn!(error = %e, "lambda: updating the async queue failed");
    }
}

/// Send Lambda's invocation record to a destination (another function,
/// invoked asynchronously; other services are not part of Nimbus yet).
async fn deliver(
    engine: &Engine,
    destination: &Option<String>,
    event: &QueuedEvent,
    executed_version: &str,
    condition: &str,
    result: Option<&crate::engine::InvokeResult>,
) {
    let Some(destination) = destination else { return };
    let Some(parsed) = nimbus_core::arn::Arn::parse(destination) else { return };
    let Some(target) = parsed.resource.strip_prefix("function:").filter(|_| parsed.service == "lambda") else {
        tracing::warn!(destination, "lambda: only Lambda functions are supported as destinations; record dropped");
        return;
    };
    let (target, target_qualifier) = match target.split_once(':') {
        Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let as_json = |bytes: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
    };
    let request_payload = as_json(&base64_decode(&event.payload).unwrap_or_default());
    let mut response_context = serde_json::json!({ "statusCode": 200, "executedVersion": executed_version });
    if let Some(error) = result.and_then(|r| r.function_error.as_ref()) {
        response_context["functionError"] = error.clone().into();
    }
    let mut record = serde_json::json!({
        "version": "1.0",
        "timestamp": nimbus_core::time::format_iso8601_millis(nimbus_core::time::now_epoch_millis() as i64),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": format!("{}:{}", crate::model::function_arn(&engine.ctx, &event.function), event.qualifier.as_deref().unwrap_or(executed_version)),
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": request_payload,
    });
    if let Some(result) = result {
        record["responseContext"] = response_context;
        record["responsePayload"] = as_json(&result.payload);
    }
    let version = target_qualifier.clone().unwrap_or_else(|| "$LATEST".into());
    let version = match crate::api::resolve(engine, &target, target_qualifier.as_deref(), true) {
        Ok(f) => f.version(),
        Err(_) => version,
    };
    let payload = Bytes::from(record.to_string());
    if let Err(e) =
        engine.enqueue_async(&target, &version, target_qualifier, payload, nimbus_core::request::new_request_id()).await
    {
        tracing::warn!(destination, %e, "lambda: delivering to the destination failed");
    }
}
