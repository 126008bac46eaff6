//! IAM for Nimbus. Today: who a request comes from (credentials and SigV4
//! verification). Policies, users, roles and STS build on this.

pub mod credentials;
pub mod sigv4;

pub use credentials::{CredentialProvider, SigningIdentity, StaticCredentials};
pub use sigv4::{AuthError, Verifier};
