//! Trimming: records older than the retention period stop being readable at
//! once (`horizon`), and a background pass deletes them, remembering in the
//! stream how far it got, and forgets streams disabled for longer than it.

use std::sync::Arc;
use std::time::Duration;

use nimbus_core::time::now_epoch_millis;
use nimbus_core::AwsError;
use nimbus_store::{transact, Direction, ReadView, ReadViewExt, Store, StoreError, TxnError, WriteBatch};

use super::model::{load, meta_key, record_key, StoredRecord, StreamMeta, RECORDS, STREAMS};

/// Where a shard's readable records start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    /// Sequence numbers up to this one are trimmed (0: none are).
    pub trimmed_through: u64,
    /// Where a TRIM_HORIZON iterator starts reading.
    pub first: u64,
}

/// Records deleted per transaction, so one pass never holds the writer long.
const TRIM_BATCH: usize = 1000;

/// The horizon of `meta`'s shard for records written before `cutoff`
/// (epoch milliseconds) being trimmed.
pub fn horizon(view: &dyn ReadView, meta: &StreamMeta, cutoff: u64) -> Result<Horizon, StoreError> {
    let mut horizon = match meta.trimmed_through {
        0 => Horizon { trimmed_through: 0, first: meta.start_seq + 1 },
        t => Horizon { trimmed_through: t, first: t + 1 },
    };
    // Records are in time order: the expired ones come first.
    loop {
        let rows = meta.scan(view, horizon.first, Direction::Forward, 256)?;
        if rows.is_empty() {
            return Ok(horizon);
        }
        for (seq, bytes) in rows {
            let record: StoredRecord = serde_json::from_slice(&bytes).map_err(|e| StoreError(e.to_string()))?;
            if record.at >= cutoff {
                return Ok(horizon);
            }
            horizon = Horizon { trimmed_through: seq, first: seq + 1 };
        }
    }
}

/// Trim every stream once a while, until the runtime stops.
pub fn start(store: Arc<dyn Store>, retention_ms: u64) {
    let every = Duration::from_millis((retention_ms / 2).clamp(1000, 60_000));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if let Err(err) = trim_all(store.as_ref(), retention_ms).await {
                tracing::warn!("trimming DynamoDB stream records: {err}");
            }
        }
    });
}

/// One pass over every stream of every region.
pub async fn trim_all(store: &dyn Store, retention_ms: u64) -> Result<(), String> {
    let now = now_epoch_millis();
    let cutoff = now.saturating_sub(retention_ms);
    let streams = store.scan_prefix(STREAMS, b"", usize::MAX).map_err(|e| e.to_string())?;
    for (_, bytes) in streams {
        let meta: StreamMeta = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let gone = meta.disabled_at.is_some_and(|at| (at * 1000.0) as u64 + retention_ms <= now);
        if gone {
            forget(store, meta).await?;
        } else {
            trim(store, &meta, cutoff).await?;
        }
    }
    Ok(())
}

/// Delete `meta`'s expired records, a batch per transaction.
async fn trim(store: &dyn Store, meta: &StreamMeta, cutoff: u64) -> Result<(), String> {
    loop {
        let snapshot = store.snapshot().map_err(|e| e.to_string())?;
        let current = load(snapshot.as_ref(), &meta.region, &meta.table_name, &meta.label)
            .map_err(|e| e.message)?
            .ok_or("stream vanished")?;
        let through = horizon(snapshot.as_ref(), &current, cutoff).map_err(|e| e.to_string())?.trimmed_through;
        if through <= current.trimmed_through {
            return Ok(());
        }
        let start = current.trimmed_through.max(current.start_seq);
        let expired =
            current.scan(snapshot.as_ref(), start, Direction::Forward, TRIM_BATCH).map_err(|e| e.to_string())?;
        let seqs: Vec<u64> = expired.into_iter().map(|(s, _)| s).filter(|s| *s <= through).collect();
        let Some(&last) = seqs.last() else { return Ok(()) };
        let key = meta_key(&meta.region, &meta.table_name, &meta.label);
        transact(store, move |view: &dyn ReadView| {
            // Re-read: the stream may have been disabled since the snapshot.
            let mut meta = load(view, &current.region, &current.table_name, &current.label)
                .map_err(TxnError::Aborted)?
                .ok_or_else(|| TxnError::Aborted(AwsError::internal("stream vanished")))?;
            let mut batch = WriteBatch::new();
            let prefix = meta.records_prefix();
            for seq in &seqs {
                batch.delete(RECORDS, record_key(&prefix, *seq));
            }
            meta.trimmed_through = meta.trimmed_through.max(last);
            batch.put(STREAMS, key, serde_json::to_vec(&meta).unwrap_or_default());
            Ok((batch, ()))
        })
        .await
        .map_err(|e| format!("{e:?}"))?;
    }
}

/// Remove a stream disabled for longer than the retention period, records and all.
async fn forget(store: &dyn Store, meta: StreamMeta) -> Result<(), String> {
    let mut batch = WriteBatch::new();
    batch.delete_prefix(RECORDS, &meta.records_prefix());
    batch.delete(STREAMS, meta_key(&meta.region, &meta.table_name, &meta.label));
    store.write(batch).await.map_err(|e| e.to_string())
}
