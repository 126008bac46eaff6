//! CreateLogStream, DeleteLogStream, DescribeLogStreams.

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::{transact, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::groups::txn_error;
use super::{group_name, limit_arg, valid_stream_name};
use crate::logs::errors::{self, invalid};
use crate::logs::model::{self, StreamRecord};
use crate::logs::LogsService;
use crate::wire::{self, Object};

impl LogsService {
    pub(crate) async fn create_log_stream(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        let stream = super::str_arg(&body, "logStreamName")?.to_owned();
        valid_stream_name(&stream)?;
        request.authorize("logs:CreateLogStream", &self.stream_arn(&group, &stream))?;
        let record = StreamRecord {
            name: stream.clone(),
            creation_time: nimbus_core::time::now_epoch_millis() as i64,
            ..StreamRecord::default()
        };
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &group)?.is_none() {
                return Err(TxnError::Aborted(errors::group_not_found()));
            }
            if model::load_stream(view, &group, &stream)?.is_some() {
                return Err(TxnError::Aborted(errors::stream_exists()));
            }
            let mut batch = WriteBatch::new();
            batch.put(model::STREAMS, model::stream_key(&group, &stream), model::encode(&record));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        Ok(json!({}))
    }

    pub(crate) async fn delete_log_stream(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        let stream = super::str_arg(&body, "logStreamName")?.to_owned();
        request.authorize("logs:DeleteLogStream", &self.stream_arn(&group, &stream))?;
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &group)?.is_none() {
                return Err(TxnError::Aborted(errors::group_not_found()));
            }
            if model::load_stream(view, &group, &stream)?.is_none() {
                return Err(TxnError::Aborted(errors::stream_not_found()));
            }
            let mut batch = WriteBatch::new();
            batch.delete(model::STREAMS, model::stream_key(&group, &stream));
            batch.delete_prefix(model::EVENTS, &model::stream_events_prefix(&group, &stream));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        Ok(json!({}))
    }

    pub(crate) fn describe_log_streams(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = group_name(&body)?;
        request.authorize("logs:DescribeLogStreams", &self.group_arn(&group))?;
        let prefix = wire::opt_str(&body, "logStreamNamePrefix").map_err(invalid)?.unwrap_or("");
        let by_time = match wire::opt_str(&body, "orderBy").map_err(invalid)? {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(invalid(wire::constraint(
                    &Value::from(other),
                    "orderBy",
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
                )))
            }
        };
        if by_time && !prefix.is_empty() {
            return Err(invalid("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let descending = wire::opt_bool(&body, "descending").map_err(invalid)?.unwrap_or(false);
        let limit = limit_arg(&body, 50, 50)?;
        self.require_group(&group)?;
        let mut streams = model::list_streams(self.store.as_ref(), &group, prefix).map_err(errors::store)?;
        if by_time {
            // Streams without events sort first, as AWS shows them; ties by name.
            streams.sort_by(|a, b| a.last_event.cmp(&b.last_event).then_with(|| a.name.cmp(&b.name)));
        }
        if descending {
            streams.reverse();
        }
        // The token is the index of the next stream in this order: simple and
        // stable while streams are not created or deleted between pages.
        let start = match wire::opt_str(&body, "nextToken").map_err(invalid)? {
            None => 0,
            Some(token) => token
                .strip_prefix("s/")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| invalid("The specified nextToken is invalid."))?,
        };
        let page: Vec<Value> = streams.iter().skip(start).take(limit).map(|s| self.stream_json(&group, s)).collect();
        let mut out = Map::new();
        let end = start + page.len();
        out.insert("logStreams".into(), Value::Array(page));
        if end < streams.len() {
            out.insert("nextToken".into(), Value::from(format!("s/{end}")));
        }
        Ok(Value::Object(out))
    }

    fn stream_json(&self, group: &str, stream: &StreamRecord) -> Value {
        let mut out = json!({
            "logStreamName": stream.name,
            "creationTime": stream.creation_time,
            "arn": self.stream_arn(group, &stream.name),
            "storedBytes": 0,
        });
        if let Some(first) = stream.first_event {
            out["firstEventTimestamp"] = Value::from(first);
        }
        if let Some(last) = stream.last_event {
            out["lastEventTimestamp"] = Value::from(last);
        }
        if let Some(ingested) = stream.last_ingestion {
            out["lastIngestionTime"] = Value::from(ingested);
        }
        if !stream.upload_sequence_token.is_empty() {
            out["uploadSequenceToken"] = Value::from(stream.upload_sequence_token.clone());
        }
        out
    }
}
