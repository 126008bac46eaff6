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

use crate::error::{dynamodb, internal, validation, Result};
use crate::model::table::{KeySchema, StreamSpec, Table};

pub const STREAMS: Keyspace = "dynamodb.streams";
pub const RECORDS: Keyspace = "dynamodb.stream_records";

/// The view types a stream may have, in AWS's order.
pub const VIEW_TYPES: [&str; 4] = ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"];

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

/// Check a StreamSpecification of CreateTable or UpdateTable.
pub fn check_spec(spec: Option<&StreamSpec>) -> Result<()> {
    let Some(view_type) = spec.and_then(|s| s.view_type.as_deref()) else {
        return Ok(());
    };
    if !VIEW_TYPES.contains(&view_type) {
        return Err(validation(format!(
            "1 validation error detected: Value '{view_type}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            VIEW_TYPES.join(", ")
        )));
    }
    Ok(())
}

/// Check UpdateTable's StreamSpecification against the table's stream, and
/// give a newly enabled stream a label no earlier stream of the table had.
pub fn check_change(table: &Table, spec: &mut StreamSpec) -> Result<()> {
    check_spec(Some(spec))?;
    let current = table.stream.as_ref();
    let enabled = current.is_some_and(|s| s.enabled);
    if spec.enabled && enabled {
        // Also when only the view type differs: a stream's view type is fixed.
        return Err(validation(format!("Table already has an enabled stream: TableName: {}", table.name)));
    }
    if !spec.enabled && !enabled {
        // Wording not confirmed against AWS; the error type is.
        return Err(validation(format!("Table does not have a stream to disable: TableName: {}", table.name)));
    }
    let previous = current.and_then(|s| s.label.clone());
    if !spec.enabled {
        // DescribeTable keeps naming the latest stream.
        spec.label = previous;
    } else if let (Some(new), Some(old)) = (&spec.label, &previous) {
        if new <= old {
            spec.label = Some(later_label(old));
        }
    }
    Ok(())
}

/// A label one millisecond after `label` (two streams enabled in the same
/// millisecond must still differ).
fn later_label(label: &str) -> String {
    let millis = parse_label(label).unwrap_or(0) + 1;
    format_label(millis)
}

pub fn format_label(epoch_millis: i64) -> String {
    nimbus_core::time::format_iso8601_millis(epoch_millis).trim_end_matches('Z').to_owned()
}

/// `2015-05-11T21:21:33.291` → epoch milliseconds.
fn parse_label(label: &str) -> Option<i64> {
    let (date, time) = label.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, ms) = time.split_once('.')?;
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let days = nimbus_core::time::days_from_civil(y, mo as u32, day as u32);
    Some(((days * 86400 + h * 3600 + mi * 60 + s) * 1000) + ms.parse::<i64>().ok()?)
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
    fn labels_parse_back() {
        let label = format_label(1_700_000_000_123);
        assert_eq!(parse_label(&label), Some(1_700_000_000_123));
        assert_eq!(later_label(&label), format_label(1_700_000_000_124));
    }

    #[test]
    fn stream_arns_parse() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2020-01-01T00:00:00.000";
        assert_eq!(parse_stream_arn(arn), Some(("us-east-1", "T", "2020-01-01T00:00:00.000")));
        assert_eq!(parse_stream_arn("arn:aws:dynamodb:us-east-1:000000000000:table/T"), None);
        assert_eq!(parse_stream_arn("garbage"), None);
    }
}
