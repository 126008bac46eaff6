//! Proactive initialization: one on-demand environment started before the
//! function's first invocation (Lambda does this on its own at times; here
//! `nimbus up` asks for it through `nimbus_core::Prewarmer` right after a
//! deploy). The environment is an ordinary on-demand one: its INIT_START and
//! Init Duration are reported by the invocation that uses it. It is keyed by
//! the function's revision like any other, so code replaced meanwhile is
//! never served from it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::engine::Engine;
use crate::environment::{Environment, PoolKey};
use crate::model::FunctionRecord;

/// Environments being started ahead of traffic, so that an invocation
/// arriving meanwhile waits for that one instead of starting a second.
#[derive(Default)]
pub struct Prewarming {
    starting: Mutex<HashMap<PoolKey, watch::Receiver<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// Start one environment for `function` in the background unless one is
    /// idle or already starting for the same revision.
    pub fn prewarm(self: &Arc<Self>, function: FunctionRecord) {
        let key = PoolKey::of(&function, &function.version());
        // Reserved concurrency 0: it can never be invoked, so nothing to warm.
        if function.reserved_concurrency == Some(0) || self.pool.has_idle(&key) {
            return;
        }
        // Dropped when the start is over, which wakes the waiters.
        let (done, waiting) = watch::channel(());
        {
            let mut starting = lock(&self.prewarming.starting);
            if starting.contains_key(&key) {
                return;
            }
            starting.insert(key.clone(), waiting);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            match engine.cold_start(&function, key.clone(), false).await {
                Ok(Ok(ready)) => engine.pool.put_back(ready.env),
                // The first invocation starts its own and reports why it fails.
                Ok(Err(_)) => tracing::debug!("lambda: proactive init of {} failed", key.function),
                Err(e) => tracing::debug!("lambda: proactive init of {} failed: {}", key.function, e.message),
            }
            lock(&engine.prewarming.starting).remove(&key);
            drop(done);
        });
    }

    /// An idle environment for `key`, after waiting for one being started
    /// ahead of traffic, if there is such a start.
    pub(crate) async fn prewarmed(&self, key: &PoolKey) -> Option<Arc<Environment>> {
        let waiting = lock(&self.prewarming.starting).get(key).cloned();
        let mut waiting = waiting?;
        // Resolves (with an error) once the start is over and its sender gone.
        let _ = waiting.changed().await;
        self.pool.take(key)
    }
}
