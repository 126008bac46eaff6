//! Doors into IAM for services that act on a caller's behalf: Lambda assumes
//! a function's execution role for each environment, and keeps functions'
//! resource-based policies (AddPermission) where the policy check sees them.
//! IAM implements both; the binary wires them in.

use crate::error::AwsError;
use crate::service::BoxFuture;

/// Temporary credentials of a role session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`
    pub assumed_role_arn: String,
}

/// STS for services (`lambda.amazonaws.com`): the role's trust policy must
/// name the service, as on AWS.
pub trait RoleAssumer: Send + Sync {
    fn assume_role_for_service<'a>(
        &'a self,
        service: &'a str,
        role_arn: &'a str,
        session_name: &'a str,
        duration_seconds: i64,
    ) -> BoxFuture<'a, Result<TemporaryCredentials, AwsError>>;
}

/// Resource-based policies consulted by every policy check on that resource.
pub trait ResourcePolicies: Send + Sync {
    /// Set (replace) the policy of `resource_arn`; a malformed document is
    /// `MalformedPolicyDocumentException`-worthy and returned as a 400.
    fn put_resource_policy(&self, resource_arn: &str, policy_json: &str) -> Result<(), AwsError>;

    fn remove_resource_policy(&self, resource_arn: &str);
}
