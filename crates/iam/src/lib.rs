//! IAM for Nimbus: who a request comes from (credentials and SigV4
//! verification), what they may do (policies and their evaluation), and the
//! IAM and STS APIs that manage both.

pub mod credentials;
pub mod policy;
pub mod sigv4;

pub use credentials::{CredentialProvider, SigningIdentity, StaticCredentials};
pub use sigv4::{AuthError, Verifier};
