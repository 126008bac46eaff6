//! TagResource, UntagResource, ListTagsForResource (by ARN) and the legacy
//! TagLogGroup, UntagLogGroup, ListTagsLogGroup (by name).

use std::collections::BTreeMap;

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::{transact, TxnError, WriteBatch};
use serde_json::{json, Value};

use super::group_from_identifier;
use super::groups::{parse_tags, txn_error};
use crate::logs::errors::{self, invalid};
use crate::logs::model;
use crate::logs::LogsService;
use crate::wire::{self, Object};

impl LogsService {
    pub(crate) async fn tag_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = self.group_of_arn(&body)?;
        request.authorize("logs:TagResource", &self.group_arn(&group))?;
        let tags = parse_tags(&body, "tags")?;
        self.update_tags(group, move |current| current.extend(tags)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = self.group_of_arn(&body)?;
        request.authorize("logs:UntagResource", &self.group_arn(&group))?;
        let keys = tag_keys(&body, "tagKeys")?;
        self.update_tags(group, move |current| current.retain(|k, _| !keys.contains(k))).await?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags_for_resource(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = self.group_of_arn(&body)?;
        request.authorize("logs:ListTagsForResource", &self.group_arn(&group))?;
        Ok(json!({"tags": self.require_group(&group)?.tags}))
    }

    pub(crate) async fn tag_log_group(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        request.authorize("logs:TagLogGroup", &self.group_arn(&group))?;
        let tags = parse_tags(&body, "tags")?;
        self.update_tags(group, move |current| current.extend(tags)).await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_log_group(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        request.authorize("logs:UntagLogGroup", &self.group_arn(&group))?;
        let keys = tag_keys(&body, "tags")?;
        self.update_tags(group, move |current| current.retain(|k, _| !keys.contains(k))).await?;
        Ok(json!({}))
    }

    pub(crate) fn list_tags_log_group(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let group = super::str_arg(&body, "logGroupName")?.to_owned();
        request.authorize("logs:ListTagsLogGroup", &self.group_arn(&group))?;
        Ok(json!({"tags": self.require_group(&group)?.tags}))
    }

    /// The log group of `resourceArn`; other resource types are not ours to tag.
    fn group_of_arn(&self, body: &Object) -> Result<String, AwsError> {
        let arn = super::str_arg(body, "resourceArn")?;
        if !arn.starts_with("arn:") || !arn.contains(":log-group:") {
            return Err(invalid(format!("Invalid resource ARN: {arn}")));
        }
        Ok(group_from_identifier(arn).to_owned())
    }

    async fn update_tags(
        &self,
        group: String,
        change: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<(), AwsError> {
        transact(self.store.as_ref(), move |view| {
            let Some(mut record) = model::load_group(view, &group)? else {
                return Err(TxnError::Aborted(errors::group_not_found()));
            };
            change(&mut record.tags);
            if record.tags.len() > 50 {
                return Err(TxnError::Aborted(AwsError::new(
                    400,
                    "TooManyTagsException",
                    "A resource can have no more than 50 tags.",
                )));
            }
            let mut batch = WriteBatch::new();
            batch.put(model::GROUPS, model::group_key(&group), model::encode(&record));
            Ok((batch, ()))
        })
        .await
        .map_err(txn_error)
    }
}

fn tag_keys(body: &Object, field: &str) -> Result<Vec<String>, AwsError> {
    wire::opt_array(body, field)
        .map_err(invalid)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| invalid(format!("Invalid type for '{field}'"))))
        .collect()
}
