//! Where secrets come from: the access key id in a signature names an
//! identity whose secret the verifier signs with.

use std::collections::HashMap;

use nimbus_core::request::PrincipalKind;
use nimbus_core::Principal;

/// The secret and principal behind an access key id.
#[derive(Clone, Debug)]
pub struct SigningIdentity {
    pub secret_access_key: String,
    pub principal: Principal,
    /// Temporary credentials carry a session token that must be presented.
    pub session_token: Option<String>,
    /// Epoch seconds after which temporary credentials are refused.
    pub expires_at: Option<i64>,
}

/// Looks up access keys. IAM users and STS sessions plug in here.
pub trait CredentialProvider: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<SigningIdentity>;
}

/// A fixed set of keys: the root credentials given on the command line.
#[derive(Default)]
pub struct StaticCredentials {
    keys: HashMap<String, SigningIdentity>,
}

impl StaticCredentials {
    pub fn root(account_id: &str, access_key_id: &str, secret_access_key: &str) -> Self {
        let mut keys = HashMap::new();
        keys.insert(
            access_key_id.to_owned(),
            SigningIdentity {
                secret_access_key: secret_access_key.to_owned(),
                principal: Principal::root(account_id, access_key_id),
                session_token: None,
                expires_at: None,
            },
        );
        StaticCredentials { keys }
    }
}

impl CredentialProvider for StaticCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<SigningIdentity> {
        self.keys.get(access_key_id).cloned()
    }
}

/// The account's root key plus every active IAM user key and unexpired-or-not
/// STS session, read from IAM's in-memory state: a lookup is one hash probe
/// under a read lock, and changes are visible at once (no cache to go stale).
pub struct IamCredentials {
    root: StaticCredentials,
    model: std::sync::Arc<crate::model::Model>,
}

impl IamCredentials {
    pub fn new(root: StaticCredentials, model: std::sync::Arc<crate::model::Model>) -> Self {
        IamCredentials { root, model }
    }
}

impl CredentialProvider for IamCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<SigningIdentity> {
        if let Some(root) = self.root.lookup(access_key_id) {
            return Some(root);
        }
        let state = self.model.read();
        let account_id = &self.model.account_id;
        if let Some(key) = state.keys.get(access_key_id) {
            // An inactive key is as unknown as a deleted one: InvalidClientTokenId.
            let user = state.users.get(&crate::model::name_key(&key.user)).filter(|_| key.active)?;
            return Some(SigningIdentity {
                secret_access_key: key.secret.clone(),
                principal: Principal {
                    kind: PrincipalKind::User,
                    account_id: account_id.clone(),
                    arn: user.arn.clone(),
                    user_id: user.id.clone(),
                    access_key_id: access_key_id.to_owned(),
                },
                session_token: None,
                expires_at: None,
            });
        }
        // Expired sessions are still found, so the verifier can say ExpiredToken.
        let session = state.sessions.get(access_key_id)?;
        Some(SigningIdentity {
            secret_access_key: session.secret.clone(),
            principal: Principal {
                kind: PrincipalKind::AssumedRole,
                account_id: account_id.clone(),
                arn: session.arn(account_id),
                user_id: format!("{}:{}", session.role_id, session.session_name),
                access_key_id: access_key_id.to_owned(),
            },
            session_token: Some(session.token.clone()),
            expires_at: Some(session.expires_at),
        })
    }
}
