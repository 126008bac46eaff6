//! Streams and their records as persisted.
//!
//! * `dynamodb.streams`: `region \0 table \0 label` → `StreamMeta` (JSON)
//! * `dynamodb.stream_records`: `table id ‖ label \0 ‖ sequence number` →
//!   `StoredRecord` (JSON)
//!
//! A stream is named by its table and label (the time it was enabled); its
//! records are keyed under the table's id, which is never reused, so a
//! table created again under the same name starts new streams.

use std::sync::atomic::{AtomicU64, Ordering};

use nimbus_core::time::now_epoch_millis;
use nimbus_core::AwsError;
use nimbus_store::{Direction, Keyspace, ReadView, ReadViewExt, StoreError, TxnError, WriteBatch};
use serde::{Deserialize, Serialize};

use crate::error::{dynamodb, internal, Result};
use crate::model::table::{KeySchema, Table};

pub const STREAMS: Keyspace = "dynamodb.streams";
pub const RECORDS: Keyspace = "dynamodb.stream_records";

/// One stream of one table, enabled at `label`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamMeta {
    pub arn: String,
    pub label: String,
    pub region: String,
    pub table_name: String,
    pub table_id: u64,
    pub key: KeySchema,
    pub view_type: String,
    /// Epoch seconds of the request that enabled it.
    pub created: f64,
    /// Every record of the stream has a larger sequence number.
    pub start_seq: u64,
    /// Epoch seconds when the stream was disabled (or its table deleted).
    pub disabled_at: Option<f64>,
    /// Records up to this sequence number were trimmed (0: none were).
    #[serde(default)]
    pub trimmed_through: u64,
}

impl StreamMeta {
    pub fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Store prefix of this stream's records.
    pub fn records_prefix(&self) -> Vec<u8> {
        records_prefix(self.table_id, &self.label)
    }

    /// The id of the stream's only shard: `shardId-` + 20 digits + `-` + 8 hex,
    /// the shape AWS's shard ids have.
    pub fn shard_id(&self) -> String {
        let mut hash: u32 = 2166136261;
        for b in self.arn.bytes() {
            hash = (hash ^ b as u32).wrapping_mul(16777619);
        }
        format!("shardId-{:020}-{hash:08x}", (self.created * 1000.0) as u64)
    }

    /// The sequence number of the stream's last record, if it has any.
    pub fn last_seq(&self, view: &dyn ReadView) -> std::result::Result<Option<u64>, StoreError> {
        let rows = self.scan(view, 0, Direction::Backward, 1)?;
        Ok(rows.first().map(|(seq, _)| *seq))
    }

    /// Up to `limit` records with sequence numbers from `from` on, in
    /// `direction` (a reverse scan starts at the end).
    pub fn scan(
        &self,
        view: &dyn ReadView,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> std::result::Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let prefix = self.records_prefix();
        let start = record_key(&prefix, from);
        // The prefix ends in a 0 separator, so it always has an end.
        let end = nimbus_store::prefix_end(&prefix).unwrap_or_default();
        let range = (std::ops::Bound::Included(&start[..]), std::ops::Bound::Excluded(&end[..]));
        let rows = view.scan_collect(RECORDS, range, direction, limit)?;
        Ok(rows.into_iter().filter_map(|(k, v)| Some((seq_of_key(&k)?, v))).collect())
    }
}

/// One change as persisted: the view type decided which images are kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRecord {
    /// INSERT, MODIFY or REMOVE.
    pub event: String,
    /// Epoch milliseconds of the write.
    pub at: u64,
    /// Keys and images in DynamoDB JSON, as GetRecords returns them.
    pub keys: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    pub size: u64,
    pub view_type: String,
    /// Deleted by Time to Live rather than by a caller.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_ttl: bool,
}

pub fn meta_key(region: &str, table: &str, label: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(region.len() + table.len() + label.len() + 2);
    k.extend_from_slice(region.as_bytes());
    k.push(0);
    k.extend_from_slice(table.as_bytes());
    k.push(0);
    k.extend_from_slice(label.as_bytes());
    k
}

pub fn records_prefix(table_id: u64, label: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + label.len() + 1);
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(label.as_bytes());
    k.push(0);
    k
}

pub fn record_key(prefix: &[u8], seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn seq_of_key(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The last sequence number handed out in this process.
static LAST_SEQ: AtomicU64 = AtomicU64::new(0);

/// The next sequence number. Called from inside store transactions, which
/// the store runs one at a time, so numbers grow in commit order. The clock
/// (microseconds) is the floor, so numbers keep growing across restarts.
pub fn next_seq() -> u64 {
    let floor = now_epoch_millis().saturating_mul(1000);
    let previous = LAST_SEQ
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(last.saturating_add(1).max(floor)))
        .unwrap_or(0);
    previous.saturating_add(1).max(floor)
}

/// Never hand out a number at or below one already stored (the clock may
/// have gone back since they were written): called once at startup.
pub fn seed_sequence(view: &dyn ReadView) -> std::result::Result<(), StoreError> {
    for (_, bytes) in view.scan_prefix(STREAMS, b"", usize::MAX)? {
        let Ok(meta) = serde_json::from_slice::<StreamMeta>(&bytes) else { continue };
        let highest = meta.last_seq(view)?.unwrap_or(0).max(meta.start_seq);
        LAST_SEQ.fetch_max(highest, Ordering::SeqCst);
    }
    Ok(())
}

/// Sequence numbers are shown as zero-padded 21-digit decimal strings, as
/// AWS's are (e.g. `000000000000000075450`).
pub fn render_seq(seq: u64) -> String {
    format!("{seq:021}")
}

pub fn parse_seq(text: &str) -> Option<u64> {
    if !(21..=40).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok().and_then(|n| u64::try_from(n).ok())
}

pub fn stream_arn(table_arn: &str, label: &str) -> String {
    format!("{table_arn}/stream/{label}")
}

/// A stream ARN's parts: region, table name, label.
/// `arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label}`.
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, region, _account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if service != "dynamodb" || region.is_empty() {
        return None;
    }
    let (table, label) = resource.strip_prefix("table/")?.split_once("/stream/")?;
    if table.is_empty() || label.is_empty() || table.contains('/') || label.contains('/') {
        return None;
    }
    Some((region, table, label))
}

pub fn load(view: &dyn ReadView, region: &str, table: &str, label: &str) -> Result<Option<StreamMeta>> {
    match view.get(STREAMS, &meta_key(region, table, label)).map_err(internal)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(internal)?)),
        None => Ok(None),
    }
}

/// The label of the stream a table version writes to, if one is enabled.
pub fn enabled_label(table: &Table) -> Option<&str> {
    table.stream.as_ref().filter(|s| s.enabled).and_then(|s| s.label.as_deref())
}

type TxnResult<T> = std::result::Result<T, TxnError<AwsError>>;

/// Keep the stream catalog in step with a table change, inside the change's
/// transaction: a newly enabled stream is recorded, a stream that stops
/// (disabled, or its table deleted) is marked disabled and stays readable.
pub fn on_table_change(
    view: &dyn ReadView,
    region: &str,
    old: Option<&Table>,
    new: Option<&Table>,
    batch: &mut WriteBatch,
) -> TxnResult<()> {
    let old_label = old.and_then(enabled_label);
    let new_label = new.and_then(enabled_label);
    if old_label == new_label {
        return Ok(());
    }
    let now = now_epoch_millis() as f64 / 1000.0;
    if let (Some(table), Some(label)) = (old, old_label) {
        if let Some(mut meta) = load(view, region, &table.name, label).map_err(TxnError::Aborted)? {
            meta.disabled_at = Some(now);
            batch.put(STREAMS, meta_key(region, &table.name, label), serde_json::to_vec(&meta).unwrap_or_default());
        }
    }
    if let (Some(table), Some(label)) = (new, new_label) {
        let meta = StreamMeta {
            arn: stream_arn(&table.arn, label),
            label: label.to_owned(),
            region: region.to_owned(),
            table_name: table.name.clone(),
            table_id: table.id,
            key: table.key.clone(),
            view_type: table.stream.as_ref().and_then(|s| s.view_type.clone()).unwrap_or_default(),
            created: now,
            start_seq: next_seq(),
            disabled_at: None,
            trimmed_through: 0,
        };
        batch.put(STREAMS, meta_key(region, &table.name, label), serde_json::to_vec(&meta).unwrap_or_default());
    }
    Ok(())
}

/// ResourceNotFoundException for a stream ARN that names no stream.
pub fn stream_not_found(arn: &str) -> AwsError {
    dynamodb("ResourceNotFoundException", format!("Requested resource not found: Stream: {arn} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_are_21_digits_and_round_trip() {
        let a = next_seq();
        let b = next_seq();
        assert!(b > a);
        let text = render_seq(a);
        assert_eq!(text.len(), 21);
        assert_eq!(parse_seq(&text), Some(a));
        assert_eq!(parse_seq("12"), None);
        assert_eq!(parse_seq("x00000000000000000000000"), None);
    }

    #[test]
    fn stream_arns_parse() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2020-01-01T00:00:00.000";
        assert_eq!(parse_stream_arn(arn), Some(("us-east-1", "T", "2020-01-01T00:00:00.000")));
        assert_eq!(parse_stream_arn("arn:aws:dynamodb:us-east-1:000000000000:table/T"), None);
        assert_eq!(parse_stream_arn("garbage"), None);
    }
}
