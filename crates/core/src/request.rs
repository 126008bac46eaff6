//! A request as a service sees it: authenticated, with its body read.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use crate::error::AwsError;

/// The response type every service returns.
pub type AwsResponse = http::Response<Bytes>;

/// Who signed a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root credentials: allowed everything.
    Root,
    /// An IAM user.
    User,
    /// A role session from `sts:AssumeRole`.
    AssumedRole,
    /// Authentication is switched off (`--auth off`).
    Anonymous,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account_id: String,
    /// `arn:aws:iam::000000000000:root`, `…:user/alice`, `arn:aws:sts::…:assumed-role/R/session`.
    pub arn: String,
    /// AWS's unique id (`AIDA…`, `AROA…:session`); the account id for root.
    pub user_id: String,
    pub access_key_id: String,
}

impl Principal {
    pub fn root(account_id: &str, access_key_id: &str) -> Self {
        Principal {
            kind: PrincipalKind::Root,
            account_id: account_id.to_owned(),
            arn: format!("arn:aws:iam::{account_id}:root"),
            user_id: account_id.to_owned(),
            access_key_id: access_key_id.to_owned(),
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self.kind, PrincipalKind::Root | PrincipalKind::Anonymous)
    }
}

/// An authenticated AWS request, routed to one service.
#[derive(Debug)]
pub struct AwsRequest {
    pub request_id: String,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The operation named by `X-Amz-Target` (`PutItem` of `DynamoDB_20120810.PutItem`).
    pub target_operation: Option<String>,
    pub principal: Principal,
    pub region: String,
    pub source_ip: IpAddr,
    /// Policy check for non-root principals (IAM); `None` allows all.
    pub authorizer: Option<Arc<dyn Authorizer>>,
}

impl AwsRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// May the caller perform `action` (e.g. `dynamodb:PutItem`) on `resource` (an ARN)?
    pub fn authorize(&self, action: &str, resource: &str) -> Result<(), AwsError> {
        self.authorize_with(action, resource, &[])
    }

    /// As `authorize`, with service-specific condition keys such as
    /// `dynamodb:LeadingKeys`.
    pub fn authorize_with(&self, action: &str, resource: &str, keys: &[(&str, &[String])]) -> Result<(), AwsError> {
        if self.principal.is_root() {
            return Ok(());
        }
        match &self.authorizer {
            None => Ok(()),
            Some(authorizer) => authorizer.authorize(&AuthzRequest {
                principal: &self.principal,
                action,
                resource,
                source_ip: self.source_ip,
                context_keys: keys,
            }),
        }
    }
}

/// One policy question: may `principal` do `action` on `resource`?
pub struct AuthzRequest<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    pub resource: &'a str,
    pub source_ip: IpAddr,
    /// Service condition keys and their values.
    pub context_keys: &'a [(&'a str, &'a [String])],
}

/// Evaluates IAM policies (the iam crate implements it). A denial is an
/// `AccessDeniedException` worded as AWS words it.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, request: &AuthzRequest<'_>) -> Result<(), AwsError>;
}

impl std::fmt::Debug for dyn Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorizer")
    }
}

/// A fresh request id in AWS's UUID shape, from a fast non-cryptographic RNG
/// (ids need uniqueness, not secrecy).
pub fn new_request_id() -> String {
    let hi = fastrand::u64(..);
    let lo = fastrand::u64(..);
    let hex = format!("{hi:016x}{lo:016x}");
    format!("{}-{}-4{}-{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, b);
    }
}
