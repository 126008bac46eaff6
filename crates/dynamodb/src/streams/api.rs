//! The DynamoDB Streams API: awsJson 1.0,
//! `X-Amz-Target: DynamoDBStreams_20120810.<Operation>`, signed as `dynamodb`.
//!
//! IAM: `dynamodb:ListStreams` on `*`; `dynamodb:DescribeStream`,
//! `dynamodb:GetShardIterator` and `dynamodb:GetRecords` on the stream ARN.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, Response};
use nimbus_core::time::now_epoch_millis;
use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Context, Protocol, Service, ServiceSpec};
use nimbus_store::{Direction, ReadView, ReadViewExt, Store};
use serde_json::{json, Map, Value};

use super::iterator::ShardIterator;
use super::model::{
    load, meta_key, parse_seq, parse_stream_arn, render_seq, stream_not_found, StoredRecord, StreamMeta, STREAMS,
};
use super::trim::{self, horizon, Horizon};
use crate::api::{Req, Validator};
use crate::error::{dynamodb, internal, table_not_found, validation, Result};
use crate::model::{table_key, TABLES};

static SPEC: ServiceSpec = ServiceSpec {
    name: "dynamodbstreams",
    signing_name: "dynamodb",
    protocol: Protocol::AwsJson1_0,
    target_prefix: Some("DynamoDBStreams_20120810"),
    ..ServiceSpec::BASE
};

/// GetRecords returns at most this many bytes of records per call.
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// How long records and shard iterators last.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Records older than this are trimmed (AWS: 24 hours).
    pub retention_ms: u64,
    /// Shard iterators expire after this (AWS: 15 minutes).
    pub iterator_lifetime_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { retention_ms: 24 * 3600 * 1000, iterator_lifetime_ms: 15 * 60 * 1000 }
    }
}

impl Settings {
    /// AWS's limits, unless `NIMBUS_DYNAMODB_STREAM_RETENTION_SECONDS` or
    /// `NIMBUS_DYNAMODB_SHARD_ITERATOR_SECONDS` shorten them (to see trimming
    /// and expiry without waiting a day).
    pub fn from_env() -> Self {
        let seconds = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()).map(|s| s * 1000);
        let default = Settings::default();
        Settings {
            retention_ms: seconds("NIMBUS_DYNAMODB_STREAM_RETENTION_SECONDS").unwrap_or(default.retention_ms),
            iterator_lifetime_ms: seconds("NIMBUS_DYNAMODB_SHARD_ITERATOR_SECONDS")
                .unwrap_or(default.iterator_lifetime_ms),
        }
    }
}

pub struct DynamoDbStreams {
    store: Arc<dyn Store>,
    context: Context,
    settings: Settings,
}

impl DynamoDbStreams {
    pub fn new(store: Arc<dyn Store>, context: Context, settings: Settings) -> Self {
        if let Err(err) = super::model::seed_sequence(store.as_ref()) {
            tracing::warn!("reading the last DynamoDB stream sequence numbers: {err}");
        }
        DynamoDbStreams { store, context, settings }
    }

    /// Handle one operation on a JSON body; the response body as bytes.
    pub fn call(&self, caller: Option<&AwsRequest>, operation: &str, region: &str, body: &[u8]) -> Result<Vec<u8>> {
        let map = crate::parse_body(body)?;
        let r = Req::new(&map);
        let out = match operation {
            "ListStreams" => self.list_streams(caller, region, r)?,
            "DescribeStream" => self.describe_stream(caller, region, r)?,
            "GetShardIterator" => self.get_shard_iterator(caller, region, r)?,
            "GetRecords" => self.get_records(caller, region, r)?,
            _ => return Err(AwsError::unknown_operation(Protocol::AwsJson1_0)),
        };
        serde_json::to_vec(&out).map_err(internal)
    }

    fn now(&self) -> u64 {
        now_epoch_millis()
    }

    /// A stream that still exists: disabled streams last as long as records do.
    fn alive(&self, meta: &StreamMeta) -> bool {
        meta.disabled_at.is_none_or(|at| (at * 1000.0) as u64 + self.settings.retention_ms > self.now())
    }

    /// The stream a StreamArn member names, or AWS's error.
    fn stream(&self, view: &dyn ReadView, region: &str, arn: &str) -> Result<StreamMeta> {
        let Some((arn_region, table, label)) = parse_stream_arn(arn) else {
            return Err(validation(format!("Invalid StreamArn: {arn}")));
        };
        let meta = match arn_region == region {
            true => load(view, region, table, label)?,
            false => None,
        };
        meta.filter(|m| m.arn == arn && self.alive(m)).ok_or_else(|| stream_not_found(arn))
    }

    fn horizon(&self, view: &dyn ReadView, meta: &StreamMeta) -> Result<Horizon> {
        let cutoff = self.now().saturating_sub(self.settings.retention_ms);
        horizon(view, meta, cutoff).map_err(internal)
    }

    /// Delete trimmed records and long-disabled streams in the background.
    pub fn start_trimming(&self) {
        trim::start(self.store.clone(), self.settings.retention_ms);
    }

    fn list_streams(&self, caller: Option<&AwsRequest>, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let limit = limit(&r, 100, &mut v)?;
        let table = r.str("TableName")?;
        if table.is_some() {
            v.table_name(table, "tableName");
        }
        let start = r.str("ExclusiveStartStreamArn")?;
        arn_length(start, "exclusiveStartStreamArn", &mut v);
        v.finish()?;
        authorize(caller, "dynamodb:ListStreams", "*")?;
        let snap = self.store.snapshot().map_err(internal)?;
        let after = match start {
            Some(arn) => {
                let (arn_region, t, label) =
                    parse_stream_arn(arn).ok_or_else(|| validation(format!("Invalid StreamArn: {arn}")))?;
                Some(meta_key(arn_region, t, label))
            }
            None => None,
        };
        let prefix = match table {
            Some(name) => {
                if snap.get(TABLES, &table_key(region, name)).map_err(internal)?.is_none() {
                    return Err(table_not_found(name));
                }
                meta_key(region, name, "")
            }
            None => {
                let mut p = region.as_bytes().to_vec();
                p.push(0);
                p
            }
        };
        let rows = snap.scan_prefix(STREAMS, &prefix, usize::MAX).map_err(internal)?;
        let mut streams = vec![];
        let mut more = false;
        for (key, bytes) in rows {
            if after.as_ref().is_some_and(|a| key <= *a) {
                continue;
            }
            let meta: StreamMeta = serde_json::from_slice(&bytes).map_err(internal)?;
            if !self.alive(&meta) {
                continue;
            }
            if streams.len() == limit {
                more = true;
                break;
            }
            streams.push(meta);
        }
        let mut out = json!({"Streams": streams.iter().map(|m| json!({
            "StreamArn": m.arn, "TableName": m.table_name, "StreamLabel": m.label,
        })).collect::<Vec<_>>()});
        if let (true, Some(last)) = (more, streams.last()) {
            out["LastEvaluatedStreamArn"] = json!(last.arn);
        }
        Ok(out)
    }

    fn describe_stream(&self, caller: Option<&AwsRequest>, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let arn = r.str("StreamArn")?;
        v.not_null(arn.is_some(), "streamArn");
        arn_length(arn, "streamArn", &mut v);
        let limit = limit(&r, 100, &mut v)?;
        let start_shard = r.str("ExclusiveStartShardId")?;
        shard_id_length(start_shard, "exclusiveStartShardId", &mut v);
        v.finish()?;
        let arn = arn.unwrap_or_default();
        authorize(caller, "dynamodb:DescribeStream", arn)?;
        let snap = self.store.snapshot().map_err(internal)?;
        let meta = self.stream(snap.as_ref(), region, arn)?;
        let shard_id = meta.shard_id();
        let mut shards = vec![];
        // One shard; a page starting after it (or after any later id) is empty.
        if limit > 0 && start_shard.is_none_or(|s| s < shard_id.as_str()) {
            let horizon = self.horizon(snap.as_ref(), &meta)?;
            let mut range = json!({"StartingSequenceNumber": render_seq(horizon.first.max(meta.start_seq + 1))});
            if !meta.is_enabled() {
                let last = meta.last_seq(snap.as_ref()).map_err(internal)?.unwrap_or(meta.start_seq + 1);
                range["EndingSequenceNumber"] = json!(render_seq(last));
            }
            shards.push(json!({"ShardId": shard_id, "SequenceNumberRange": range}));
        }
        let mut key_schema = meta.key.to_json();
        if let Value::Array(list) = &mut key_schema {
            list.truncate(2);
        }
        Ok(json!({"StreamDescription": {
            "StreamArn": meta.arn,
            "StreamLabel": meta.label,
            "StreamStatus": if meta.is_enabled() { "ENABLED" } else { "DISABLED" },
            "StreamViewType": meta.view_type,
            "CreationRequestDateTime": meta.created,
            "TableName": meta.table_name,
            "KeySchema": key_schema,
            "Shards": shards,
        }}))
    }

    fn get_shard_iterator(&self, caller: Option<&AwsRequest>, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let arn = r.str("StreamArn")?;
        v.not_null(arn.is_some(), "streamArn");
        arn_length(arn, "streamArn", &mut v);
        let shard = r.str("ShardId")?;
        v.not_null(shard.is_some(), "shardId");
        shard_id_length(shard, "shardId", &mut v);
        let kind = r.str("ShardIteratorType")?;
        v.not_null(kind.is_some(), "shardIteratorType");
        if let Some(k) = kind {
            let allowed = ["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"];
            v.enumeration(k, "shardIteratorType", &allowed);
        }
        let seq_text = r.str("SequenceNumber")?;
        if let Some(s) = seq_text {
            v.check(s.len() >= 21, Some(s), "sequenceNumber", "Member must have length greater than or equal to 21");
            v.check(s.len() <= 40, Some(s), "sequenceNumber", "Member must have length less than or equal to 40");
        }
        v.finish()?;
        let (arn, shard, kind) = (arn.unwrap_or_default(), shard.unwrap_or_default(), kind.unwrap_or_default());
        let by_sequence = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
        if kind == "AT_TIMESTAMP" {
            return Err(validation("Invalid ShardIteratorType: AT_TIMESTAMP is not supported by DynamoDB Streams"));
        }
        if by_sequence && seq_text.is_none() {
            return Err(validation(format!("SequenceNumber is required when ShardIteratorType is {kind}")));
        }
        if !by_sequence && seq_text.is_some() {
            return Err(validation(format!("SequenceNumber must not be given when ShardIteratorType is {kind}")));
        }
        let seq = match seq_text {
            Some(text) => Some(parse_seq(text).ok_or_else(|| validation(format!("Invalid SequenceNumber: {text}")))?),
            None => None,
        };
        authorize(caller, "dynamodb:GetShardIterator", arn)?;
        let snap = self.store.snapshot().map_err(internal)?;
        let meta = self.stream(snap.as_ref(), region, arn)?;
        if shard != meta.shard_id() {
            return Err(dynamodb(
                "ResourceNotFoundException",
                format!("Requested resource not found: Shard: {shard} in Stream: {arn} not found"),
            ));
        }
        let horizon = self.horizon(snap.as_ref(), &meta)?;
        let position = match (kind, seq) {
            ("TRIM_HORIZON", _) => horizon.first,
            ("LATEST", _) => meta.last_seq(snap.as_ref()).map_err(internal)?.map_or(horizon.first, |s| s + 1),
            ("AT_SEQUENCE_NUMBER", Some(s)) => s,
            (_, Some(s)) => s.saturating_add(1),
            (_, None) => horizon.first,
        };
        if seq.is_some_and(|s| s <= horizon.trimmed_through || s <= meta.start_seq) {
            return Err(trimmed());
        }
        let iterator =
            ShardIterator { stream_arn: meta.arn, shard_id: shard.to_owned(), position, issued_ms: self.now() };
        Ok(json!({"ShardIterator": iterator.encode()}))
    }

    fn get_records(&self, caller: Option<&AwsRequest>, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        let text = r.str("ShardIterator")?;
        v.not_null(text.is_some(), "shardIterator");
        if let Some(t) = text {
            v.check(!t.is_empty(), Some(t), "shardIterator", "Member must have length greater than or equal to 1");
            v.check(t.len() <= 2048, Some(t), "shardIterator", "Member must have length less than or equal to 2048");
        }
        let limit = limit(&r, 1000, &mut v)?;
        v.finish()?;
        let iterator =
            ShardIterator::decode(text.unwrap_or_default()).ok_or_else(|| validation("Invalid ShardIterator"))?;
        authorize(caller, "dynamodb:GetRecords", &iterator.stream_arn)?;
        let now = self.now();
        if now.saturating_sub(iterator.issued_ms) > self.settings.iterator_lifetime_ms {
            // botocore's model documents this message for the error.
            return Err(dynamodb("ExpiredIteratorException", "The provided iterator exceeds the maximum age allowed."));
        }
        let snap = self.store.snapshot().map_err(internal)?;
        let meta = self.stream(snap.as_ref(), region, &iterator.stream_arn)?;
        let horizon = self.horizon(snap.as_ref(), &meta)?;
        if iterator.position <= horizon.trimmed_through {
            return Err(trimmed());
        }
        let rows = meta.scan(snap.as_ref(), iterator.position, Direction::Forward, limit).map_err(internal)?;
        let (mut records, mut bytes, mut next) = (vec![], 0u64, iterator.position);
        let read_all = rows.len() < limit;
        let mut cut_short = false;
        for (seq, raw) in rows {
            let record: StoredRecord = serde_json::from_slice(&raw).map_err(internal)?;
            if !records.is_empty() && bytes + record.size > MAX_RESPONSE_BYTES {
                cut_short = true;
                break;
            }
            bytes += record.size;
            records.push(record_json(&meta, seq, record));
            next = seq + 1;
        }
        let mut out = json!({"Records": records});
        // A disabled stream's shard is closed: once read to its end, no next iterator.
        let at_end = read_all && !cut_short;
        if meta.is_enabled() || !at_end {
            let next = ShardIterator { position: next, issued_ms: now, ..iterator };
            out["NextShardIterator"] = json!(next.encode());
        }
        Ok(out)
    }
}

/// One record as GetRecords returns it.
fn record_json(meta: &StreamMeta, seq: u64, record: StoredRecord) -> Value {
    let mut body = Map::new();
    body.insert("ApproximateCreationDateTime".into(), json!(record.at / 1000));
    body.insert("Keys".into(), json!(record.keys));
    if let Some(new) = &record.new {
        body.insert("NewImage".into(), json!(new));
    }
    if let Some(old) = &record.old {
        body.insert("OldImage".into(), json!(old));
    }
    body.insert("SequenceNumber".into(), json!(render_seq(seq)));
    body.insert("SizeBytes".into(), json!(record.size.max(1)));
    body.insert("StreamViewType".into(), json!(record.view_type));
    let mut out = json!({
        "eventID": format!("{:016x}{:016x}", seq, meta.table_id.rotate_left(17) ^ record.at),
        "eventName": record.event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": meta.region,
        "dynamodb": body,
    });
    if record.by_ttl {
        out["userIdentity"] = json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"});
    }
    out
}

fn trimmed() -> AwsError {
    // The message DynamoDB answers with, as clients have reported it.
    dynamodb("TrimmedDataAccessException", "The data you are trying to access has been trimmed")
}

fn authorize(caller: Option<&AwsRequest>, action: &str, resource: &str) -> Result<()> {
    match caller {
        Some(request) => request.authorize(action, resource),
        None => Ok(()),
    }
}

/// A Limit member: at least 1, at most `max`; `max` when absent.
fn limit(r: &Req<'_>, max: i64, v: &mut Validator) -> Result<usize> {
    let Some(n) = r.int("Limit")? else {
        return Ok(max as usize);
    };
    let shown = n.to_string();
    v.check(n >= 1, Some(&shown), "limit", "Member must have value greater than or equal to 1");
    v.check(n <= max, Some(&shown), "limit", &format!("Member must have value less than or equal to {max}"));
    Ok(n.clamp(1, max) as usize)
}

fn arn_length(arn: Option<&str>, field: &str, v: &mut Validator) {
    if let Some(a) = arn {
        v.check(a.len() >= 37, Some(a), field, "Member must have length greater than or equal to 37");
        v.check(a.len() <= 1024, Some(a), field, "Member must have length less than or equal to 1024");
    }
}

fn shard_id_length(id: Option<&str>, field: &str, v: &mut Validator) {
    if let Some(s) = id {
        v.check(s.len() >= 28, Some(s), field, "Member must have length greater than or equal to 28");
        v.check(s.len() <= 65, Some(s), field, "Member must have length less than or equal to 65");
    }
}

impl Service for DynamoDbStreams {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            let operation = request.target_operation.as_deref().unwrap_or_default();
            let region = if request.region.is_empty() { self.context.region.as_str() } else { request.region.as_str() };
            let body = self.call(Some(&request), operation, region, &request.body)?;
            Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
                .body(Bytes::from(body))
                .map_err(internal)
        })
    }
}
