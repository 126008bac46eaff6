//! UpdateTimeToLive and DescribeTimeToLive: the TTL setting of a table (the
//! background deletion it enables is `crate::ttl`).

use serde_json::{json, Value};

use super::{Req, Validator};
use crate::error::{validation, Result};
use crate::model::table::Ttl;
use crate::DynamoDb;

impl DynamoDb {
    pub(crate) async fn update_ttl(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let spec = r.object("TimeToLiveSpecification")?;
        let mut v = Validator::default();
        v.not_null(spec.is_some(), "timeToLiveSpecification");
        let (enabled, attr) = match spec {
            Some(s) => {
                let sr = Req::new(s);
                let enabled = sr.bool("Enabled")?;
                let attr = sr.str("AttributeName")?;
                v.not_null(attr.is_some(), "timeToLiveSpecification.attributeName");
                v.not_null(enabled.is_some(), "timeToLiveSpecification.enabled");
                if let Some(a) = attr {
                    let field = "timeToLiveSpecification.attributeName";
                    v.check(!a.is_empty(), Some(a), field, "Member must have length greater than or equal to 1");
                    v.check(a.len() <= 255, Some(a), field, "Member must have length less than or equal to 255");
                }
                (enabled.unwrap_or(false), attr.unwrap_or_default().to_owned())
            }
            None => (false, String::new()),
        };
        v.finish()?;
        let _change = self.catalog.changing().await;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        match table.ttl.as_ref().filter(|t| t.enabled) {
            Some(current) if current.attribute != attr => {
                return Err(validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {}",
                    current.attribute
                )))
            }
            Some(_) if enabled => return Err(validation("TimeToLive is already enabled")),
            None if !enabled => return Err(validation("TimeToLive is already disabled")),
            _ => {}
        }
        let mut t = (*table).clone();
        t.ttl = Some(Ttl { attribute: attr.clone(), enabled });
        self.catalog.replace(region, &table, t).await?;
        Ok(json!({ "TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attr} }))
    }

    pub(crate) async fn describe_ttl(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let name = r.table_name()?;
        let table = self.catalog.get(region, name)?.ok_or_else(|| crate::error::table_not_found(name))?;
        Ok(match &table.ttl {
            Some(t) if t.enabled => {
                json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": t.attribute}})
            }
            _ => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
        })
    }
}
