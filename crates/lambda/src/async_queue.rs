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
        for (k, v) in due {
            if !in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(k.clone()) {
                continue;
            }
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
    let now = nimbus_core::time::now_epoch_millis();
    let input = InvokeInput {
        request_id: event.request_id.clone(),
        payload: Bytes::from(base64_decode(&event.payload).unwrap_or_default()),
        client_context: None,
        tail: false,
        invoked_arn: function.arn(&engine.ctx),
    };
    let retry_at = match engine.invoke(&function, &event.version, input).await {
        Err(err) if err.status == 429 => Some(now + THROTTLE_WAIT_MS),
        Err(err) => {
            tracing::warn!(function = %event.function, %err, "lambda: async invocation failed to run");
            None
        }
        Ok(result) if result.function_error.is_some() => {
            event.attempts += 1;
            let age = now.saturating_sub(event.enqueued_ms);
            if event.attempts <= DEFAULT_MAX_RETRIES && age < DEFAULT_MAX_AGE_MS {
                Some(now + engine.async_retry_delay.as_millis() as u64 * event.attempts as u64)
            } else {
                tracing::info!(function = %event.function, request_id = %event.request_id, "lambda: async event failed after retries; dropped");
                None
            }
        }
        Ok(_) => None,
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
