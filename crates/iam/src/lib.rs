//! IAM for Nimbus: who a request comes from (credentials and SigV4
//! verification), what they may do (policies and their evaluation), and the
//! IAM and STS APIs that manage both.
//!
//! Map: `model` (persisted state) ← `api/` (IAM operations, one file per
//! group) and `sts` (STS operations); `policy/` (documents, conditions,
//! evaluation) ← `authz` (the per-request check, compiled per principal);
//! `credentials` (access key → secret and principal) ← `sigv4`.

pub mod api;
pub mod authz;
pub mod credentials;
pub mod managed;
pub mod model;
pub mod policy;
pub mod sigv4;
pub mod sts;
mod wire;

pub use api::Iam;
pub use authz::IamAuthorizer;
pub use credentials::{CredentialProvider, IamCredentials, SigningIdentity, StaticCredentials};
pub use sigv4::{AuthError, Verifier};
pub use sts::Sts;
