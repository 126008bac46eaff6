//! Where secrets come from: the access key id in a signature names an
//! identity whose secret the verifier signs with.

use std::collections::HashMap;

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
