//! The environment pool and concurrency accounting.
//!
//! Idle environments wait in per-key stacks (most recently used first, so the
//! warmest one serves next and the coldest ones age out). Concurrency is
//! counted per invocation in flight, as Lambda counts it: a function with
//! reserved concurrency R may have R in flight; all other functions share the
//! account limit minus everything reserved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nimbus_core::AwsError;

use crate::environment::{Environment, PoolKey};

#[derive(Default)]
struct Counts {
    total: u32,
    per_function: HashMap<String, u32>,
    /// Reserved concurrency per function, and their sum.
    reserved: HashMap<String, u32>,
    reserved_sum: u32,
}

pub struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Arc<Environment>>>>,
    counts: Arc<Mutex<Counts>>,
    pub account_limit: u32,
    /// Functions whose provisioned environments were retired (their role
    /// credentials ran low) and need replacements.
    retired_provisioned: Mutex<std::collections::BTreeSet<String>>,
}

/// One invocation's hold on concurrency; released on drop.
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    function: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = lock(&self.counts);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_function.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_function.remove(&self.function);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The 429 Lambda answers beyond a concurrency limit.
pub fn throttled(reason: &str) -> AwsError {
    AwsError::new(429, "TooManyRequestsException", "Rate Exceeded.").with_extra("Reason", reason.into())
}

impl Pool {
    pub fn new(account_limit: u32) -> Self {
        Pool {
            idle: Mutex::new(HashMap::new()),
            counts: Arc::new(Mutex::new(Counts::default())),
            account_limit,
            retired_provisioned: Mutex::default(),
        }
    }

    /// Record a function's reserved concurrency (None: unreserved).
    pub fn set_reserved(&self, function: &str, reserved: Option<u32>) {
        let mut c = lock(&self.counts);
        match reserved {
            Some(n) => {
                c.reserved.insert(function.to_owned(), n);
            }
            None => {
                c.reserved.remove(function);
            }
        }
        c.reserved_sum = c.reserved.values().sum();
    }

    pub fn reserved_sum(&self) -> u32 {
        lock(&self.counts).reserved_sum
    }

    /// Sum of reserved concurrency of all functions but `except`.
    pub fn reserved_sum_except(&self, except: &str) -> u32 {
        let c = lock(&self.counts);
        c.reserved_sum - c.reserved.get(except).copied().unwrap_or(0)
    }

    pub fn in_flight(&self) -> u32 {
        lock(&self.counts).total
    }

    /// Take a concurrency slot for `function`, or say why not.
    pub fn acquire(&self, function: &str) -> Result<Slot, AwsError> {
        let mut c = lock(&self.counts);
        let mine = c.per_function.get(function).copied().unwrap_or(0);
        match c.reserved.get(function).copied() {
            Some(reserved) if mine >= reserved => {
                return Err(throttled("ReservedFunctionConcurrentInvocationLimitExceeded"));
            }
            Some(_) => {}
            None => {
                let unreserved_limit = self.account_limit.saturating_sub(c.reserved_sum);
                let unreserved_in_flight: u32 =
                    c.per_function.iter().filter(|(name, _)| !c.reserved.contains_key(*name)).map(|(_, n)| *n).sum();
                if unreserved_in_flight >= unreserved_limit {
                    return Err(throttled("ConcurrentInvocationLimitExceeded"));
                }
            }
        }
        c.total += 1;
        *c.per_function.entry(function.to_owned()).or_insert(0) += 1;
        Ok(Slot { counts: self.counts.clone(), function: function.to_owned() })
    }

    /// A warm environment for `key`, if one is idle and alive.
    pub fn take(&self, key: &PoolKey) -> Option<Arc<Environment>> {
        let mut idle = lock(&self.idle);
        let stack = idle.get_mut(key)?;
        while let Some(env) = stack.pop() {
            if env.can_serve() {
                return Some(env);
            }
            self.discard(&env);
        }
        None
    }

    /// Whether an environment for `key` is idle.
    pub fn has_idle(&self, key: &PoolKey) -> bool {
        lock(&self.idle).get(key).is_some_and(|stack| stack.iter().any(|env| env.can_serve()))
    }

    /// Stop an environment that may serve no more, noting provisioned ones
    /// retired while alive so that they are replaced.
    fn discard(&self, env: &Environment) {
        if env.is_alive() && env.provisioned.load(std::sync::atomic::Ordering::Acquire) {
            lock(&self.retired_provisioned).insert(env.key.function.clone());
        }
        env.kill();
    }

    /// Functions whose provisioned environments retired since the last call.
    pub fn take_retired_provisioned(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.retired_provisioned)).into_iter().collect()
    }

    /// Return an environment after an invocation.
    pub fn put_back(&self, env: Arc<Environment>) {
        *lock(&env.last_used) = Instant::now();
        lock(&self.idle).entry(env.key.clone()).or_default().push(env);
    }

    /// Drop every idle environment of `function` (new code or configuration,
    /// or deletion); busy ones are dropped when they come back, because their
    /// key no longer matches anything that will be asked for.
    pub fn evict_function(&self, function: &str) {
        let evicted: Vec<Arc<Environment>> = {
            let mut idle = lock(&self.idle);
            let keys: Vec<PoolKey> = idle.keys().filter(|k| k.function == function).cloned().collect();
            keys.into_iter().filter_map(|k| idle.remove(&k)).flatten().collect()
        };
        for env in evicted {
            env.kill();
        }
    }

    /// Take every idle environment out of the pool (shutdown).
    pub fn drain(&self) -> Vec<Arc<Environment>> {
        lock(&self.idle).drain().flat_map(|(_, stack)| stack).collect()
    }

    /// Turn the provisioned environments of `function` into ordinary ones
    /// (reaped when idle too long).
    pub fn release_provisioned(&self, function: &str) {
        let idle = lock(&self.idle);
        for (key, stack) in idle.iter() {
            if key.function == function {
                for env in stack {
                    env.provisioned.store(false, std::sync::atomic::Ordering::Release);
                }
            }
        }
    }

    /// Kill environments idle for longer than `keep_alive`; provisioned ones
    /// stay.
    pub fn reap(&self, keep_alive: Duration) {
        let now = Instant::now();
        let mut dead: Vec<Arc<Environment>> = Vec::new();
        {
            let mut idle = lock(&self.idle);
            for stack in idle.values_mut() {
                stack.retain(|env| {
                    let stale = !env.provisioned.load(std::sync::atomic::Ordering::Acquire)
                        && now.duration_since(*lock(&env.last_used)) > keep_alive;
                    if stale || !env.can_serve() {
                        dead.push(env.clone());
                        false
                    } else {
                        true
                    }
                });
            }
            idle.retain(|_, stack| !stack.is_empty());
        }
        for env in dead {
            self.discard(&env);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_zero_always_throttles() {
        let pool = Pool::new(1000);
        pool.set_reserved("f", Some(0));
        let err = pool.acquire("f").err().unwrap();
        assert_eq!(err.status, 429);
        assert_eq!(err.extra.unwrap()["Reason"], "ReservedFunctionConcurrentInvocationLimitExceeded");
    }

    #[test]
    fn slots_count_and_release() {
        let pool = Pool::new(2);
        let a = pool.acquire("f").unwrap();
        let _b = pool.acquire("g").unwrap();
        assert_eq!(pool.acquire("h").err().unwrap().extra.unwrap()["Reason"], "ConcurrentInvocationLimitExceeded");
        drop(a);
        assert!(pool.acquire("h").is_ok());
        pool.set_reserved("r", Some(1));
        let _r = pool.acquire("r").unwrap();
        assert!(pool.acquire("r").is_err());
    }
}
