//! Usage records for metering: one per invocation (billed ms, memory,
//! cold or warm), kept in memory on the hot path and written to the Store in
//! batches once a second. Keyspace `lambda.usage`: (epoch ms, request id) →
//! JSON `UsageRecord`, so a billing period is one range scan. `summarize`
//! reads them back per function with what Lambda would bill for them.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::sync::Mutex;
use std::time::Duration;

use nimbus_store::{Direction, KeyWriter, Store, WriteBatch};
use serde::{Deserialize, Serialize};

/// AWS's published on-demand Lambda prices for x86 in us-east-1 (USD).
pub const PRICE_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
pub const PRICE_PER_GB_SECOND: f64 = 0.0000166667;

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

/// One function's usage over a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Totals {
    pub requests: u64,
    pub cold_starts: u64,
    pub errors: u64,
    pub billed_ms: u64,
    /// Billed duration times configured memory, as Lambda bills compute.
    pub gb_seconds: f64,
    /// Requests plus compute at `PRICE_PER_REQUEST` and `PRICE_PER_GB_SECOND`.
    pub cost_usd: f64,
}

impl Totals {
    fn add(&mut self, r: &UsageRecord) {
        self.requests += 1;
        self.cold_starts += u64::from(r.cold);
        self.errors += u64::from(r.error);
        self.billed_ms += r.billed_ms;
        self.gb_seconds += r.billed_ms as f64 / 1000.0 * f64::from(r.memory_mb) / 1024.0;
        self.cost_usd = self.requests as f64 * PRICE_PER_REQUEST + self.gb_seconds * PRICE_PER_GB_SECOND;
    }
}

/// Per-function totals and their sum for records at or after `since_ms`.
pub fn summarize(store: &dyn Store, since_ms: u64) -> nimbus_store::Result<(BTreeMap<String, Totals>, Totals)> {
    let start = KeyWriter::new().u64(since_ms).finish();
    let (mut per_function, mut total) = (BTreeMap::<String, Totals>::new(), Totals::default());
    store.scan(USAGE, (Bound::Included(&start[..]), Bound::Unbounded), Direction::Forward, &mut |_, value| {
        if let Ok(record) = serde_json::from_slice::<UsageRecord>(value) {
            per_function.entry(record.function.clone()).or_default().add(&record);
            total.add(&record);
        }
        ControlFlow::Continue(())
    })?;
    Ok((per_function, total))
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
        let (per_function, total) = summarize(store.as_ref(), 0).unwrap();
        assert_eq!(total.requests, 2);
        assert_eq!(total.cold_starts, 1);
        assert_eq!(per_function["f"].billed_ms, 6);
        // 6 ms at 128 MB = 0.00075 GB-s.
        assert!((total.gb_seconds - 0.00075).abs() < 1e-12);
        assert!((total.cost_usd - (2.0 * PRICE_PER_REQUEST + 0.00075 * PRICE_PER_GB_SECOND)).abs() < 1e-15);
        assert_eq!(summarize(store.as_ref(), 15).unwrap().1.requests, 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
