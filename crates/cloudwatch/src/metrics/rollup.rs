//! Roll-ups: CloudWatch's retention tiers applied to stored points.
//!
//! | age of data      | resolution kept |
//! |------------------|-----------------|
//! | under 3 hours    | 1 second (raw)  |
//! | 3 hours–15 days  | 1 minute        |
//! | 15–63 days       | 5 minutes       |
//! | 63–455 days      | 1 hour          |
//! | over 455 days    | deleted         |
//!
//! A pass merges, per series, every bucket of the next resolution that
//! holds more than one point into one point at the bucket's start (values
//! and counts kept while they fit, so percentiles survive; else a
//! statistic set). Passes are idempotent and run every few minutes.

use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::sync::Weak;
use std::time::Duration;

use nimbus_store::{Direction, WriteBatch, WriteOp};

use super::model::{self, Point};
use super::MetricsService;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// (age beyond which, bucket size) in milliseconds.
pub const TIERS: [(i64, i64); 3] = [(3 * HOUR_MS, 60_000), (15 * DAY_MS, 300_000), (63 * DAY_MS, HOUR_MS)];
pub const MAX_AGE_MS: i64 = 455 * DAY_MS;
const INTERVAL: Duration = Duration::from_secs(300);

impl MetricsService {
    /// One roll-up pass over every series at time `now`; returns how many
    /// points were merged away or deleted.
    pub async fn roll_up(&self, now: i64) -> Result<usize, nimbus_store::StoreError> {
        self.roll_up_window(now, None).await
    }

    /// A pass that only looks `lookback` ms behind each tier's cutoff: what
    /// crossed it since the previous pass. The first pass after start is
    /// full (`None`), so nothing missed while stopped stays raw.
    async fn roll_up_window(&self, now: i64, lookback: Option<i64>) -> Result<usize, nimbus_store::StoreError> {
        let mut changed = 0;
        for record in model::list_series(self.store.as_ref(), &[])? {
            let series = record.id.key();
            let mut batch = WriteBatch::new();
            // Past the last tier: gone.
            let expired_end = model::series_time_bound(&series, now - MAX_AGE_MS);
            batch.ops.push(WriteOp::DeleteRange { ks: model::POINTS, start: series.clone(), end: Some(expired_end) });
            for (age, bucket) in TIERS {
                let cutoff = (now - age) - (now - age).rem_euclid(bucket);
                let from = lookback.map(|ms| cutoff - ms - bucket);
                changed += self.merge_buckets(&series, from, cutoff, bucket, &mut batch)?;
            }
            self.store.write(batch).await?;
        }
        Ok(changed)
    }

    fn merge_buckets(
        &self,
        series: &[u8],
        from: Option<i64>,
        cutoff: i64,
        bucket: i64,
        batch: &mut WriteBatch,
    ) -> Result<usize, nimbus_store::StoreError> {
        let upper = model::series_time_bound(series, cutoff);
        // Whole buckets only: start at a bucket boundary.
        let lower = match from {
            Some(from) => model::series_time_bound(series, from - from.rem_euclid(bucket)),
            None => series.to_vec(),
        };
        let mut groups: BTreeMap<i64, Vec<(Vec<u8>, Point)>> = BTreeMap::new();
        self.store.scan(
            model::POINTS,
            (Bound::Included(&lower), Bound::Excluded(&upper)),
            Direction::Forward,
            &mut |key, value| {
                let ts = key.get(series.len()..series.len() + 8).and_then(|b| <[u8; 8]>::try_from(b).ok());
                if let (Some(ts), Ok(point)) = (ts, serde_json::from_slice::<Point>(value)) {
                    let ts = model::time_from_key(u64::from_be_bytes(ts));
                    groups.entry(ts - ts.rem_euclid(bucket)).or_default().push((key.to_vec(), point));
                }
                ControlFlow::Continue(())
            },
        )?;
        let mut merged_away = 0;
        for (start, points) in groups {
            // Points of different units stay apart.
            let mut by_unit: BTreeMap<String, Vec<(Vec<u8>, Point)>> = BTreeMap::new();
            for (key, point) in points {
                by_unit.entry(point.unit.clone()).or_default().push((key, point));
            }
            for (_, points) in by_unit {
                if points.len() < 2 {
                    continue;
                }
                let mut merged = points[0].1.clone();
                for (_, point) in &points[1..] {
                    merged.merge(point);
                }
                let seq = points[0]
                    .0
                    .get(series.len() + 8..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                for (key, _) in &points {
                    batch.delete(model::POINTS, key.clone());
                }
                batch.put(model::POINTS, model::point_key(series, start, seq), model::encode(&merged));
                merged_away += points.len() - 1;
            }
        }
        Ok(merged_away)
    }
}

pub(crate) fn spawn(service: Weak<MetricsService>) {
    tokio::spawn(async move {
        let mut lookback = None;
        loop {
            tokio::time::sleep(INTERVAL).await;
            let Some(service) = service.upgrade() else { return };
            let now = nimbus_core::time::now_epoch_millis() as i64;
            match service.roll_up_window(now, lookback).await {
                // Later passes look back two intervals, so a late one misses nothing.
                Ok(_) => lookback = Some(2 * INTERVAL.as_millis() as i64),
                Err(err) => tracing::warn!(%err, "metric roll-up failed"),
            }
        }
    });
}
