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

/// A fresh request id in AWS's UUID shape (version 4), from a fast
/// non-cryptographic RNG (ids need uniqueness, not secrecy). Laid out by
/// hand: every request gets one, and `format!` cost more than the rest of
/// the id's life.
pub fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bits = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
    let mut id = [0u8; 36];
    for (i, slot) in id.iter_mut().enumerate() {
        *slot = match i {
            8 | 13 | 18 | 23 => b'-',
            14 => b'4',
            _ => {
                let digit = HEX[(bits & 0xf) as usize];
                bits >>= 4;
                digit
            }
        };
    }
    id.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
