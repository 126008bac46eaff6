//! The `LogSink` door: how Lambda (function logs) and API Gateway (access
//! logs) write into CloudWatch Logs without knowing this crate.

use nimbus_core::{AwsError, BoxFuture, LogEvent, LogSink};

use super::LogsService;

impl LogSink for LogsService {
    /// Append events, creating the group and stream if missing, as Lambda's
    /// log agent does for `/aws/lambda/<function>`.
    fn put_log_events(&self, group: &str, stream: &str, events: Vec<LogEvent>) -> BoxFuture<'_, Result<(), AwsError>> {
        let group = group.to_owned();
        let stream = stream.to_owned();
        Box::pin(async move {
            let mut events: Vec<(i64, String)> = events.into_iter().map(|e| (e.timestamp_ms, e.message)).collect();
            // Callers promise time order; a stable sort keeps that promise cheap to rely on.
            events.sort_by_key(|(ts, _)| *ts);
            self.append(group, stream, events, true).await.map(|_| ())
        })
    }
}
