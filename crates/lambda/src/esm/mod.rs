//! Event source mappings: Lambda reading a DynamoDB stream and invoking a
//! function with its records.
//!
//! Map: `model` (mappings and checkpoints in the store), `filter` (event
//! filtering patterns), `poller` (one task per mapping: read, invoke, retry,
//! checkpoint). The API handlers are in `api/event_source_mappings.rs`; the
//! stream is read through core's `StreamReader` door, which the binary
//! connects to DynamoDB Streams.

pub mod filter;
pub mod model;
mod poller;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use nimbus_core::StreamReader;
use nimbus_store::Store;

use crate::engine::Engine;
use model::{MappingRecord, MappingStore};

pub struct Mappings {
    me: Weak<Mappings>,
    engine: Weak<Engine>,
    pub store: MappingStore,
    reader: OnceLock<Arc<dyn StreamReader>>,
    /// Mappings whose poller runs (at most one each).
    running: Mutex<HashSet<String>>,
}

impl Mappings {
    pub fn new(store: Arc<dyn Store>, engine: Weak<Engine>) -> Arc<Mappings> {
        Arc::new_cyclic(|me| Mappings {
            me: me.clone(),
            engine,
            store: MappingStore::new(store),
            reader: OnceLock::new(),
            running: Mutex::new(HashSet::new()),
        })
    }

    pub fn reader(&self) -> Option<&Arc<dyn StreamReader>> {
        self.reader.get()
    }

    /// Connect the stream door and start the pollers of stored mappings
    /// (they resume from their checkpoints).
    pub fn connect(&self, reader: Arc<dyn StreamReader>) -> Result<(), String> {
        let _ = self.reader.set(reader);
        for mapping in self.store.list().map_err(|e| e.message)? {
            self.start(&mapping.uuid);
        }
        Ok(())
    }

    /// Start the poller of `uuid` unless it runs (must be called inside Tokio).
    pub fn start(&self, uuid: &str) {
        let (Some(me), Some(reader)) = (self.me.upgrade(), self.reader.get().cloned()) else {
            return;
        };
        if !self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(uuid.to_owned()) {
            return;
        }
        tokio::spawn(poller::run(me, self.engine.clone(), reader, uuid.to_owned()));
    }

    fn poller_stopped(&self, uuid: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(uuid);
    }

    /// A transitional state (Creating, Enabling, Updating, …) becomes
    /// Enabled or Disabled once the poller has taken the change in.
    async fn settle_state(&self, mapping: &MappingRecord) {
        let settled = if mapping.enabled { "Enabled" } else { "Disabled" };
        if mapping.state == settled {
            return;
        }
        let result = self
            .store
            .update(&mapping.uuid, move |m| {
                m.state = if m.enabled { "Enabled" } else { "Disabled" }.to_owned();
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::debug!(uuid = %mapping.uuid, "event source mapping state: {}", e.message);
        }
    }

    /// Set LastProcessingResult (a store write only when it changes).
    async fn record_result(&self, uuid: &str, result: &'static str) {
        if matches!(self.store.get(uuid), Ok(Some(m)) if m.last_processing_result == result) {
            return;
        }
        let _ = self
            .store
            .update(uuid, move |m| {
                m.last_processing_result = result.to_owned();
                Ok(())
            })
            .await;
    }
}
