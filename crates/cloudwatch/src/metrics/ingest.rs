//! Where points enter: PutMetricData (durable before it answers) and the
//! `MetricSink` (buffered, stored by a background task so a Lambda
//! invocation never waits on metrics). Summaries services aggregated
//! themselves become statistic-set points, with their histogram's
//! distribution when they have one (so percentiles stay answerable).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nimbus_core::{MetricDatum, MetricSink, MetricSummary};
use nimbus_store::{Store, StoreError, WriteBatch};
use tokio::sync::Notify;

use super::model::{self, Point, SeriesId, SeriesRecord, StatSet};
use super::prometheus::Registry;

/// Most data the sink holds before dropping (a stalled store must not eat
/// the process's memory).
const MAX_PENDING: usize = 1_000_000;
/// A series record's `last_put` is refreshed at most this often.
const SERIES_REFRESH_MS: i64 = 60_000;

pub struct Ingest {
    store: Arc<dyn Store>,
    next_seq: AtomicU64,
    /// Series key → the `last_put` last written, to skip redundant writes.
    series_seen: Mutex<HashMap<Vec<u8>, i64>>,
    pending: Mutex<Vec<MetricDatum>>,
    pending_summaries: Mutex<Vec<MetricSummary>>,
    wake: Notify,
    dropped: AtomicU64,
    pub prometheus: Registry,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Ingest {
            store,
            next_seq: AtomicU64::new(nimbus_core::time::now_epoch_millis().saturating_mul(1000)),
            series_seen: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
            pending_summaries: Mutex::new(Vec::new()),
            wake: Notify::new(),
            dropped: AtomicU64::new(0),
            prometheus: Registry::default(),
        }
    }

    /// Store points durably, registering their series.
    pub async fn store_points(&self, points: Vec<(SeriesId, i64, Point)>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        let first_seq = self.next_seq.fetch_add(points.len() as u64, Ordering::Relaxed);
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let mut batch = WriteBatch::new();
        {
            let mut seen = self.series_seen.lock().unwrap_or_else(|e| e.into_inner());
            for (i, (series, ts, point)) in points.iter().enumerate() {
                let key = series.key();
                // Raw points keep 1-second resolution.
                let ts = ts - ts.rem_euclid(1000);
                batch.put(model::POINTS, model::point_key(&key, ts, first_seq + i as u64), model::encode(point));
                let fresh = seen.get(&key).is_some_and(|last| now - last < SERIES_REFRESH_MS);
                if !fresh {
                    let record = SeriesRecord { id: series.clone(), last_put: now };
                    batch.put(model::SERIES, key.clone(), model::encode(&record));
                    seen.insert(key, now);
                }
            }
        }
        self.store.write(batch).await
    }

    /// Store everything the sink has buffered.
    pub async fn flush(&self) {
        let data = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        let summaries = std::mem::take(&mut *self.pending_summaries.lock().unwrap_or_else(|e| e.into_inner()));
        if data.is_empty() && summaries.is_empty() {
            return;
        }
        self.prometheus.observe(&data);
        self.prometheus.observe_summaries(&summaries);
        let values = data.into_iter().map(|d| {
            let series = SeriesId::new(&d.namespace, &d.name, d.dimensions);
            (series, d.timestamp_ms, Point { unit: d.unit, values: vec![(d.value, 1.0)], stats: None })
        });
        let sets = summaries.into_iter().map(|s| {
            let series = SeriesId::new(&s.namespace, &s.name, s.dimensions);
            let stats = StatSet { n: s.sample_count, sum: s.sum, min: s.minimum, max: s.maximum };
            let values = model::distribution(&s.buckets, s.minimum, s.maximum);
            (series, s.timestamp_ms, Point { unit: s.unit, values, stats: Some(stats) })
        });
        let points = values.chain(sets).collect();
        if let Err(err) = self.store_points(points).await {
            tracing::warn!(%err, "storing service metrics failed");
        }
    }

    /// Flush buffered metrics in the background until `ingest` is dropped.
    pub fn spawn_flusher(ingest: &Arc<Ingest>) {
        let weak = Arc::downgrade(ingest);
        tokio::spawn(async move {
            loop {
                let Some(ingest) = weak.upgrade() else { return };
                tokio::select! {
                    _ = ingest.wake.notified() => {
                        // Let a burst gather into one batch.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                ingest.flush().await;
            }
        });
    }
}

impl Ingest {
    /// Queue `data` for the flusher unless the buffer is full.
    fn enqueue<T>(&self, pending: &Mutex<Vec<T>>, data: Vec<T>) {
        let mut pending = pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() + data.len() > MAX_PENDING {
            if self.dropped.fetch_add(data.len() as u64, Ordering::Relaxed) == 0 {
                tracing::warn!("metric buffer full: dropping service metrics until the store catches up");
            }
            return;
        }
        pending.extend(data);
        drop(pending);
        self.wake.notify_one();
    }
}

impl MetricSink for Ingest {
    fn put_metrics(&self, data: Vec<MetricDatum>) {
        self.enqueue(&self.pending, data);
    }

    fn put_summaries(&self, data: Vec<MetricSummary>) {
        self.enqueue(&self.pending_summaries, data);
    }
}
