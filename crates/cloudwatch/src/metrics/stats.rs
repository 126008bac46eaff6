//! Statistics over the points of one period: SampleCount, Sum, Average,
//! Minimum, Maximum and percentiles (`p99`, `p99.9`).

use super::model::{Point, StatSet};

/// Everything known about one period's points.
#[derive(Clone, Debug, Default)]
pub struct Acc {
    pub n: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// (value, count) pairs for percentiles; incomplete when some point
    /// was only a statistic set.
    samples: Vec<(f64, f64)>,
    samples_complete: bool,
    empty: bool,
}

impl Acc {
    pub fn new() -> Self {
        Acc { min: f64::INFINITY, max: f64::NEG_INFINITY, samples_complete: true, empty: true, ..Acc::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    pub fn add(&mut self, point: &Point) {
        let StatSet { n, sum, min, max } = point.stat_set();
        self.empty = false;
        self.n += n;
        self.sum += sum;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        if point.has_distribution() {
            self.samples.extend_from_slice(&point.values);
        } else {
            self.samples_complete = false;
        }
    }

    /// A statistic by its API name: `Sum`, `Average`, `p90`…; `None` when
    /// it cannot be computed (a percentile over statistic sets).
    pub fn stat(&mut self, name: &str) -> Option<f64> {
        match name {
            "SampleCount" => Some(self.n),
            "Sum" => Some(self.sum),
            "Average" => Some(if self.n > 0.0 { self.sum / self.n } else { 0.0 }),
            "Minimum" => Some(self.min),
            "Maximum" => Some(self.max),
            other => {
                let p = parse_percentile(other)?;
                self.percentile(p)
            }
        }
    }

    /// Nearest-rank percentile over the weighted samples.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        if !self.samples_complete || self.samples.is_empty() {
            return None;
        }
        self.samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = self.samples.iter().map(|s| s.1).sum();
        let rank = (p / 100.0 * total).ceil().max(1.0);
        let mut seen = 0.0;
        for &(value, count) in &self.samples {
            seen += count;
            if seen >= rank {
                return Some(value);
            }
        }
        self.samples.last().map(|s| s.0)
    }
}

/// `p99` → 99.0; `p99.9` → 99.9; anything else → None.
pub fn parse_percentile(name: &str) -> Option<f64> {
    let digits = name.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || (digits.contains('.') && frac.is_empty()) {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (0.0..=100.0).contains(&p).then_some(p)
}

pub const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

#[cfg(test)]
mod tests {
    use super::*;

    fn point(values: &[f64]) -> Point {
        Point { unit: "None".into(), values: values.iter().map(|v| (*v, 1.0)).collect(), stats: None }
    }

    #[test]
    fn basic_statistics() {
        let mut acc = Acc::new();
        acc.add(&point(&[1.0, 2.0, 3.0]));
        acc.add(&Point { unit: "None".into(), values: vec![(10.0, 2.0)], stats: None });
        assert_eq!(acc.stat("SampleCount"), Some(5.0));
        assert_eq!(acc.stat("Sum"), Some(26.0));
        assert_eq!(acc.stat("Average"), Some(5.2));
        assert_eq!(acc.stat("Minimum"), Some(1.0));
        assert_eq!(acc.stat("Maximum"), Some(10.0));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut acc = Acc::new();
        acc.add(&point(&(1..=100).map(f64::from).collect::<Vec<_>>()));
        assert_eq!(acc.stat("p99"), Some(99.0));
        assert_eq!(acc.stat("p50"), Some(50.0));
        assert_eq!(acc.stat("p100"), Some(100.0));
        assert_eq!(acc.stat("p0"), Some(1.0));
        acc.add(&Point {
            unit: "None".into(),
            values: vec![],
            stats: Some(StatSet { n: 1.0, sum: 1.0, min: 1.0, max: 1.0 }),
        });
        assert_eq!(acc.stat("p99"), None);
    }

    #[test]
    fn percentile_names() {
        assert_eq!(parse_percentile("p99"), Some(99.0));
        assert_eq!(parse_percentile("p99.9"), Some(99.9));
        assert_eq!(parse_percentile("p100.5"), None);
        assert_eq!(parse_percentile("p"), None);
        assert_eq!(parse_percentile("p9."), None);
        assert_eq!(parse_percentile("x99"), None);
    }
}
