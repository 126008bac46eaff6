//! The IAM API (awsQuery, `Action=…&Version=2010-05-08`): one file per group
//! of operations. Every operation authorizes itself as `iam:<Action>` on the
//! ARN it acts on, so IAM's own API is governed by IAM policies too.

mod boundaries;
mod groups;
mod inline;
mod keys;
mod policies;
mod roles;
mod simulate;
mod tags;
mod users;

use std::sync::Arc;

use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Protocol, Service, ServiceSpec};

use crate::model::Model;
use crate::wire::{respond, validation, Params, Xml};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

static SPEC: ServiceSpec = ServiceSpec {
    name: "iam",
    signing_name: "iam",
    protocol: Protocol::AwsQuery,
    xml_namespace: Some(NAMESPACE),
    path_prefixes: &["/_nimbus/iam/"],
    ..ServiceSpec::BASE
};

pub struct Iam {
    model: Arc<Model>,
    authorizer: Arc<crate::IamAuthorizer>,
}

impl Iam {
    pub fn new(model: Arc<Model>, authorizer: Arc<crate::IamAuthorizer>) -> Self {
        Iam { model, authorizer }
    }
}

/// One IAM call: its parameters and the pieces every handler needs.
pub(crate) struct Call<'a> {
    pub request: &'a AwsRequest,
    pub params: Params,
    pub model: &'a Model,
    pub action: &'a str,
}

impl Call<'_> {
    /// Authorize `iam:<Action>` on `resource`.
    pub fn authorize(&self, resource: &str) -> Result<(), AwsError> {
        self.request.authorize(&format!("iam:{}", self.action), resource)
    }

    pub fn reply(&self, result: Option<Xml>) -> AwsResponse {
        respond(self.action, NAMESPACE, &self.request.request_id, result)
    }

    pub fn account(&self) -> &str {
        &self.model.account_id
    }

    /// `arn:aws:iam::{account}:{kind}{path}{name}`
    pub fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account())
    }
}

impl Service for Iam {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            if request.uri.path().starts_with("/_nimbus/iam/") {
                return self.nimbus_endpoint(&request);
            }
            let params = Params::parse(&request);
            let Some(action) = params.get("Action").map(str::to_owned) else {
                return Err(AwsError::new(400, "MissingAction", "Missing Action"));
            };
            let call = Call { request: &request, params, model: &self.model, action: &action };
            match action.as_str() {
                "CreateUser" => users::create_user(&call).await,
                "GetUser" => users::get_user(&call),
                "ListUsers" => users::list_users(&call),
                "DeleteUser" => users::delete_user(&call).await,
                "CreateAccessKey" => keys::create_access_key(&call).await,
                "ListAccessKeys" => keys::list_access_keys(&call),
                "UpdateAccessKey" => keys::update_access_key(&call).await,
                "DeleteAccessKey" => keys::delete_access_key(&call).await,
                "CreateRole" => roles::create_role(&call).await,
                "GetRole" => roles::get_role(&call),
                "ListRoles" => roles::list_roles(&call),
                "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(&call).await,
                "UpdateRole" => roles::update_role(&call).await,
                "DeleteRole" => roles::delete_role(&call).await,
                "PutRolePolicy" | "PutUserPolicy" | "PutGroupPolicy" => inline::put(&call).await,
                "GetRolePolicy" | "GetUserPolicy" | "GetGroupPolicy" => inline::get(&call),
                "DeleteRolePolicy" | "DeleteUserPolicy" | "DeleteGroupPolicy" => inline::delete(&call).await,
                "ListRolePolicies" | "ListUserPolicies" | "ListGroupPolicies" => inline::list(&call),
                "CreatePolicy" => policies::create_policy(&call).await,
                "GetPolicy" => policies::get_policy(&call),
                "ListPolicies" => policies::list_policies(&call),
                "DeletePolicy" => policies::delete_policy(&call).await,
                "CreatePolicyVersion" => policies::create_policy_version(&call).await,
                "GetPolicyVersion" => policies::get_policy_version(&call),
                "ListPolicyVersions" => policies::list_policy_versions(&call),
                "DeletePolicyVersion" => policies::delete_policy_version(&call).await,
                "SetDefaultPolicyVersion" => policies::set_default_policy_version(&call).await,
                "AttachRolePolicy" | "AttachUserPolicy" | "AttachGroupPolicy" => policies::attach(&call).await,
                "DetachRolePolicy" | "DetachUserPolicy" | "DetachGroupPolicy" => policies::detach(&call).await,
                "ListAttachedRolePolicies" | "ListAttachedUserPolicies" | "ListAttachedGroupPolicies" => {
                    policies::list_attached(&call)
                }
                "PutRolePermissionsBoundary" | "PutUserPermissionsBoundary" => boundaries::put(&call).await,
                "DeleteRolePermissionsBoundary" | "DeleteUserPermissionsBoundary" => boundaries::delete(&call).await,
                "TagRole" | "TagUser" => tags::tag(&call).await,
                "UntagRole" | "UntagUser" => tags::untag(&call).await,
                "ListRoleTags" | "ListUserTags" => tags::list(&call),
                "SimulatePrincipalPolicy" => simulate::simulate_principal_policy(&call),
                "SimulateCustomPolicy" => simulate::simulate_custom_policy(&call),
                "CreateGroup" => groups::create_group(&call).await,
                "GetGroup" => groups::get_group(&call),
                "ListGroups" => groups::list_groups(&call),
                "DeleteGroup" => groups::delete_group(&call).await,
                "AddUserToGroup" => groups::add_user_to_group(&call).await,
                "RemoveUserFromGroup" => groups::remove_user_from_group(&call).await,
                "ListGroupsForUser" => groups::list_groups_for_user(&call),
                _ => Err(AwsError::new(
                    400,
                    "InvalidAction",
                    format!("Could not find operation {action} for version 2010-05-08"),
                )),
            }
        })
    }
}

impl Iam {
    /// `GET /_nimbus/iam/activity?principal=ARN`: what a principal was
    /// allowed and denied, and the smallest policy covering it. Root only.
    fn nimbus_endpoint(&self, request: &AwsRequest) -> Result<AwsResponse, AwsError> {
        if !request.principal.is_root() {
            return Err(AwsError::new(403, "AccessDenied", "Only the account root may read IAM activity."));
        }
        if request.uri.path() != "/_nimbus/iam/activity" {
            return Err(AwsError::new(404, "NotFound", "No such Nimbus endpoint"));
        }
        let params = Params::parse(request);
        let principal = params.get("principal").ok_or_else(|| validation("principal is required"))?;
        let activity = self.authorizer.activity();
        let body = serde_json::json!({
            "principal": principal,
            "activity": activity.entries(principal),
            "suggested_policy": activity.suggest_policy(principal),
        });
        Ok(http::Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(bytes::Bytes::from(body.to_string()))
            .unwrap_or_default())
    }
}

// Errors worded as IAM words them.

pub(crate) fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

pub(crate) fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", message)
}

pub(crate) fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}

pub(crate) fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "LimitExceeded", message)
}

pub(crate) fn malformed(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "MalformedPolicyDocument", message)
}

/// Names of users, roles, groups and policies: `[\w+=,.@-]+`, bounded length.
pub(crate) fn check_name(value: &str, member: &str, max: usize) -> Result<(), AwsError> {
    let ok_chars = value.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if value.is_empty() || value.len() > max || !ok_chars {
        let constraint = if value.len() > max {
            format!("Member must have length less than or equal to {max}")
        } else {
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+".to_owned()
        };
        return Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        )));
    }
    Ok(())
}

/// Paths: `/` or `/a/b/`.
pub(crate) fn check_path(path: &str) -> Result<(), AwsError> {
    let ok = path.starts_with('/') && path.ends_with('/') && path.len() <= 512 && !path.contains("//");
    if !ok {
        return Err(validation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters."));
    }
    Ok(())
}

/// Policy size as IAM counts it against its quotas: whitespace is free.
pub(crate) fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Epoch milliseconds now.
pub(crate) fn now_ms() -> i64 {
    nimbus_core::time::now_epoch_millis() as i64
}
