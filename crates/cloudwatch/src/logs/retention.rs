//! PutRetentionPolicy, DeleteRetentionPolicy, and the sweeper that actually
//! removes events older than a group's retention.

use std::sync::{Arc, Weak};
use std::time::Duration;

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::{transact, KeyWriter, TxnError, WriteBatch, WriteOp};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::api::group_name_arg;
use super::errors::{self, invalid};
use super::model;
use super::LogsService;
use crate::wire::{self, Object};

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// How often the sweeper runs when nothing wakes it.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
const DAY_MS: i64 = 86_400_000;

impl LogsService {
    pub(crate) async fn put_retention_policy(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = group_name_arg(&body)?;
        request.authorize("logs:PutRetentionPolicy", &self.group_arn(&group))?;
        let days = wire::opt_i64(&body, "retentionInDays")
            .map_err(invalid)?
            .ok_or_else(|| invalid(wire::constraint(&Value::Null, "retentionInDays", "Member must not be null")))?;
        let days = u32::try_from(days).ok().filter(|d| RETENTION_DAYS.contains(d)).ok_or_else(|| {
            let allowed: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
            invalid(wire::constraint(
                &Value::from(days.to_string()),
                "retentionInDays",
                &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
            ))
        })?;
        self.set_retention(group, Some(days)).await?;
        self.sweep_now.notify_one();
        Ok(json!({}))
    }

    pub(crate) async fn delete_retention_policy(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = group_name_arg(&body)?;
        request.authorize("logs:DeleteRetentionPolicy", &self.group_arn(&group))?;
        self.set_retention(group, None).await?;
        Ok(json!({}))
    }

    async fn set_retention(&self, group: String, days: Option<u32>) -> Result<(), AwsError> {
        transact(self.store.as_ref(), move |view| {
            let Some(mut record) = model::load_group(view, &group)? else {
                return Err(TxnError::Aborted(errors::group_not_found()));
            };
            record.retention_in_days = days;
            let mut batch = WriteBatch::new();
            batch.put(model::GROUPS, model::group_key(&group), model::encode(&record));
            Ok((batch, ()))
        })
        .await
        .map_err(super::api::txn_error)
    }

    /// Delete every event older than its group's retention. Per stream this
    /// is one key-range delete: events are keyed by time within a stream.
    pub async fn sweep_expired(&self) -> Result<usize, AwsError> {
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let groups = model::list_groups(self.store.as_ref(), "").map_err(errors::store)?;
        let mut batch = WriteBatch::new();
        for group in groups {
            let Some(days) = group.retention_in_days else { continue };
            let cutoff = now - i64::from(days) * DAY_MS;
            for stream in model::list_streams(self.store.as_ref(), &group.name, "").map_err(errors::store)? {
                if stream.first_event.is_some_and(|first| first >= cutoff) {
                    continue;
                }
                let start = model::stream_events_prefix(&group.name, &stream.name);
                let end = KeyWriter::new().raw(&start).u64(model::time_key(cutoff)).finish();
                batch.ops.push(WriteOp::DeleteRange { ks: model::EVENTS, start, end: Some(end) });
            }
        }
        let ranges = batch.ops.len();
        if ranges > 0 {
            self.store.write(batch).await.map_err(errors::store)?;
        }
        Ok(ranges)
    }
}

/// Run `sweep_expired` every minute, and at once when woken, until the
/// service is dropped.
pub(crate) fn spawn_sweeper(service: Weak<LogsService>, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
                _ = wake.notified() => {}
            }
            let Some(service) = service.upgrade() else { return };
            if let Err(err) = service.sweep_expired().await {
                tracing::warn!(%err, "log retention sweep failed");
            }
        }
    });
}
