//! PutDashboard, GetDashboard, ListDashboards, DeleteDashboards: dashboards
//! are stored as given (CloudFormation templates create them), validated
//! as JSON objects.

use nimbus_core::{AwsError, AwsRequest};
use nimbus_store::{ReadViewExt, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{opt_str, req_str};
use crate::metrics::errors::{self, invalid_value};
use crate::metrics::model;
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

pub const DASHBOARDS: nimbus_store::Keyspace = "metrics.dashboards";
const PAGE: usize = 1000;

#[derive(Serialize, Deserialize)]
struct DashboardRecord {
    name: String,
    body: String,
    last_modified: i64,
}

impl MetricsService {
    /// Dashboards are global: `arn:aws:cloudwatch::{account}:dashboard/{name}`.
    fn dashboard_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch::{}:dashboard/{name}", self.context.account_id)
    }

    pub(crate) async fn put_dashboard(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = req_str(&body, "DashboardName", "DashboardName")?.to_owned();
        if name.is_empty()
            || name.len() > 255
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid_input(
                "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).",
                "",
            ));
        }
        request.authorize("cloudwatch:PutDashboard", &self.dashboard_arn(&name))?;
        let text = req_str(&body, "DashboardBody", "DashboardBody")?.to_owned();
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(_)) => {}
            Ok(_) => {
                return Err(invalid_input(
                    "The dashboard body is invalid, there are 1 validation errors",
                    "Should be an object",
                ))
            }
            Err(e) => {
                return Err(invalid_input(
                    "The dashboard body is invalid, there are 1 validation errors",
                    &format!("Invalid JSON: {e}"),
                ))
            }
        }
        let record = DashboardRecord {
            name: name.clone(),
            body: text,
            last_modified: nimbus_core::time::now_epoch_millis() as i64,
        };
        let mut batch = WriteBatch::new();
        batch.put(DASHBOARDS, name.into_bytes(), model::encode(&record));
        self.store.write(batch).await.map_err(errors::store)?;
        Ok(json!({"DashboardValidationMessages": []}))
    }

    pub(crate) fn get_dashboard(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let name = req_str(&body, "DashboardName", "DashboardName")?;
        request.authorize("cloudwatch:GetDashboard", &self.dashboard_arn(name))?;
        let record = self.load_dashboard(name)?.ok_or_else(|| not_found(name))?;
        Ok(
            json!({"DashboardArn": self.dashboard_arn(name), "DashboardBody": record.body, "DashboardName": record.name}),
        )
    }

    pub(crate) fn list_dashboards(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        request.authorize("cloudwatch:ListDashboards", "*")?;
        let prefix = opt_str(&body, "DashboardNamePrefix")?.unwrap_or("");
        let start = match opt_str(&body, "NextToken")? {
            None => 0,
            Some(token) => token.strip_prefix("b/").and_then(|n| n.parse().ok()).ok_or_else(errors::invalid_token)?,
        };
        let all = self.store.scan_prefix(DASHBOARDS, prefix.as_bytes(), usize::MAX).map_err(errors::store)?;
        let entries: Vec<Value> = all
            .iter()
            .skip(start)
            .take(PAGE)
            .filter_map(|(_, v)| serde_json::from_slice::<DashboardRecord>(v).ok())
            .map(|d| {
                json!({
                    "DashboardName": d.name,
                    "DashboardArn": self.dashboard_arn(&d.name),
                    "LastModified": wire::timestamp_value(d.last_modified),
                    "Size": d.body.len(),
                })
            })
            .collect();
        let end = start + entries.len();
        let mut out = Map::new();
        out.insert("DashboardEntries".into(), Value::Array(entries));
        if end < all.len() {
            out.insert("NextToken".into(), Value::from(format!("b/{end}")));
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn delete_dashboards(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let names: Vec<String> = wire::opt_array(&body, "DashboardNames")
            .map_err(invalid_value)?
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| invalid_value("The parameter DashboardNames is invalid."))
            })
            .collect::<Result<_, _>>()?;
        let mut batch = WriteBatch::new();
        for name in &names {
            request.authorize("cloudwatch:DeleteDashboards", &self.dashboard_arn(name))?;
            if self.load_dashboard(name)?.is_none() {
                return Err(not_found(name));
            }
            batch.delete(DASHBOARDS, name.as_bytes().to_vec());
        }
        self.store.write(batch).await.map_err(errors::store)?;
        Ok(json!({}))
    }

    fn load_dashboard(&self, name: &str) -> Result<Option<DashboardRecord>, AwsError> {
        match self.store.get(DASHBOARDS, name.as_bytes()).map_err(errors::store)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| AwsError::internal(e.to_string())),
        }
    }
}

fn not_found(name: &str) -> AwsError {
    AwsError::new(404, "DashboardNotFoundError", format!("Dashboard {name} does not exist"))
}

fn invalid_input(message: &str, detail: &str) -> AwsError {
    let mut err = AwsError::new(400, "DashboardInvalidInputError", message);
    if !detail.is_empty() {
        err = err.with_extra("dashboardValidationMessages", json!([{"dataPath": "", "message": detail}]));
    }
    err
}
