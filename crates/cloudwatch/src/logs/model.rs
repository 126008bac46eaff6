//! Persisted state of CloudWatch Logs and its key layout.
//!
//! - `logs.groups`: group name → `GroupRecord` (JSON). Raw name bytes as the
//!   key, so DescribeLogGroups with a prefix is one range scan.
//! - `logs.streams`: (group, stream name) → `StreamRecord` (JSON).
//! - `logs.events`: (group, stream, timestamp, sequence) → ingestion time
//!   (8 bytes, big-endian) followed by the message. GetLogEvents and
//!   FilterLogEvents are range scans in time order; retention deletes a
//!   key range per stream.
//! - `logs.metric_filters`: (group, filter name) → `MetricFilterRecord`.

use std::collections::BTreeMap;
use std::ops::Bound;

use nimbus_store::{Direction, KeyWriter, Keyspace, ReadView, ReadViewExt, StoreError};
use serde::{Deserialize, Serialize};

pub const GROUPS: Keyspace = "logs.groups";
pub const STREAMS: Keyspace = "logs.streams";
pub const EVENTS: Keyspace = "logs.events";
pub const METRIC_FILTERS: Keyspace = "logs.metric_filters";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub creation_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub log_group_class: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StreamRecord {
    pub name: String,
    pub creation_time: i64,
    #[serde(default)]
    pub first_event: Option<i64>,
    #[serde(default)]
    pub last_event: Option<i64>,
    #[serde(default)]
    pub last_ingestion: Option<i64>,
    #[serde(default)]
    pub upload_sequence_token: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricFilterRecord {
    pub name: String,
    pub pattern: String,
    pub transformations: Vec<Transformation>,
    pub creation_time: i64,
}

/// What a metric filter publishes for each matching event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transformation {
    pub metric_name: String,
    pub metric_namespace: String,
    /// `1`, `$.latency`, `$size`.
    pub metric_value: String,
    #[serde(default)]
    pub default_value: Option<f64>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default)]
    pub unit: Option<String>,
}

pub fn metric_filter_key(group: &str, name: &str) -> Vec<u8> {
    KeyWriter::new().str(group).raw(name.as_bytes()).finish()
}

/// A group's metric filters whose names start with `prefix`, by name.
pub fn list_metric_filters(
    view: &dyn ReadView,
    group: &str,
    prefix: &str,
) -> Result<Vec<MetricFilterRecord>, StoreError> {
    let start = KeyWriter::new().str(group).raw(prefix.as_bytes()).finish();
    let mut out = Vec::new();
    for (_, value) in view.scan_prefix(METRIC_FILTERS, &start, usize::MAX)? {
        if let Some(record) = decode::<MetricFilterRecord>(Some(value))? {
            out.push(record);
        }
    }
    Ok(out)
}

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub stream: String,
    pub timestamp: i64,
    pub seq: u64,
    pub ingestion_time: i64,
    pub message: String,
}

impl StoredEvent {
    /// AWS's event ids are long decimal strings; ours encode the position,
    /// which is unique within a log group.
    pub fn event_id(&self) -> String {
        format!("{:020}{:020}", time_key(self.timestamp), self.seq)
    }
}

/// Timestamps as order-preserving unsigned integers (negative ones sort first).
pub fn time_key(ts: i64) -> u64 {
    (ts as u64) ^ (1 << 63)
}

pub fn time_from_key(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

pub fn group_key(group: &str) -> Vec<u8> {
    group.as_bytes().to_vec()
}

pub fn streams_prefix(group: &str) -> Vec<u8> {
    KeyWriter::new().str(group).finish()
}

pub fn stream_key(group: &str, stream: &str) -> Vec<u8> {
    KeyWriter::new().str(group).raw(stream.as_bytes()).finish()
}

pub fn group_events_prefix(group: &str) -> Vec<u8> {
    KeyWriter::new().str(group).finish()
}

pub fn stream_events_prefix(group: &str, stream: &str) -> Vec<u8> {
    KeyWriter::new().str(group).str(stream).finish()
}

pub fn event_key(group: &str, stream: &str, ts: i64, seq: u64) -> Vec<u8> {
    KeyWriter::new().str(group).str(stream).u64(time_key(ts)).u64(seq).finish()
}

pub fn event_value(ingestion_time: i64, message: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + message.len());
    value.extend_from_slice(&ingestion_time.to_be_bytes());
    value.extend_from_slice(message.as_bytes());
    value
}

/// An event as stored, borrowed from the scan (decoded into a
/// `StoredEvent` only when it is kept).
pub struct RawEvent<'a> {
    pub timestamp: i64,
    pub seq: u64,
    pub ingestion_time: i64,
    pub message: std::borrow::Cow<'a, str>,
}

impl RawEvent<'_> {
    pub fn position(&self) -> (i64, u64) {
        (self.timestamp, self.seq)
    }

    pub fn to_stored(&self, stream: &str) -> StoredEvent {
        StoredEvent {
            stream: stream.to_owned(),
            timestamp: self.timestamp,
            seq: self.seq,
            ingestion_time: self.ingestion_time,
            message: self.message.clone().into_owned(),
        }
    }
}

/// Decode an event from its key suffix (after the stream prefix) and value.
pub fn decode_event<'a>(suffix: &[u8], value: &'a [u8]) -> Option<RawEvent<'a>> {
    let ts = u64::from_be_bytes(suffix.get(0..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(suffix.get(8..16)?.try_into().ok()?);
    let ingestion_time = i64::from_be_bytes(value.get(0..8)?.try_into().ok()?);
    let message = String::from_utf8_lossy(value.get(8..)?);
    Some(RawEvent { timestamp: time_from_key(ts), seq, ingestion_time, message })
}

pub fn load_group(view: &dyn ReadView, group: &str) -> Result<Option<GroupRecord>, StoreError> {
    decode(view.get(GROUPS, &group_key(group))?)
}

pub fn load_stream(view: &dyn ReadView, group: &str, stream: &str) -> Result<Option<StreamRecord>, StoreError> {
    decode(view.get(STREAMS, &stream_key(group, stream))?)
}

/// All streams of a group whose names start with `prefix`, by name.
pub fn list_streams(view: &dyn ReadView, group: &str, prefix: &str) -> Result<Vec<StreamRecord>, StoreError> {
    let start = KeyWriter::new().str(group).raw(prefix.as_bytes()).finish();
    let mut out = Vec::new();
    for (_, value) in view.scan_prefix(STREAMS, &start, usize::MAX)? {
        if let Some(record) = decode::<StreamRecord>(Some(value))? {
            out.push(record);
        }
    }
    Ok(out)
}

/// All groups whose names start with `prefix`, by name.
pub fn list_groups(view: &dyn ReadView, prefix: &str) -> Result<Vec<GroupRecord>, StoreError> {
    let mut out = Vec::new();
    for (_, value) in view.scan_prefix(GROUPS, prefix.as_bytes(), usize::MAX)? {
        if let Some(record) = decode::<GroupRecord>(Some(value))? {
            out.push(record);
        }
    }
    Ok(out)
}

/// Scan one stream's events in `[from, to)` key positions in `direction`,
/// visiting each decoded event until `visit` returns false.
pub fn scan_stream(
    view: &dyn ReadView,
    group: &str,
    stream: &str,
    lower: Bound<(i64, u64)>,
    upper: Bound<(i64, u64)>,
    direction: Direction,
    visit: &mut dyn FnMut(RawEvent<'_>) -> bool,
) -> Result<(), StoreError> {
    let prefix = stream_events_prefix(group, stream);
    let position = |(ts, seq): (i64, u64)| event_key(group, stream, ts, seq);
    let lower_key = match lower {
        Bound::Included(p) => Bound::Included(position(p)),
        Bound::Excluded(p) => Bound::Excluded(position(p)),
        Bound::Unbounded => Bound::Included(prefix.clone()),
    };
    let prefix_end = nimbus_store::prefix_end(&prefix);
    let upper_key = match upper {
        Bound::Included(p) => Bound::Included(position(p)),
        Bound::Excluded(p) => Bound::Excluded(position(p)),
        Bound::Unbounded => match &prefix_end {
            Some(end) => Bound::Excluded(end.clone()),
            None => Bound::Unbounded,
        },
    };
    let range = (as_ref(&lower_key), as_ref(&upper_key));
    view.scan(EVENTS, range, direction, &mut |key, value| {
        let keep_going = match key.get(prefix.len()..).and_then(|suffix| decode_event(suffix, value)) {
            Some(event) => visit(event),
            None => true,
        };
        if keep_going {
            std::ops::ControlFlow::Continue(())
        } else {
            std::ops::ControlFlow::Break(())
        }
    })
}

fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: Option<Vec<u8>>) -> Result<Option<T>, StoreError> {
    match bytes {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError(format!("corrupt logs record: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_like_timestamps() {
        let times = [-5_i64, -1, 0, 1, 1_700_000_000_000];
        for pair in times.windows(2) {
            assert!(time_key(pair[0]) < time_key(pair[1]));
        }
        assert_eq!(time_from_key(time_key(-42)), -42);
    }

    #[test]
    fn event_round_trip() {
        let prefix = stream_events_prefix("g", "s");
        let key = event_key("g", "s", 1234, 9);
        let value = event_value(99, "hello");
        let event = decode_event(&key[prefix.len()..], &value).unwrap();
        assert_eq!(event.timestamp, 1234);
        assert_eq!(event.seq, 9);
        assert_eq!(event.ingestion_time, 99);
        assert_eq!(event.message, "hello");
    }
}
