//! The persisted shape of an HTTP API. Each struct serialises exactly as
//! the apigatewayv2 API returns it (camelCase members, absent when unset).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataplane::routes::RouteTable;
use crate::state::Record;

pub type Tags = BTreeMap<String, String>;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    pub api_endpoint: String,
    pub api_id: String,
    pub api_key_selection_expression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_configuration: Option<Cors>,
    pub created_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub disable_execute_api_endpoint: bool,
    pub name: String,
    pub protocol_type: String,
    pub route_selection_expression: String,
    #[serde(default)]
    pub tags: Tags,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub api_key_required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_scopes: Vec<String>,
    pub authorization_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    pub route_id: String,
    pub route_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub connection_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub integration_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_method: Option<String>,
    pub integration_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format_version: Option<String>,
    pub timeout_in_millis: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_trace_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detailed_metrics_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_burst_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_rate_limit: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLogSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log_settings: Option<AccessLogSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_gateway_managed: Option<bool>,
    pub auto_deploy: bool,
    pub created_date: String,
    pub default_route_settings: RouteSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub last_updated_date: String,
    #[serde(default)]
    pub route_settings: BTreeMap<String, RouteSettings>,
    pub stage_name: String,
    #[serde(default)]
    pub stage_variables: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub auto_deployed: bool,
    pub created_date: String,
    pub deployment_id: String,
    pub deployment_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfiguration {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_payload_format_version: Option<String>,
    pub authorizer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    pub authorizer_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_simple_responses: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_source: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_configuration: Option<JwtConfiguration>,
    pub name: String,
}

/// What a deployment froze: the routes and integrations a stage serves.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Definition {
    pub routes: BTreeMap<String, Route>,
    pub integrations: BTreeMap<String, Integration>,
    pub authorizers: BTreeMap<String, Authorizer>,
    pub cors: Option<Cors>,
    #[serde(skip)]
    pub table: RouteTable,
}

impl Definition {
    pub fn compile(&mut self) {
        self.table = RouteTable::build(self.routes.values().map(|r| (r.route_key.as_str(), r.route_id.as_str())));
    }
}

/// An HTTP API with everything under it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiRecord {
    pub api: Api,
    /// The live definition, edited by the management API.
    pub live: Definition,
    pub stages: BTreeMap<String, Stage>,
    pub deployments: BTreeMap<String, Deployment>,
    /// Frozen definitions by deployment id.
    pub snapshots: BTreeMap<String, Definition>,
}

impl Record for ApiRecord {
    fn id(&self) -> &str {
        &self.api.api_id
    }

    fn rebuild(&mut self) {
        self.live.cors = self.api.cors_configuration.clone();
        self.live.compile();
        for snapshot in self.snapshots.values_mut() {
            snapshot.compile();
        }
    }
}

impl ApiRecord {
    /// The definition `stage` serves: the live one for auto-deploy stages,
    /// else the one frozen by its deployment.
    pub fn served_by(&self, stage: &Stage) -> Option<&Definition> {
        if stage.auto_deploy {
            return Some(&self.live);
        }
        stage.deployment_id.as_ref().and_then(|id| self.snapshots.get(id))
    }
}
