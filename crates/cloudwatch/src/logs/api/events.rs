//! PutLogEvents, GetLogEvents, FilterLogEvents, and the append path the
//! `LogSink` shares with PutLogEvents.

use std::ops::Bound;

use nimbus_core::{AwsError, AwsRequest, MetricDatum};
use nimbus_store::{transact, Direction, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::groups::txn_error;
use super::{group_name, limit_arg};
use crate::logs::errors::{self, invalid};
use crate::logs::filter::Pattern;
use crate::logs::model::{self, GroupRecord, StoredEvent, StreamRecord};
use crate::logs::LogsService;
use crate::wire::{self, Object};

/// AWS's PutLogEvents limits.
pub const MAX_BATCH_EVENTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// Bytes AWS adds to each event's message when sizing a batch.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Largest response GetLogEvents and FilterLogEvents build.
const MAX_RESPONSE_BYTES: usize = 1_048_576;

/// What an append stored.
pub(crate) struct Appended {
    pub next_sequence_token: String,
}

impl LogsService {
    pub(crate) async fn put_log_events_api(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        let stream = super::str_arg(&body, "logStreamName")?.to_owned();
        request.authorize("logs:PutLogEvents", &self.group_arn(&group))?;
        let items = wire::opt_array(&body, "logEvents").map_err(invalid)?;
        if items.is_empty() {
            return Err(invalid(wire::constraint(
                &Value::Array(vec![]),
                "logEvents",
                "Member must have length greater than or equal to 1",
            )));
        }
        if items.len() > MAX_BATCH_EVENTS {
            return Err(invalid(wire::constraint(
                &Value::from(format!("[{} events]", items.len())),
                "logEvents",
                "Member must have length less than or equal to 10000",
            )));
        }
        let mut events = Vec::with_capacity(items.len());
        let mut batch_bytes = 0usize;
        for item in items {
            let Value::Object(item) = item else {
                return Err(invalid("Invalid type for 'logEvents': expected a list of InputLogEvent"));
            };
            let timestamp = wire::opt_i64(item, "timestamp").map_err(invalid)?.ok_or_else(|| {
                invalid(wire::constraint(&Value::Null, "logEvents.member.timestamp", "Member must not be null"))
            })?;
            let message = wire::req_str(item, "message").map_err(invalid)?;
            if message.is_empty() {
                return Err(invalid(wire::constraint(
                    &Value::from(""),
                    "logEvents.member.message",
                    "Member must have length greater than or equal to 1",
                )));
            }
            batch_bytes += message.len() + EVENT_OVERHEAD_BYTES;
            events.push((timestamp, message.to_owned()));
        }
        if batch_bytes > MAX_BATCH_BYTES {
            return Err(invalid(format!("Upload too large: {batch_bytes} bytes exceeds limit of {MAX_BATCH_BYTES}")));
        }
        if events.windows(2).any(|pair| pair[1].0 < pair[0].0) {
            return Err(invalid("Log events in a single PutLogEvents request must be in chronological order."));
        }
        let group_record = self.require_group(&group)?;

        // Too old (14 days), expired (the group's retention) and too new (2 h
        // ahead) events are rejected, the rest stored. Sorted input makes each
        // rejected set a run at one end; AWS reports the run boundaries.
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let too_old = events.iter().take_while(|(ts, _)| *ts < now - 14 * DAY_MS).count();
        let expired = match group_record.retention_in_days {
            Some(days) => events.iter().take_while(|(ts, _)| *ts < now - i64::from(days) * DAY_MS).count(),
            None => 0,
        };
        let too_new_start = events.iter().position(|(ts, _)| *ts > now + 2 * HOUR_MS);
        let end = too_new_start.unwrap_or(events.len());
        let start = too_old.max(expired).min(end);
        let accepted: Vec<(i64, String)> = events.drain(start..end).collect();
        if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
            if last.0 - first.0 > DAY_MS {
                return Err(invalid(
                    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                ));
            }
        }

        let appended = self.append(group, stream, accepted, false).await?;
        let mut out = Map::new();
        out.insert("nextSequenceToken".into(), Value::from(appended.next_sequence_token));
        let mut rejected = Map::new();
        if let Some(index) = too_new_start {
            rejected.insert("tooNewLogEventStartIndex".into(), Value::from(index));
        }
        if too_old > 0 {
            rejected.insert("tooOldLogEventEndIndex".into(), Value::from(too_old));
        }
        if expired > 0 {
            rejected.insert("expiredLogEventEndIndex".into(), Value::from(expired));
        }
        if !rejected.is_empty() {
            out.insert("rejectedLogEventsInfo".into(), Value::Object(rejected));
        }
        Ok(Value::Object(out))
    }

    /// Store `events` (in time order) in `group`/`stream`, creating both
    /// when `create_missing` (the sink's behaviour, as Lambda's log agent).
    pub(crate) async fn append(
        &self,
        group: String,
        stream: String,
        events: Vec<(i64, String)>,
        create_missing: bool,
    ) -> Result<Appended, AwsError> {
        let first_seq = self.reserve_seq(events.len() as u64);
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let token = format!("{:056}", first_seq + events.len() as u64);
        let bytes: usize = events.iter().map(|(_, m)| m.len()).sum();
        let count = events.len();
        let metric_group = group.clone();
        let next_sequence_token = token.clone();
        // Metric filters see the events once stored; copy them only if any exist.
        let for_filters = if self.metric_filter_count(&group) > 0 { events.clone() } else { Vec::new() };
        transact(self.store.as_ref(), move |view| {
            let mut batch = WriteBatch::new();
            if model::load_group(view, &group)?.is_none() {
                if !create_missing {
                    return Err(TxnError::Aborted(errors::group_not_found()));
                }
                let record = GroupRecord {
                    name: group.clone(),
                    creation_time: now,
                    log_group_class: "STANDARD".into(),
                    ..GroupRecord::default()
                };
                batch.put(model::GROUPS, model::group_key(&group), model::encode(&record));
            }
            let mut record = match model::load_stream(view, &group, &stream)? {
                Some(record) => record,
                None if create_missing => {
                    StreamRecord { name: stream.clone(), creation_time: now, ..StreamRecord::default() }
                }
                None => return Err(TxnError::Aborted(errors::stream_not_found())),
            };
            if let (Some(first), Some(last)) = (events.first(), events.last()) {
                record.first_event = Some(record.first_event.map_or(first.0, |t| t.min(first.0)));
                record.last_event = Some(record.last_event.map_or(last.0, |t| t.max(last.0)));
                record.last_ingestion = Some(now);
            }
            record.upload_sequence_token = token;
            batch.put(model::STREAMS, model::stream_key(&group, &stream), model::encode(&record));
            for (i, (timestamp, message)) in events.iter().enumerate() {
                batch.put(
                    model::EVENTS,
                    model::event_key(&group, &stream, *timestamp, first_seq + i as u64),
                    model::event_value(now, message),
                );
            }
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        if count > 0 {
            if !for_filters.is_empty() {
                self.publish_metric_filters(&metric_group, &for_filters);
            }
            // CloudWatch Logs reports its own ingestion as AWS/Logs metrics.
            let dims = vec![("LogGroupName".to_owned(), metric_group)];
            let datum = |name: &str, value: f64, unit: &str| MetricDatum {
                namespace: "AWS/Logs".into(),
                name: name.into(),
                dimensions: dims.clone(),
                value,
                unit: unit.into(),
                timestamp_ms: now,
            };
            self.metrics.put_metrics(vec![
                datum("IncomingLogEvents", count as f64, "Count"),
                datum("IncomingBytes", bytes as f64, "Bytes"),
            ]);
        }
        Ok(Appended { next_sequence_token })
    }

    pub(crate) fn get_log_events(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = group_name(&body)?;
        let stream = super::str_arg(&body, "logStreamName")?.to_owned();
        request.authorize("logs:GetLogEvents", &self.group_arn(&group))?;
        let limit = limit_arg(&body, 10_000, 10_000)?;
        let start_time = wire::opt_i64(&body, "startTime").map_err(invalid)?;
        let end_time = wire::opt_i64(&body, "endTime").map_err(invalid)?;
        let from_head = wire::opt_bool(&body, "startFromHead").map_err(invalid)?.unwrap_or(false);
        let token = wire::opt_str(&body, "nextToken").map_err(invalid)?;
        let cursor = match token {
            None => None,
            Some(token) => {
                Some(parse_stream_token(token).ok_or_else(|| invalid("The specified nextToken is invalid."))?)
            }
        };
        self.require_group(&group)?;
        if model::load_stream(self.store.as_ref(), &group, &stream).map_err(errors::store)?.is_none() {
            return Err(errors::stream_not_found());
        }
        let forward = match cursor {
            Some((forward, _)) => forward,
            None => from_head,
        };
        // Positions are (timestamp, sequence); tokens point between events.
        let mut lower = start_time.map_or(Bound::Unbounded, |t| Bound::Included((t, 0)));
        let mut upper = end_time.map_or(Bound::Unbounded, |t| Bound::Excluded((t, 0)));
        match cursor {
            Some((true, position)) => lower = tighter_lower(lower, position),
            Some((false, position)) => upper = tighter_upper(upper, position),
            None => {}
        }
        let direction = if forward { Direction::Forward } else { Direction::Backward };
        let mut events = Vec::new();
        let mut bytes = 0;
        model::scan_stream(self.store.as_ref(), &group, &stream, lower, upper, direction, &mut |event| {
            bytes += event.message.len() + EVENT_OVERHEAD_BYTES;
            if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
                return false;
            }
            events.push(event.to_stored(&stream));
            events.len() < limit
        })
        .map_err(errors::store)?;
        if !forward {
            events.reverse();
        }
        let (forward_token, backward_token) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => {
                (stream_token(true, (last.timestamp, last.seq)), stream_token(false, (first.timestamp, first.seq)))
            }
            _ => {
                // Nothing (more) to read: hand back the same position, which
                // is how clients recognise the end of the stream.
                let position = match cursor {
                    Some((_, position)) => position,
                    None if forward => (start_time.unwrap_or(i64::MIN), 0),
                    None => (end_time.unwrap_or(i64::MAX), u64::MAX),
                };
                (stream_token(true, position), stream_token(false, position))
            }
        };
        let events: Vec<Value> = events
            .iter()
            .map(|e| json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}))
            .collect();
        Ok(json!({"events": events, "nextForwardToken": forward_token, "nextBackwardToken": backward_token}))
    }

    pub(crate) fn filter_log_events(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = group_name(&body)?;
        request.authorize("logs:FilterLogEvents", &self.group_arn(&group))?;
        let names: Vec<String> = wire::opt_array(&body, "logStreamNames")
            .map_err(invalid)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| invalid("Invalid type for 'logStreamNames'")))
            .collect::<Result<_, _>>()?;
        let prefix = wire::opt_str(&body, "logStreamNamePrefix").map_err(invalid)?;
        if !names.is_empty() && prefix.is_some() {
            return Err(invalid("Cannot specify both LogStreamNames and LogStreamNamePrefix"));
        }
        if names.len() > 100 {
            return Err(invalid(wire::constraint(
                &Value::from(format!("[{} names]", names.len())),
                "logStreamNames",
                "Member must have length less than or equal to 100",
            )));
        }
        let limit = limit_arg(&body, 10_000, 10_000)?;
        let start_time = wire::opt_i64(&body, "startTime").map_err(invalid)?;
        let end_time = wire::opt_i64(&body, "endTime").map_err(invalid)?;
        let pattern_text = wire::opt_str(&body, "filterPattern").map_err(invalid)?.unwrap_or("");
        if pattern_text.len() > 1024 {
            return Err(invalid(wire::constraint(
                &Value::from(pattern_text),
                "filterPattern",
                "Member must have length less than or equal to 1024",
            )));
        }
        let pattern = Pattern::parse(pattern_text).map_err(invalid)?;
        let after = match wire::opt_str(&body, "nextToken").map_err(invalid)? {
            None => None,
            Some(token) => {
                Some(parse_filter_token(token).ok_or_else(|| invalid("The specified nextToken is invalid."))?)
            }
        };
        self.require_group(&group)?;
        let streams: Vec<String> = if names.is_empty() {
            model::list_streams(self.store.as_ref(), &group, prefix.unwrap_or(""))
                .map_err(errors::store)?
                .into_iter()
                .map(|s| s.name)
                .collect()
        } else {
            names
        };

        // Every stream is read in time order from the cursor up to `limit`
        // matches; the union is interleaved by (timestamp, sequence), which is
        // a total order across streams, so the cursor resumes exactly.
        let mut lower = start_time.map_or(Bound::Unbounded, |t| Bound::Included((t, 0)));
        if let Some(position) = after {
            lower = tighter_lower(lower, position);
        }
        let upper = end_time.map_or(Bound::Unbounded, |t| Bound::Included((t, u64::MAX)));
        let mut matched: Vec<StoredEvent> = Vec::new();
        let mut maybe_more = false;
        // Once `limit` matches are known, nothing after the last of them can
        // make this page: later streams stop scanning there.
        let mut page_end: Option<(i64, u64)> = None;
        for stream in &streams {
            let mut found = 0;
            model::scan_stream(self.store.as_ref(), &group, stream, lower, upper, Direction::Forward, &mut |event| {
                if page_end.is_some_and(|end| event.position() > end) {
                    maybe_more = true;
                    return false;
                }
                if pattern.matches(&event.message) {
                    matched.push(event.to_stored(stream));
                    found += 1;
                }
                found < limit
            })
            .map_err(errors::store)?;
            maybe_more |= found >= limit;
            if matched.len() >= limit {
                matched.sort_by_key(|e| (e.timestamp, e.seq));
                maybe_more |= matched.len() > limit;
                matched.truncate(limit);
                page_end = matched.last().map(|e| (e.timestamp, e.seq));
            }
        }
        matched.sort_by_key(|e| (e.timestamp, e.seq));
        if matched.len() > limit {
            matched.truncate(limit);
            maybe_more = true;
        }
        let mut bytes = 0;
        if let Some(cut) = matched.iter().position(|e| {
            bytes += e.message.len() + EVENT_OVERHEAD_BYTES;
            bytes > MAX_RESPONSE_BYTES
        }) {
            matched.truncate(cut.max(1));
            maybe_more = true;
        }
        let events: Vec<Value> = matched
            .iter()
            .map(|e| {
                json!({
                    "logStreamName": e.stream,
                    "timestamp": e.timestamp,
                    "message": e.message,
                    "ingestionTime": e.ingestion_time,
                    "eventId": e.event_id(),
                })
            })
            .collect();
        let mut out = Map::new();
        out.insert("events".into(), Value::Array(events));
        out.insert("searchedLogStreams".into(), Value::Array(vec![]));
        if maybe_more {
            if let Some(last) = matched.last() {
                out.insert("nextToken".into(), Value::from(filter_token((last.timestamp, last.seq))));
            }
        }
        Ok(Value::Object(out))
    }
}

fn tighter_lower(current: Bound<(i64, u64)>, after: (i64, u64)) -> Bound<(i64, u64)> {
    match current {
        Bound::Included(p) if p > after => current,
        Bound::Excluded(p) if p >= after => current,
        _ => Bound::Excluded(after),
    }
}

fn tighter_upper(current: Bound<(i64, u64)>, before: (i64, u64)) -> Bound<(i64, u64)> {
    match current {
        Bound::Included(p) if p < before => current,
        Bound::Excluded(p) if p <= before => current,
        _ => Bound::Excluded(before),
    }
}

/// GetLogEvents tokens: `f/…` reads forward after a position, `b/…`
/// backward before it; 40 digits of (timestamp key, sequence).
fn stream_token(forward: bool, (ts, seq): (i64, u64)) -> String {
    format!("{}/{:020}{:020}", if forward { 'f' } else { 'b' }, model::time_key(ts), seq)
}

fn parse_stream_token(token: &str) -> Option<(bool, (i64, u64))> {
    let (direction, digits) = token.split_once('/')?;
    let forward = match direction {
        "f" => true,
        "b" => false,
        _ => return None,
    };
    Some((forward, parse_position(digits)?))
}

fn parse_position(digits: &str) -> Option<(i64, u64)> {
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ts: u64 = digits.get(..20)?.parse().ok()?;
    let seq: u64 = digits.get(20..)?.parse().ok()?;
    Some((model::time_from_key(ts), seq))
}

/// FilterLogEvents tokens: the position of the last event returned.
fn filter_token((ts, seq): (i64, u64)) -> String {
    format!("n/{:020}{:020}", model::time_key(ts), seq)
}

fn parse_filter_token(token: &str) -> Option<(i64, u64)> {
    parse_position(token.strip_prefix("n/")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = stream_token(false, (-3, 77));
        assert_eq!(parse_stream_token(&token), Some((false, (-3, 77))));
        assert_eq!(parse_filter_token(&filter_token((1_700_000_000_000, 5))), Some((1_700_000_000_000, 5)));
        assert_eq!(parse_stream_token("x/1"), None);
        assert_eq!(parse_filter_token("n/12"), None);
    }
}
