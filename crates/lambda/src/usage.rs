//! Usage records for metering: one per invocation (billed ms, memory,
//! cold or warm), kept in memory on the hot path and written to the Store in
//! batches once a second. Keyspace `lambda.usage`: (epoch ms, request id) →
//! JSON `UsageRecord`, so a billing period is one range scan.

use std::sync::Mutex;
use std::time::Duration;

use nimbus_store::{KeyWriter, Store, WriteBatch};
use serde::{Deserialize, Serialize};

pub const USAGE: &str = "lambda.usage";
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub timestamp_ms: u64,
    pub request_id: String,
    pub function: String,
    pub version: String,
    pub billed_ms: u64,
    pub memory_mb: u32,
    pub cold: bool,
    pub error: bool,
}

/// Records waiting to be written.
#[derive(Default)]
pub struct UsageLog {
    pending: Mutex<Vec<UsageRecord>>,
}

impl UsageLog {
    pub fn record(&self, record: UsageRecord) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }

    /// Write everything recorded so far.
    pub async fn flush(&self, store: &dyn Store) {
        let records = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if records.is_empty() {
            return;
        }
        let mut batch = WriteBatch::new();
        for r in &records {
            let key = KeyWriter::new().u64(r.timestamp_ms).str(&r.request_id).finish();
            if let Ok(value) = serde_json::to_vec(r) {
                batch.put(USAGE, key, value);
            }
        }
        if let Err(e) = store.write(batch).await {
            tracing::warn!(error = %e, records = records.len(), "lambda: writing usage records failed");
        }
    }

    /// Flush once a second for as long as `store` is wanted.
    pub async fn run(log: std::sync::Weak<crate::engine::Engine>) {
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let Some(engine) = log.upgrade() else { break };
            engine.usage.flush(engine.store.as_ref()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;
    use std::sync::Arc;

    use nimbus_store::{Direction, ReadViewExt};

    use super::*;

    #[tokio::test]
    async fn records_are_flushed_in_time_order() {
        let dir = std::env::temp_dir().join(format!("nimbus-lambda-usage-{}", crate::util::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn Store> = nimbus_store_redb::RedbStore::open(&dir.join("s.redb")).unwrap();
        let log = UsageLog::default();
        for (t, id) in [(20, "b"), (10, "a")] {
            log.record(UsageRecord {
                timestamp_ms: t,
                request_id: id.into(),
                function: "f".into(),
                version: "$LATEST".into(),
                billed_ms: 3,
                memory_mb: 128,
                cold: t == 10,
                error: false,
            });
        }
        log.flush(store.as_ref()).await;
        let rows = store.scan_collect(USAGE, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 10).unwrap();
        let ids: Vec<String> =
            rows.iter().map(|(_, v)| serde_json::from_slice::<UsageRecord>(v).unwrap().request_id).collect();
        assert_eq!(ids, ["a", "b"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
