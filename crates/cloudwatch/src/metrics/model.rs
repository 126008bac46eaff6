//! Persisted metric state and its key layout.
//!
//! - `metrics.series`: series key → `SeriesRecord` (JSON): what ListMetrics
//!   lists, with the last time data arrived (for RecentlyActive).
//! - `metrics.points`: (series key, time, sequence) → `Point` (JSON). A
//!   series' points over a time range are one range scan.
//!
//! A series key is (namespace, metric name, dimensions sorted by name), each
//! part order-preserving, so one namespace or metric is a key prefix.
//!
//! Retention tiers, as CloudWatch keeps data (see `rollup`): points are
//! stored at 1-second resolution and kept so for 3 hours; older points are
//! merged into 1-minute points (kept 15 days), then 5-minute points (63
//! days), then 1-hour points (455 days), after which they are deleted.

use std::ops::Bound;

use nimbus_store::{prefix_end, Direction, KeyWriter, Keyspace, ReadView, ReadViewExt, StoreError};
use serde::{Deserialize, Serialize};

pub const SERIES: Keyspace = "metrics.series";
pub const POINTS: Keyspace = "metrics.points";

/// One metric identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesId {
    pub namespace: String,
    pub name: String,
    /// Sorted by name; names are unique.
    pub dimensions: Vec<(String, String)>,
}

impl SeriesId {
    pub fn new(namespace: &str, name: &str, mut dimensions: Vec<(String, String)>) -> Self {
        dimensions.sort();
        dimensions.dedup_by(|a, b| a.0 == b.0);
        SeriesId { namespace: namespace.to_owned(), name: name.to_owned(), dimensions }
    }

    pub fn key(&self) -> Vec<u8> {
        let mut dims = KeyWriter::new();
        for (name, value) in &self.dimensions {
            dims = dims.str(name).str(value);
        }
        KeyWriter::new().str(&self.namespace).str(&self.name).bytes(&dims.finish()).finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeriesRecord {
    pub id: SeriesId,
    /// Epoch ms when data for this series last arrived.
    pub last_put: i64,
}

/// Aggregate of a statistic set: what StatisticValues sends, and what a
/// roll-up keeps when a bucket has too many distinct values to list.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatSet {
    pub n: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// One stored observation: distinct values with their counts (exact
/// percentiles), or a statistic set (no percentiles, as on AWS), or a
/// statistic set with its distribution (a service's histogram: exact
/// SampleCount/Sum/Minimum/Maximum, approximate percentiles).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    #[serde(rename = "u")]
    pub unit: String,
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<(f64, f64)>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatSet>,
}

/// Most distinct values a point lists (AWS's limit for `Values`); merged
/// points beyond it keep only a statistic set.
pub const MAX_DISTINCT_VALUES: usize = 150;

impl Point {
    pub fn stat_set(&self) -> StatSet {
        if let Some(stats) = self.stats {
            return stats;
        }
        let mut set = StatSet { n: 0.0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY };
        for &(value, count) in &self.values {
            set.n += count;
            set.sum += value * count;
            set.min = set.min.min(value);
            set.max = set.max.max(value);
        }
        set
    }

    /// Whether `values` describes every observation (exactly or as a
    /// distribution), so percentiles can be computed.
    pub fn has_distribution(&self) -> bool {
        self.stats.is_none() || !self.values.is_empty()
    }

    /// Merge `other` into this point (same unit).
    pub fn merge(&mut self, other: &Point) {
        let (a, b) = (self.stat_set(), other.stat_set());
        let combined = StatSet { n: a.n + b.n, sum: a.sum + b.sum, min: a.min.min(b.min), max: a.max.max(b.max) };
        if self.has_distribution() && other.has_distribution() {
            for &(value, count) in &other.values {
                match self.values.iter_mut().find(|(v, _)| *v == value) {
                    Some(entry) => entry.1 += count,
                    None => self.values.push((value, count)),
                }
            }
            if self.values.len() <= MAX_DISTINCT_VALUES {
                // Exact lists need no statistic set; distributions keep theirs.
                if self.stats.is_some() || other.stats.is_some() {
                    self.stats = Some(combined);
                }
                return;
            }
        }
        self.values.clear();
        self.stats = Some(combined);
    }
}

/// A service histogram as a distribution: each non-empty bucket's count at
/// its upper bound, kept within the observed minimum and maximum (so one
/// observation, or a bucket at either end, is exact).
pub fn distribution(buckets: &[(f64, u64)], min: f64, max: f64) -> Vec<(f64, f64)> {
    let mut values: Vec<(f64, f64)> = Vec::new();
    for &(bound, count) in buckets.iter().filter(|(_, n)| *n > 0) {
        let value = bound.clamp(min, max);
        match values.last_mut() {
            Some(last) if last.0 == value => last.1 += count as f64,
            _ => values.push((value, count as f64)),
        }
    }
    values
}

/// Time as an order-preserving unsigned integer.
pub fn time_key(ms: i64) -> u64 {
    (ms as u64) ^ (1 << 63)
}

pub fn time_from_key(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

pub fn point_key(series: &[u8], ms: i64, seq: u64) -> Vec<u8> {
    KeyWriter::new().raw(series).u64(time_key(ms)).u64(seq).finish()
}

pub fn series_time_bound(series: &[u8], ms: i64) -> Vec<u8> {
    KeyWriter::new().raw(series).u64(time_key(ms)).finish()
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Points of `series` with time in `[start, end)`, in time order.
pub fn scan_points(
    view: &dyn ReadView,
    series: &[u8],
    start: i64,
    end: i64,
    visit: &mut dyn FnMut(i64, Point),
) -> Result<(), StoreError> {
    let lower = series_time_bound(series, start);
    let upper = series_time_bound(series, end);
    view.scan(POINTS, (Bound::Included(&lower), Bound::Excluded(&upper)), Direction::Forward, &mut |key, value| {
        if let (Some(ts), Ok(point)) = (key.get(series.len()..series.len() + 8), serde_json::from_slice::<Point>(value))
        {
            if let Ok(bytes) = <[u8; 8]>::try_from(ts) {
                visit(time_from_key(u64::from_be_bytes(bytes)), point);
            }
        }
        std::ops::ControlFlow::Continue(())
    })
}

/// Series records under a key prefix (everything, a namespace, a metric).
pub fn list_series(view: &dyn ReadView, prefix: &[u8]) -> Result<Vec<SeriesRecord>, StoreError> {
    let mut out = Vec::new();
    for (_, value) in view.scan_prefix(SERIES, prefix, usize::MAX)? {
        match serde_json::from_slice::<SeriesRecord>(&value) {
            Ok(record) => out.push(record),
            Err(e) => return Err(StoreError(format!("corrupt metric series record: {e}"))),
        }
    }
    Ok(out)
}

/// The key prefix selecting a namespace (and a metric name within it).
pub fn series_prefix(namespace: Option<&str>, name: Option<&str>) -> Vec<u8> {
    match (namespace, name) {
        (Some(ns), Some(name)) => KeyWriter::new().str(ns).str(name).finish(),
        (Some(ns), None) => KeyWriter::new().str(ns).finish(),
        _ => Vec::new(),
    }
}

/// End of a series' key range (for deletes).
pub fn series_points_end(series: &[u8]) -> Option<Vec<u8>> {
    prefix_end(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keys_ignore_dimension_order() {
        let a = SeriesId::new("N", "M", vec![("b".into(), "2".into()), ("a".into(), "1".into())]);
        let b = SeriesId::new("N", "M", vec![("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(a.key(), b.key());
        assert!(a.key().starts_with(&series_prefix(Some("N"), Some("M"))));
        let c = SeriesId::new("N", "M", vec![]);
        assert_ne!(a.key(), c.key());
    }

    #[test]
    fn distributions_keep_exact_statistics_and_merge() {
        let buckets = [(0.5, 0), (1.0, 3), (2.5, 1), (f64::INFINITY, 1)];
        assert_eq!(distribution(&buckets, 0.7, 40.0), vec![(1.0, 3.0), (2.5, 1.0), (40.0, 1.0)]);
        assert_eq!(distribution(&[(1.0, 1)], 0.3, 0.3), vec![(0.3, 1.0)]);
        let stats = StatSet { n: 5.0, sum: 45.0, min: 0.7, max: 40.0 };
        let mut p =
            Point { unit: "Milliseconds".into(), values: distribution(&buckets, 0.7, 40.0), stats: Some(stats) };
        p.merge(&Point { unit: "Milliseconds".into(), values: vec![(1.0, 1.0)], stats: None });
        assert_eq!(p.stats, Some(StatSet { n: 6.0, sum: 46.0, min: 0.7, max: 40.0 }));
        assert_eq!(p.values, vec![(1.0, 4.0), (2.5, 1.0), (40.0, 1.0)]);
        // A plain statistic set has no distribution: the merge has none either.
        p.merge(&Point { unit: "Milliseconds".into(), values: vec![], stats: Some(stats) });
        assert!(p.values.is_empty() && !p.has_distribution());
        assert_eq!(p.stats.map(|s| s.n), Some(11.0));
    }

    #[test]
    fn merging_keeps_values_until_too_many() {
        let mut p = Point { unit: "None".into(), values: vec![(1.0, 1.0)], stats: None };
        p.merge(&Point { unit: "None".into(), values: vec![(1.0, 2.0), (3.0, 1.0)], stats: None });
        assert_eq!(p.values, vec![(1.0, 3.0), (3.0, 1.0)]);
        let set = p.stat_set();
        assert_eq!((set.n, set.sum, set.min, set.max), (4.0, 6.0, 1.0, 3.0));
        for i in 0..200 {
            p.merge(&Point { unit: "None".into(), values: vec![(100.0 + i as f64, 1.0)], stats: None });
        }
        let set = p.stats.unwrap();
        assert_eq!(set.n, 204.0);
        assert_eq!(set.max, 299.0);
        assert!(p.values.is_empty());
    }
}
