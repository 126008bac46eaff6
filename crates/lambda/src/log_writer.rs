//! Function log lines on their way to the `LogSink`, gathered per stream and
//! handed over every few milliseconds: a busy function costs the log store
//! one write per stream per batch instead of one per invocation (the writes
//! compete with invocations for the same cores).

use std::collections::HashMap;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use nimbus_core::{LogEvent, LogSink};
use tokio::sync::Notify;

/// How long a batch gathers after its first lines arrive.
const GATHER: Duration = Duration::from_millis(20);

#[derive(Default)]
pub struct LogWriter {
    /// (group, stream, lines) in arrival order.
    pending: Mutex<Vec<(String, String, Vec<LogEvent>)>>,
    wake: Notify,
}

impl LogWriter {
    pub fn push(&self, group: String, stream: String, lines: Vec<LogEvent>) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).push((group, stream, lines));
        self.wake.notify_one();
    }

    /// Write everything pushed so far, one call per stream, in order.
    pub async fn flush(&self, sink: &dyn LogSink) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for (group, stream, lines) in merge_by_stream(pending) {
            if let Err(e) = sink.put_log_events(&group, &stream, lines).await {
                tracing::debug!(error = %e, "lambda: writing function logs failed");
            }
        }
    }

    /// Flush batches for as long as the engine lives.
    pub async fn run(engine: Weak<crate::engine::Engine>) {
        loop {
            let Some(engine) = engine.upgrade() else { break };
            tokio::select! {
                _ = engine.log_writer.wake.notified() => tokio::time::sleep(GATHER).await,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            engine.log_writer.flush(engine.logs.as_ref()).await;
        }
    }
}

/// One entry per (group, stream), lines kept in arrival order.
fn merge_by_stream(pending: Vec<(String, String, Vec<LogEvent>)>) -> Vec<(String, String, Vec<LogEvent>)> {
    let mut merged: Vec<(String, String, Vec<LogEvent>)> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for (group, stream, lines) in pending {
        match index.get(&(group.clone(), stream.clone())) {
            Some(&i) => merged[i].2.extend(lines),
            None => {
                index.insert((group.clone(), stream.clone()), merged.len());
                merged.push((group, stream, lines));
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: i64, message: &str) -> LogEvent {
        LogEvent { timestamp_ms: ts, message: message.into() }
    }

    #[test]
    fn merges_per_stream_keeping_order() {
        let merged = merge_by_stream(vec![
            ("g".into(), "a".into(), vec![line(1, "a1")]),
            ("g".into(), "b".into(), vec![line(2, "b1")]),
            ("g".into(), "a".into(), vec![line(3, "a2"), line(4, "a3")]),
        ]);
        let shape: Vec<(String, Vec<String>)> =
            merged.into_iter().map(|(_, s, l)| (s, l.into_iter().map(|e| e.message).collect())).collect();
        assert_eq!(
            shape,
            vec![("a".into(), vec!["a1".into(), "a2".into(), "a3".into()]), ("b".into(), vec!["b1".into()])]
        );
    }
}
