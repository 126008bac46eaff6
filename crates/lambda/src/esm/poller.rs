//! One poller per mapping: it reads the stream in order from the mapping's
//! checkpoint, hands batches to the function synchronously, and moves the
//! checkpoint (durably) only past records the function handled or that the
//! retry policy gave up on, so a restart resumes without skipping a record.
//!
//! A failed batch is retried, with growing pauses, until it succeeds, its
//! retries (`MaximumRetryAttempts`) run out or its oldest record gets older
//! than `MaximumRecordAgeInSeconds`; with `BisectBatchOnFunctionError` a
//! failed batch is split in two first, which isolates a poison record. With
//! `ReportBatchItemFailures` the function names the first record it failed
//! on, and processing resumes from there.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nimbus_core::time::now_epoch_millis;
use nimbus_core::{InvokeRequest, StartingPosition, StreamReader, StreamRecord};
use serde_json::{json, Value};

use super::filter::{passes, Pattern};
use super::model::{MappingRecord, FUNCTION_FAILED, OK};
use super::Mappings;
use crate::engine::Engine;

/// How long an idle poller sleeps: it wakes sooner when the reader signals
/// a write; without signals (or for writes that send none, such as Time to
/// Live deletions) this bounds the delay.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// Without change signals, poll this often so writes arrive within tens of ms.
const IDLE_POLL_UNSIGNALLED: Duration = Duration::from_millis(20);
/// How often a disabled mapping checks whether it was enabled again.
const DISABLED_POLL: Duration = Duration::from_millis(100);
/// How long a poller whose stream cannot be read waits before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Pauses between retries of a failed batch: doubling up to the cap.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// A batch still to deliver and how often it has failed.
struct Pending {
    records: Vec<StreamRecord>,
    attempts: i64,
}

/// How one invocation went.
enum Delivery {
    Handled,
    /// The function reported a failure from this record (by index) on.
    FailedFrom(usize),
    Failed,
}

pub async fn run(
    mappings: Arc<Mappings>,
    engine: std::sync::Weak<Engine>,
    reader: Arc<dyn StreamReader>,
    uuid: String,
) {
    let mut changes = reader.changes();
    // When the batch now waiting for its batching window was first seen.
    let mut window: Option<Instant> = None;
    loop {
        // Marked seen before reading, so a write during the read still ends the wait below.
        if let Some(rx) = changes.as_mut() {
            rx.borrow_and_update();
        }
        let Some(engine) = engine.upgrade() else { break };
        let mapping = match mappings.store.get(&uuid) {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(%uuid, "event source mapping: {}", e.message);
                tokio::time::sleep(DISABLED_POLL).await;
                continue;
            }
        };
        mappings.settle_state(&mapping).await;
        if !mapping.enabled {
            tokio::time::sleep(DISABLED_POLL).await;
            continue;
        }
        match poll_once(&mappings, &engine, reader.as_ref(), &mapping, &mut window).await {
            Ok(true) => {}
            Ok(false) => idle(changes.as_mut()).await,
            Err(message) => {
                tracing::warn!(%uuid, "event source mapping: {message}");
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    mappings.poller_stopped(&uuid);
}

/// Wait for a write signal (or the idle bound).
async fn idle(changes: Option<&mut tokio::sync::watch::Receiver<u64>>) {
    match changes {
        Some(rx) => {
            if let Ok(Err(_)) = tokio::time::timeout(IDLE_POLL, rx.changed()).await {
                // The writer is gone (shutting down): no more signals.
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
        None => tokio::time::sleep(IDLE_POLL_UNSIGNALLED).await,
    }
}

/// Read one batch and deliver it; `Ok(false)` when there was nothing new.
async fn poll_once(
    mappings: &Mappings,
    engine: &Engine,
    reader: &dyn StreamReader,
    mapping: &MappingRecord,
    window: &mut Option<Instant>,
) -> Result<bool, String> {
    let Some(position) = mappings.store.position(&mapping.uuid).map_err(|e| e.message)? else {
        return Ok(false);
    };
    let mut batch = match reader.read(&mapping.event_source_arn, &position, mapping.batch_size as usize) {
        Ok(batch) => batch,
        Err(e) if e.code == "TrimmedDataAccessException" => {
            // Records expired before they were read (the mapping was off for
            // longer than the stream keeps them): go on from the oldest left.
            let oldest = reader
                .starting_position(&mapping.event_source_arn, StartingPosition::TrimHorizon)
                .map_err(|e| e.message)?;
            tracing::warn!(uuid = %mapping.uuid, "event source mapping: records expired unread; resuming at the trim horizon");
            checkpoint(mappings, &mapping.uuid, &oldest).await?;
            return Ok(true);
        }
        Err(e) => return Err(e.message),
    };
    if batch.records.is_empty() {
        return Ok(false);
    }
    if !window_elapsed(mapping, batch.records.len(), window) {
        return Ok(false);
    }
    for record in &mut batch.records {
        record.event["eventSourceARN"] = json!(mapping.event_source_arn);
    }
    let patterns: Vec<Pattern> = mapping.filters.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
    // Records no filter matches are dropped, as Lambda drops them.
    let wanted: Vec<StreamRecord> = batch.records.into_iter().filter(|r| passes(&patterns, &r.event)).collect();
    let mut queue = VecDeque::from([Pending { records: wanted, attempts: 0 }]);
    while let Some(mut pending) = queue.pop_front() {
        if pending.records.is_empty() {
            continue;
        }
        if !still_enabled(mappings, &mapping.uuid) {
            // Disabled or deleted midway: the checkpoint says where to resume.
            return Ok(true);
        }
        let delivery = deliver(engine, mapping, &pending.records).await;
        let result = if matches!(delivery, Delivery::Handled) { OK } else { FUNCTION_FAILED };
        mappings.record_result(&mapping.uuid, result).await;
        let failed_from = match delivery {
            Delivery::Handled => {
                let last = pending.records.last().map(|r| r.next_position.clone()).unwrap_or_default();
                checkpoint(mappings, &mapping.uuid, &last).await?;
                continue;
            }
            Delivery::FailedFrom(index) => index,
            Delivery::Failed => 0,
        };
        if failed_from > 0 {
            // The records before the reported one are done.
            checkpoint(mappings, &mapping.uuid, &pending.records[failed_from].position).await?;
            pending.records.drain(..failed_from);
        }
        if mapping.bisect_on_error && failed_from == 0 && pending.records.len() > 1 {
            let second = pending.records.split_off(pending.records.len() / 2);
            queue.push_front(Pending { records: second, attempts: pending.attempts });
            queue.push_front(Pending { records: pending.records, attempts: pending.attempts });
            continue;
        }
        pending.attempts += 1;
        if gives_up(mapping, &pending) {
            // On AWS the OnFailure destination (SQS, SNS, S3) would get a
            // description of the batch; Nimbus has none, so the server log does.
            let first = &pending.records[0].sequence_number;
            let destination = mapping.on_failure.as_deref().unwrap_or("none");
            tracing::warn!(
                uuid = %mapping.uuid,
                "event source mapping: dropping {} record(s) from sequence number {first} after {} failed attempt(s); OnFailure destination {destination} is not delivered to",
                pending.records.len(),
                pending.attempts
            );
            let last = pending.records.last().map(|r| r.next_position.clone()).unwrap_or_default();
            checkpoint(mappings, &mapping.uuid, &last).await?;
            continue;
        }
        tokio::time::sleep(retry_pause(pending.attempts)).await;
        queue.push_front(pending);
    }
    checkpoint(mappings, &mapping.uuid, &batch.next_position).await?;
    Ok(true)
}

async fn checkpoint(mappings: &Mappings, uuid: &str, position: &str) -> Result<(), String> {
    mappings.store.checkpoint(uuid, position).await.map_err(|e| e.message)
}

fn still_enabled(mappings: &Mappings, uuid: &str) -> bool {
    matches!(mappings.store.get(uuid), Ok(Some(m)) if m.enabled)
}

/// With a batching window, a batch short of BatchSize waits until the
/// window has passed since its first record was seen.
fn window_elapsed(mapping: &MappingRecord, count: usize, first_seen: &mut Option<Instant>) -> bool {
    if mapping.batching_window_seconds == 0 || count >= mapping.batch_size as usize {
        *first_seen = None;
        return true;
    }
    let since = *first_seen.get_or_insert_with(Instant::now);
    if since.elapsed() >= Duration::from_secs(mapping.batching_window_seconds as u64) {
        *first_seen = None;
        return true;
    }
    false
}

fn gives_up(mapping: &MappingRecord, pending: &Pending) -> bool {
    let retries_spent = mapping.maximum_retry_attempts >= 0 && pending.attempts > mapping.maximum_retry_attempts;
    let oldest = pending.records.first().map_or(0, |r| r.created_ms);
    let too_old = mapping.maximum_record_age_seconds >= 0
        && now_epoch_millis().saturating_sub(oldest) > mapping.maximum_record_age_seconds as u64 * 1000;
    retries_spent || too_old
}

fn retry_pause(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 16) as u32 - 1;
    FIRST_RETRY_PAUSE.saturating_mul(1 << doublings).min(MAX_RETRY_PAUSE)
}

/// Invoke the function with `{"Records": [...]}` and read its verdict.
async fn deliver(engine: &Engine, mapping: &MappingRecord, records: &[StreamRecord]) -> Delivery {
    let events: Vec<&Value> = records.iter().map(|r| &r.event).collect();
    let payload = Bytes::from(json!({ "Records": events }).to_string());
    let request = InvokeRequest {
        function: mapping.function_name.clone(),
        qualifier: mapping.qualifier.clone(),
        payload,
        client_context: None,
    };
    let outcome = match crate::invoke_function(engine, request).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(uuid = %mapping.uuid, "event source mapping: invoke failed: {}", e.message);
            return Delivery::Failed;
        }
    };
    if outcome.function_error.is_some() {
        return Delivery::Failed;
    }
    if !mapping.reports_item_failures() {
        return Delivery::Handled;
    }
    item_failures(&outcome.payload, records)
}

/// Read a `{"batchItemFailures": [{"itemIdentifier": seq}]}` response: the
/// earliest failed record is where to resume. An empty or absent list is
/// success; an identifier that names no record of the batch fails it whole.
fn item_failures(payload: &[u8], records: &[StreamRecord]) -> Delivery {
    let Ok(response) = serde_json::from_slice::<Value>(payload) else {
        return Delivery::Handled;
    };
    let Some(failures) = response.get("batchItemFailures").and_then(Value::as_array) else {
        return Delivery::Handled;
    };
    let mut earliest: Option<usize> = None;
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str);
        let Some(index) = id.and_then(|id| records.iter().position(|r| r.sequence_number == id)) else {
            return Delivery::Failed;
        };
        earliest = Some(earliest.map_or(index, |e| e.min(index)));
    }
    match earliest {
        None => Delivery::Handled,
        Some(0) => Delivery::Failed,
        Some(index) => Delivery::FailedFrom(index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<StreamRecord> {
        (0..n)
            .map(|i| StreamRecord {
                sequence_number: format!("{i:021}"),
                position: i.to_string(),
                next_position: (i + 1).to_string(),
                created_ms: 0,
                event: json!({}),
            })
            .collect()
    }

    #[test]
    fn item_failures_resume_from_the_earliest() {
        let batch = records(4);
        let response = |ids: &[&str]| {
            let failures: Vec<Value> = ids.iter().map(|id| json!({ "itemIdentifier": id })).collect();
            json!({ "batchItemFailures": failures }).to_string().into_bytes()
        };
        assert!(matches!(item_failures(&response(&[]), &batch), Delivery::Handled));
        assert!(matches!(item_failures(b"null", &batch), Delivery::Handled));
        let (two, three) = (format!("{:021}", 2), format!("{:021}", 3));
        assert!(matches!(item_failures(&response(&[&three, &two]), &batch), Delivery::FailedFrom(2)));
        assert!(matches!(item_failures(&response(&[&format!("{:021}", 0)]), &batch), Delivery::Failed));
        assert!(matches!(item_failures(&response(&["nope"]), &batch), Delivery::Failed));
    }

    #[test]
    fn retry_pauses_double_up_to_a_cap() {
        assert_eq!(retry_pause(1), FIRST_RETRY_PAUSE);
        assert_eq!(retry_pause(2), FIRST_RETRY_PAUSE * 2);
        assert_eq!(retry_pause(40), MAX_RETRY_PAUSE);
    }
}
