//! Lambda's doors into IAM: each execution environment gets its function's
//! role credentials (assumed as `lambda.amazonaws.com`, so the role's trust
//! policy must name Lambda), and functions' resource-based policies
//! (AddPermission) are registered where every policy check sees them.
//!
//! Both doors are optional: without them (unit tests, embedding) functions
//! get the launcher's static credentials and no resource policies apply.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nimbus_core::{AwsError, Context, ResourcePolicies, RoleAssumer, TemporaryCredentials};
use serde_json::json;

use crate::model::{qualified_arn, FunctionRecord};

/// Role sessions of environments last an hour by default, which every role
/// allows (MaxSessionDuration is at least 3600 s); environments retire
/// before their credentials could expire mid-invocation (see `retire_after`).
pub const DEFAULT_SESSION_SECONDS: i64 = 3600;

/// Slack kept between an environment's retirement and its credentials' expiry.
const RETIRE_MARGIN: Duration = Duration::from_secs(60);

pub struct IamDoors {
    roles: OnceLock<Arc<dyn RoleAssumer>>,
    policies: OnceLock<Arc<dyn ResourcePolicies>>,
    session_seconds: i64,
}

/// What CreateFunction and Invoke answer when the role cannot be assumed.
pub fn role_not_assumable() -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
}

/// How long an environment whose credentials expire at `expires_at` (epoch
/// seconds) may take new invocations: no invocation (up to the function's
/// timeout) outlives its credentials.
pub fn retire_after(expires_at: i64, timeout_secs: u32) -> Duration {
    let left = (expires_at - nimbus_core::time::now_epoch_seconds()).max(0) as u64;
    Duration::from_secs(left).saturating_sub(Duration::from_secs(timeout_secs as u64) + RETIRE_MARGIN)
}

impl IamDoors {
    /// Environments' role sessions last `session_seconds`.
    pub fn new(session_seconds: i64) -> Self {
        IamDoors { roles: OnceLock::new(), policies: OnceLock::new(), session_seconds }
    }

    pub fn connect(&self, roles: Arc<dyn RoleAssumer>, policies: Arc<dyn ResourcePolicies>) {
        let _ = self.roles.set(roles);
        let _ = self.policies.set(policies);
    }

    /// Credentials for a new environment of `function`, or `None` when IAM
    /// is not connected.
    pub async fn environment_credentials(
        &self,
        function: &FunctionRecord,
    ) -> Result<Option<TemporaryCredentials>, AwsError> {
        let Some(roles) = self.roles.get() else { return Ok(None) };
        let session = session_name(&function.name);
        match roles
            .assume_role_for_service("lambda.amazonaws.com", &function.role, &session, self.session_seconds)
            .await
        {
            Ok(credentials) => Ok(Some(credentials)),
            Err(err) => {
                tracing::warn!(function = %function.name, role = %function.role, "cannot assume the execution role: {}", err.message);
                Err(role_not_assumable())
            }
        }
    }

    /// CreateFunction and a role change: Lambda must be able to assume it.
    pub async fn check_assumable(&self, role: &str, function_name: &str) -> Result<(), AwsError> {
        let Some(roles) = self.roles.get() else { return Ok(()) };
        let session = session_name(function_name);
        roles
            .assume_role_for_service("lambda.amazonaws.com", role, &session, self.session_seconds)
            .await
            .map(|_| ())
            .map_err(|_| role_not_assumable())
    }

    /// The principal the function's role session is (for checking what the
    /// role may do before acting for it); `None` while IAM is not connected.
    pub async fn role_principal(
        &self,
        ctx: &Context,
        function: &FunctionRecord,
    ) -> Result<Option<nimbus_core::Principal>, AwsError> {
        let Some(credentials) = self.environment_credentials(function).await? else { return Ok(None) };
        Ok(Some(nimbus_core::Principal {
            kind: nimbus_core::request::PrincipalKind::AssumedRole,
            account_id: ctx.account_id.clone(),
            arn: credentials.assumed_role_arn,
            user_id: String::new(),
            access_key_id: credentials.access_key_id,
        }))
    }

    /// Register the function's policy for `qualifier` ("" for the function
    /// itself) as it now stands, or withdraw it when no statement is left.
    pub fn publish_policy(&self, ctx: &Context, function: &FunctionRecord, qualifier: &str) {
        let Some(policies) = self.policies.get() else { return };
        let arn = qualified_arn(ctx, &function.name, Some(qualifier));
        match function.policies.get(qualifier).filter(|s| !s.is_empty()) {
            Some(statements) => {
                let document = json!({"Version": "2012-10-17", "Id": "default", "Statement": statements});
                if let Err(err) = policies.put_resource_policy(&arn, &document.to_string()) {
                    tracing::warn!(%arn, "resource policy not registered: {}", err.message);
                }
            }
            None => policies.remove_resource_policy(&arn),
        }
    }

    /// Every qualifier's policy of `function` (at startup).
    pub fn publish_all(&self, ctx: &Context, function: &FunctionRecord) {
        for qualifier in function.policies.keys() {
            self.publish_policy(ctx, function, qualifier);
        }
    }

    /// A deleted function's policies no longer grant anything.
    pub fn withdraw_all(&self, ctx: &Context, function: &FunctionRecord) {
        let Some(policies) = self.policies.get() else { return };
        for qualifier in function.policies.keys() {
            policies.remove_resource_policy(&qualified_arn(ctx, &function.name, Some(qualifier)));
        }
    }
}

/// AWS names an environment's role session after the function; STS wants
/// at least two characters.
fn session_name(function: &str) -> String {
    if function.len() >= 2 {
        function.to_owned()
    } else {
        format!("{function}-lambda")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_retire_before_an_invocation_could_outlive_their_credentials() {
        // The longest invocation starting just before retirement still ends
        // a minute before the one-hour session expires.
        let expires_at = nimbus_core::time::now_epoch_seconds() + DEFAULT_SESSION_SECONDS;
        for timeout in [1, 3, 900] {
            let last_end = retire_after(expires_at, timeout) + Duration::from_secs(timeout as u64);
            let session = Duration::from_secs(DEFAULT_SESSION_SECONDS as u64) - RETIRE_MARGIN;
            // Within the second that may tick between the two clock reads.
            assert!(last_end <= session && last_end + Duration::from_secs(1) >= session, "{last_end:?}");
        }
        assert_eq!(retire_after(expires_at - DEFAULT_SESSION_SECONDS, 3), Duration::ZERO);
    }

    #[test]
    fn sessions_are_named_after_the_function() {
        assert_eq!(session_name("orders-api"), "orders-api");
        assert_eq!(session_name("f"), "f-lambda");
    }
}
