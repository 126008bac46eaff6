//! CreateLogGroup, DeleteLogGroup, DescribeLogGroups.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::{transact, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::{limit_arg, valid_group_name};
use crate::logs::errors::{self, invalid};
use crate::logs::model::{self, GroupRecord};
use crate::logs::LogsService;
use crate::wire::{self, Object};

impl LogsService {
    pub(crate) async fn create_log_group(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = super::str_arg(&body, "logGroupName")?.to_owned();
        valid_group_name(&name)?;
        request.authorize("logs:CreateLogGroup", &self.group_arn(&name))?;
        let tags = parse_tags(&body, "tags")?;
        let class = wire::opt_str(&body, "logGroupClass").map_err(invalid)?.unwrap_or("STANDARD").to_owned();
        if !["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"].contains(&class.as_str()) {
            return Err(invalid(wire::constraint(
                &Value::from(class),
                "logGroupClass",
                "Member must satisfy enum value set: [INFREQUENT_ACCESS, STANDARD, DELIVERY]",
            )));
        }
        let record = GroupRecord {
            name: name.clone(),
            creation_time: nimbus_core::time::now_epoch_millis() as i64,
            retention_in_days: None,
            kms_key_id: wire::opt_str(&body, "kmsKeyId").map_err(invalid)?.map(str::to_owned),
            log_group_class: class,
            tags,
        };
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &name)?.is_some() {
                return Err(TxnError::Aborted(errors::group_exists()));
            }
            let mut batch = WriteBatch::new();
            batch.put(model::GROUPS, model::group_key(&name), model::encode(&record));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)?;
        Ok(json!({}))
    }

    pub(crate) async fn delete_log_group(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = super::str_arg(&body, "logGroupName")?.to_owned();
        request.authorize("logs:DeleteLogGroup", &self.group_arn(&name))?;
        self.delete_group(name).await?;
        Ok(json!({}))
    }

    /// Delete a group with all its streams and events, atomically.
    pub(crate) async fn delete_group(&self, name: String) -> Result<(), AwsError> {
        transact(self.store.as_ref(), move |view| {
            if model::load_group(view, &name)?.is_none() {
                return Err(TxnError::Aborted(errors::group_not_found()));
            }
            let mut batch = WriteBatch::new();
            batch.delete(model::GROUPS, model::group_key(&name));
            batch.delete_prefix(model::STREAMS, &model::streams_prefix(&name));
            batch.delete_prefix(model::EVENTS, &model::group_events_prefix(&name));
            batch.delete_prefix(model::METRIC_FILTERS, &model::streams_prefix(&name));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)
    }

    pub(crate) fn describe_log_groups(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let prefix = wire::opt_str(&body, "logGroupNamePrefix").map_err(invalid)?.unwrap_or("");
        let pattern = wire::opt_str(&body, "logGroupNamePattern").map_err(invalid)?;
        if !prefix.is_empty() && pattern.is_some() {
            return Err(invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."));
        }
        request.authorize("logs:DescribeLogGroups", &format!("{}:*", self.group_arn("*")))?;
        let limit = limit_arg(&body, 50, 50)?;
        let after = wire::opt_str(&body, "nextToken").map_err(invalid)?;
        let identifiers: Vec<String> = wire::opt_array(&body, "logGroupIdentifiers")
            .map_err(invalid)?
            .iter()
            .map(|v| v.as_str().map(|i| super::group_from_identifier(i).to_owned()))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("Invalid type for 'logGroupIdentifiers': expected a list of strings"))?;
        if !identifiers.is_empty() && (!prefix.is_empty() || pattern.is_some()) {
            return Err(invalid(
                "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.",
            ));
        }
        let class = wire::opt_str(&body, "logGroupClass").map_err(invalid)?;
        let groups = model::list_groups(self.store.as_ref(), prefix).map_err(errors::store)?;
        let mut matching = groups
            .into_iter()
            .filter(|g| identifiers.is_empty() || identifiers.contains(&g.name))
            .filter(|g| {
                class.is_none_or(|c| g.log_group_class == c || (g.log_group_class.is_empty() && c == "STANDARD"))
            })
            .filter(|g| pattern.is_none_or(|p| g.name.contains(p)))
            .filter(|g| after.is_none_or(|token| g.name.as_str() > token));
        let page: Vec<GroupRecord> = matching.by_ref().take(limit).collect();
        let mut out = Map::new();
        out.insert("logGroups".into(), page.iter().map(|g| self.group_json(g)).collect());
        if matching.next().is_some() {
            if let Some(last) = page.last() {
                out.insert("nextToken".into(), Value::from(last.name.clone()));
            }
        }
        Ok(Value::Object(out))
    }

    fn group_json(&self, group: &GroupRecord) -> Value {
        let arn = self.group_arn(&group.name);
        let mut out = json!({
            "logGroupName": group.name,
            "creationTime": group.creation_time,
            "metricFilterCount": self.metric_filter_count(&group.name),
            "arn": format!("{arn}:*"),
            "storedBytes": 0,
            "logGroupClass": if group.log_group_class.is_empty() { "STANDARD" } else { &group.log_group_class },
            "logGroupArn": arn,
        });
        if let Some(days) = group.retention_in_days {
            out["retentionInDays"] = Value::from(days);
        }
        if let Some(key) = &group.kms_key_id {
            out["kmsKeyId"] = Value::from(key.clone());
        }
        out
    }

    /// Load a group or fail with AWS's not-found error.
    pub(crate) fn require_group(&self, name: &str) -> Result<GroupRecord, AwsError> {
        model::load_group(self.store.as_ref(), name).map_err(errors::store)?.ok_or_else(errors::group_not_found)
    }
}

/// A `{key: value}` tag map, validated as AWS does.
pub(crate) fn parse_tags(body: &Object, field: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut tags = BTreeMap::new();
    match body.get(field) {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                let Some(value) = value.as_str() else {
                    return Err(invalid(format!("Invalid type for tag '{key}': expected a string")));
                };
                if key.is_empty() || key.len() > 128 || key.starts_with("aws:") {
                    return Err(invalid(wire::constraint(
                        &Value::from(key.clone()),
                        field,
                        "Map keys must satisfy constraint: [Member must have length between 1 and 128]",
                    )));
                }
                if value.len() > 256 {
                    return Err(invalid(wire::constraint(
                        &Value::from(value),
                        field,
                        "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
                    )));
                }
                tags.insert(key.clone(), value.to_owned());
            }
        }
        Some(_) => return Err(invalid(format!("Invalid type for '{field}': expected a map"))),
    }
    if tags.len() > 50 {
        return Err(invalid(wire::constraint(&Value::Null, field, "Member must have length less than or equal to 50")));
    }
    Ok(tags)
}

/// A transaction's failure as the API's error.
pub(crate) fn txn_error(err: TxnError<AwsError>) -> AwsError {
    match err {
        TxnError::Aborted(err) => err,
        TxnError::Store(err) => errors::store(err),
    }
}
