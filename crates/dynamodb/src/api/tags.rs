//! TagResource, UntagResource, ListTagsOfResource, and the tag rules
//! CreateTable shares with them.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Req, Validator};
use crate::error::{dynamodb, invalid_parameter, serialization, validation, Result};
use crate::model::table::Table;
use crate::types::unexpected;
use crate::DynamoDb;

/// Tags a table may carry.
const MAX_TAGS: usize = 50;

fn too_many_tags() -> nimbus_core::AwsError {
    validation("Number of Tags exceed the current limit for the provided ResourceArn")
}

/// Letters and digits of any script, white space, and `_ . : / = + - @`.
fn legal_tag_text(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn invalid_key(key: Option<&str>) -> nimbus_core::AwsError {
    validation(format!("The Tag Key provided is invalid, Key: {}", key.unwrap_or("null")))
}

fn check_key(key: Option<&str>) -> Result<&str> {
    match key {
        Some(k) if (1..=128).contains(&k.chars().count()) && legal_tag_text(k) => Ok(k),
        _ => Err(invalid_key(key)),
    }
}

/// A `Tags` list, checked as AWS checks it: each key and value, the
/// reserved `aws:` prefix, and keys repeated within the list.
pub fn parse(list: Option<&Vec<Value>>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = vec![];
    for t in list.into_iter().flatten() {
        let obj = t.as_object().ok_or_else(|| serialization(unexpected(t, "Structure")))?;
        let r = Req::new(obj);
        let key = check_key(r.str("Key")?)?;
        let value = r.str("Value")?;
        match value {
            Some(v) if v.chars().count() <= 256 && legal_tag_text(v) => {}
            _ => {
                return Err(validation(format!(
                    "The Tag Value provided is invalid, Value: {}",
                    value.unwrap_or("null")
                )))
            }
        }
        if key.starts_with("aws:") {
            return Err(validation(format!("Tag Key cannot be prefixed with aws:, Key: {key}")));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(validation(format!("Duplicate Tag Keys provided as input: Duplicate Tag Key found {key}")));
        }
        out.push((key.to_owned(), value.unwrap_or_default().to_owned()));
    }
    if out.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    Ok(out)
}

impl DynamoDb {
    /// The table a tagging operation's ResourceArn names.
    fn table_by_arn(&self, region: &str, arn: Option<&str>) -> Result<Arc<Table>> {
        let arn = arn.unwrap_or_default();
        if !arn.starts_with("arn:") {
            return Err(invalid_parameter(format!("ARNs must start with 'arn:': {arn}")));
        }
        let Some((_, resource)) = arn.split_once(":table/") else {
            return Err(validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}")));
        };
        // An index's ARN is a table's ARN with `/index/<name>` after it.
        if resource.contains('/') {
            return Err(invalid_parameter(format!(
                "Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}"
            )));
        }
        match self.catalog.get(region, resource)? {
            Some(t) if t.arn == arn => Ok(t),
            _ => Err(dynamodb(
                "ResourceNotFoundException",
                format!("Requested resource not found: ResourcArn: {arn} not found"),
            )),
        }
    }

    pub(crate) async fn tag_resource(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.not_null(r.has("Tags"), "tags");
        v.finish()?;
        let new_tags = parse(r.array("Tags")?)?;
        if new_tags.is_empty() {
            return Err(validation("Atleast one Tag needs to be provided as Input."));
        }
        let _change = self.catalog.changing().await;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let mut t = (*table).clone();
        for (k, val) in new_tags {
            match t.tags.iter_mut().find(|(x, _)| *x == k) {
                Some(slot) => slot.1 = val,
                None => t.tags.push((k, val)),
            }
        }
        if t.tags.len() > MAX_TAGS {
            return Err(too_many_tags());
        }
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({}))
    }

    pub(crate) async fn untag_resource(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.not_null(r.has("TagKeys"), "tagKeys");
        v.finish()?;
        let mut keys: Vec<&str> = vec![];
        for k in r.array("TagKeys")?.into_iter().flatten() {
            keys.push(check_key(Some(k.as_str().ok_or_else(|| serialization(unexpected(k, "String")))?))?);
        }
        if keys.is_empty() {
            return Err(validation("Atleast one Tag Key needs to be provided as Input."));
        }
        if keys.len() > MAX_TAGS {
            return Err(too_many_tags());
        }
        let _change = self.catalog.changing().await;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let mut t = (*table).clone();
        t.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({}))
    }

    pub(crate) async fn list_tags(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let mut v = Validator::default();
        v.not_null(r.has("ResourceArn"), "resourceArn");
        v.finish()?;
        let table = self.table_by_arn(region, r.str("ResourceArn")?)?;
        let tags: Vec<Value> = table.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        Ok(json!({ "Tags": tags }))
    }
}
