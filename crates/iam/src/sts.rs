//! STS (awsQuery, `Version=2011-06-15`): GetCallerIdentity and AssumeRole.
//!
//! AssumeRole checks the role's trust policy (a trust policy naming the
//! caller grants on its own; one naming the caller's account also needs the
//! caller's identity policies to allow `sts:AssumeRole`), bounds the
//! duration by the role's MaxSessionDuration, and issues `ASIA…` keys with a
//! session token. The session's permissions are the role's policies,
//! intersected with any session policy passed in.

use std::sync::Arc;

use nimbus_core::request::PrincipalKind;
use nimbus_core::{AwsError, AwsRequest, AwsResponse, BoxFuture, Protocol, Service, ServiceSpec};

use crate::authz::{caller_of, managed_document};
use crate::model::{ids, name_key, Dirty, Model, Session};
use crate::policy::eval::{evaluate_with_principal, CallerPrincipal, PrincipalMatch};
use crate::policy::{Caller, Decision, EvalContext, Policy, PolicyKind};
use crate::wire::{respond, validation, Params, Xml};
use crate::IamAuthorizer;

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

static SPEC: ServiceSpec = ServiceSpec {
    name: "sts",
    signing_name: "sts",
    protocol: Protocol::AwsQuery,
    xml_namespace: Some(NAMESPACE),
    ..ServiceSpec::BASE
};

/// Shortest session AssumeRole grants. Tests may lower it with
/// `NIMBUS_STS_MIN_DURATION_SECONDS` (undocumented, for tests only) so that
/// session expiry can be observed without waiting 15 minutes.
fn min_duration() -> i64 {
    std::env::var("NIMBUS_STS_MIN_DURATION_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(900)
}

/// Temporary credentials as STS hands them out.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expires_at: i64,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
}

/// What an AssumeRole asks for.
pub struct AssumeRoleInput<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub duration_seconds: Option<i64>,
    pub policy: Option<&'a str>,
    pub policy_arns: Vec<String>,
    /// `ExternalId`, which trust policies test as `sts:ExternalId`.
    pub external_id: Option<&'a str>,
}

pub struct Sts {
    model: Arc<Model>,
    authorizer: Arc<IamAuthorizer>,
}

impl Sts {
    pub fn new(model: Arc<Model>, authorizer: Arc<IamAuthorizer>) -> Self {
        Sts { model, authorizer }
    }

    /// AssumeRole on behalf of an AWS service (`lambda.amazonaws.com` starting
    /// a function's environment): the trust policy must name the service.
    pub async fn assume_as_service(&self, service: &str, input: AssumeRoleInput<'_>) -> Result<Credentials, AwsError> {
        let caller = Caller { arn: service.to_owned(), principal_type: "Service", ..Caller::default() };
        self.assume(&CallerPrincipal::Service(service), &caller, None, input).await
    }

    async fn assume(
        &self,
        who: &CallerPrincipal<'_>,
        caller: &Caller,
        principal: Option<&nimbus_core::Principal>,
        input: AssumeRoleInput<'_>,
    ) -> Result<Credentials, AwsError> {
        let denied = || {
            AwsError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                    caller.arn, input.role_arn
                ),
            )
        };
        check_session_name(input.session_name)?;
        let duration = input.duration_seconds.unwrap_or(3600);
        let min = min_duration();
        if duration < min {
            return Err(validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            )));
        }
        if duration > 43200 {
            return Err(validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"
            )));
        }
        if let Some(policy) = input.policy {
            Policy::parse(policy, PolicyKind::Identity)
                .map_err(|m| AwsError::new(400, "MalformedPolicyDocument", m))?;
        }

        // Find the role and check its trust policy.
        let role_name = input.role_arn.rsplit('/').next().unwrap_or_default();
        let (role, trust) = {
            let state = self.model.read();
            let role = state.roles.get(&name_key(role_name)).filter(|r| r.arn == input.role_arn).cloned();
            let role = role.ok_or_else(denied)?;
            for arn in &input.policy_arns {
                if managed_document(&state, arn).is_none() {
                    return Err(validation(format!("Policy {arn} does not exist or is not attachable.")));
                }
            }
            let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied())?;
            (role, trust)
        };
        // What trust-policy conditions may test about the request.
        let session_name = [input.session_name.to_owned()];
        let external_id: Vec<String> = input.external_id.map(str::to_owned).into_iter().collect();
        let mut context_keys: Vec<(&str, &[String])> = vec![("sts:RoleSessionName", &session_name)];
        if !external_id.is_empty() {
            context_keys.push(("sts:ExternalId", &external_id));
        }
        let ctx = EvalContext {
            action: "sts:assumerole",
            resource: &role.arn,
            caller,
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            now_millis: None,
            context_keys: &context_keys,
        };
        match evaluate_with_principal(&trust, who, &ctx) {
            (Decision::Allow, PrincipalMatch::Direct) => {}
            (Decision::Allow, PrincipalMatch::Account) => {
                // The trust policy delegates to the account: the caller's own
                // policies must allow sts:AssumeRole too.
                if let Some(p) = principal.filter(|p| !p.is_root()) {
                    let ip = std::net::Ipv4Addr::LOCALHOST.into();
                    self.authorizer.decide(p, "sts:AssumeRole", &role.arn, ip, &[]).map_err(|_| denied())?;
                }
            }
            _ => return Err(denied()),
        }
        if duration > role.max_session_duration {
            return Err(validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role."));
        }
        if principal.is_some_and(|p| p.kind == PrincipalKind::AssumedRole) && duration > 3600 {
            return Err(validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }

        let now = nimbus_core::time::now_epoch_seconds();
        let session = Session {
            access_key_id: ids::access_key_id("ASIA"),
            secret: ids::secret(),
            token: ids::session_token(),
            role_name: role.name.clone(),
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            session_name: input.session_name.to_owned(),
            expires_at: now + duration,
            policy: input.policy.map(str::to_owned),
            policy_arns: input.policy_arns,
        };
        let credentials = Credentials {
            access_key_id: session.access_key_id.clone(),
            secret_access_key: session.secret.clone(),
            session_token: session.token.clone(),
            expires_at: session.expires_at,
            assumed_role_arn: session.arn(&self.model.account_id),
            assumed_role_id: format!("{}:{}", role.id, input.session_name),
        };
        self.model
            .mutate(move |state, dirty| {
                // Sessions expired for a day are forgotten (until then they
                // answer ExpiredToken rather than InvalidClientTokenId).
                let stale: Vec<String> = state
                    .sessions
                    .values()
                    .filter(|s| s.expires_at + 86_400 < now)
                    .map(|s| s.access_key_id.clone())
                    .collect();
                for id in stale {
                    state.sessions.remove(&id);
                    dirty.push(Dirty::Session(id));
                }
                dirty.push(Dirty::Session(session.access_key_id.clone()));
                state.sessions.insert(session.access_key_id.clone(), session);
                Ok(())
            })
            .await?;
        Ok(credentials)
    }

    async fn assume_role(&self, request: &AwsRequest, params: &Params) -> Result<AwsResponse, AwsError> {
        let duration = match params.get("DurationSeconds") {
            None => None,
            Some(text) => {
                Some(text.parse::<i64>().map_err(|_| validation(format!("Invalid DurationSeconds: {text}")))?)
            }
        };
        let policy_arns: Vec<String> = params.list_field("PolicyArns", "arn").into_iter().map(str::to_owned).collect();
        let input = AssumeRoleInput {
            role_arn: params.required("RoleArn")?,
            session_name: params.required("RoleSessionName")?,
            duration_seconds: duration,
            policy: params.get("Policy"),
            policy_arns,
            external_id: params.get("ExternalId"),
        };
        let with_policy = input.policy.map(str::len);
        let caller = caller_of(&self.model.read(), &request.principal);
        let creds = self.assume(&CallerPrincipal::Aws(&caller), &caller, Some(&request.principal), input).await?;
        let mut x = Xml::default();
        x.open("Credentials")
            .leaf("AccessKeyId", &creds.access_key_id)
            .leaf("SecretAccessKey", &creds.secret_access_key)
            .leaf("SessionToken", &creds.session_token)
            .leaf("Expiration", &crate::wire::date(creds.expires_at * 1000))
            .close("Credentials")
            .open("AssumedRoleUser")
            .leaf("AssumedRoleId", &creds.assumed_role_id)
            .leaf("Arn", &creds.assumed_role_arn)
            .close("AssumedRoleUser");
        if let Some(len) = with_policy {
            // Percentage of the packed-policy limit used; AWS's packing is
            // opaque, so approximate by document length against 2048.
            x.leaf("PackedPolicySize", &(len * 100 / 2048).max(1).to_string());
        }
        Ok(respond("AssumeRole", NAMESPACE, &request.request_id, Some(x)))
    }

    fn get_caller_identity(&self, request: &AwsRequest) -> AwsResponse {
        // No permission is needed to ask who you are, even under an explicit deny.
        let p = &request.principal;
        let mut x = Xml::default();
        x.leaf("UserId", &p.user_id).leaf("Account", &p.account_id).leaf("Arn", &p.arn);
        respond("GetCallerIdentity", NAMESPACE, &request.request_id, Some(x))
    }
}

fn check_session_name(name: &str) -> Result<(), AwsError> {
    let constraint = if name.len() < 2 {
        Some("Member must have length greater than or equal to 2".to_owned())
    } else if name.len() > 64 {
        Some("Member must have length less than or equal to 64".to_owned())
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        Some("Member must satisfy regular expression pattern: [\\w+=,.@-]*".to_owned())
    } else {
        None
    };
    match constraint {
        Some(c) => Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: {c}"
        ))),
        None => Ok(()),
    }
}

impl nimbus_core::RoleAssumer for Sts {
    fn assume_role_for_service<'a>(
        &'a self,
        service: &'a str,
        role_arn: &'a str,
        session_name: &'a str,
        duration_seconds: i64,
    ) -> BoxFuture<'a, Result<nimbus_core::TemporaryCredentials, AwsError>> {
        Box::pin(async move {
            let input = AssumeRoleInput {
                role_arn,
                session_name,
                duration_seconds: Some(duration_seconds),
                policy: None,
                policy_arns: Vec::new(),
                external_id: None,
            };
            let c = self.assume_as_service(service, input).await?;
            Ok(nimbus_core::TemporaryCredentials {
                access_key_id: c.access_key_id,
                secret_access_key: c.secret_access_key,
                session_token: c.session_token,
                expires_at: c.expires_at,
                assumed_role_arn: c.assumed_role_arn,
            })
        })
    }
}

impl Service for Sts {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, request: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
        Box::pin(async move {
            let params = Params::parse(&request);
            match params.get("Action") {
                Some("GetCallerIdentity") => Ok(self.get_caller_identity(&request)),
                Some("AssumeRole") => self.assume_role(&request, &params).await,
                Some(other) => Err(AwsError::new(
                    400,
                    "InvalidAction",
                    format!("Could not find operation {other} for version 2011-06-15"),
                )),
                None => Err(AwsError::new(400, "MissingAction", "Missing Action")),
            }
        })
    }
}
