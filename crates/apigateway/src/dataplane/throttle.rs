//! Token buckets per (API, stage, route): `rate` tokens a second up to `burst`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The account-level defaults API Gateway applies when a stage sets none.
pub const ACCOUNT_RATE: f64 = 10_000.0;
pub const ACCOUNT_BURST: f64 = 5_000.0;

struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Throttle {
    /// Take one token from the bucket `key` (created full); false when empty.
    pub fn admit(&self, key: &str, rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Bucket { tokens: burst, last: now }),
        };
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_refill() {
        let t = Throttle::default();
        assert!(t.admit("k", 1000.0, 2.0));
        assert!(t.admit("k", 1000.0, 2.0));
        assert!(!t.admit("k", 0.0, 2.0), "a drained bucket with no refill refuses");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(t.admit("k", 1000.0, 2.0), "tokens come back at the rate");
        assert!(!t.admit("zero", 0.0, 0.0), "a zero burst admits nothing");
    }
}
