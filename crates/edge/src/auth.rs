//! Authentication failures, worded and coded as each protocol family does.

use nimbus_core::error::CORAL_SERVICE;
use nimbus_core::{AwsError, Protocol};
use nimbus_iam::AuthError;

const MISSING_TOKEN: &str = "Request is missing Authentication Token";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

pub fn to_aws_error(err: AuthError, protocol: Protocol) -> AwsError {
    match protocol {
        // DynamoDB, Logs: 400 with coral service types.
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
            let (code, message) = match err {
                AuthError::MissingToken => ("MissingAuthenticationTokenException", MISSING_TOKEN.to_owned()),
                AuthError::Incomplete(m) => ("IncompleteSignatureException", m),
                AuthError::SignatureMismatch(m) => ("InvalidSignatureException", m),
                AuthError::UnrecognizedClient => ("UnrecognizedClientException", INVALID_TOKEN.to_owned()),
                AuthError::ExpiredToken => ("ExpiredTokenException", EXPIRED_TOKEN.to_owned()),
            };
            AwsError::new(400, code, message).with_namespace(CORAL_SERVICE)
        }
        // Lambda, API Gateway: 403 with the error type in a header.
        Protocol::RestJson => {
            let (code, message) = match err {
                AuthError::MissingToken => {
                    ("MissingAuthenticationTokenException", "Missing Authentication Token".into())
                }
                AuthError::Incomplete(m) => ("IncompleteSignatureException", m),
                AuthError::SignatureMismatch(m) => ("InvalidSignatureException", m),
                AuthError::UnrecognizedClient => ("UnrecognizedClientException", INVALID_TOKEN.to_owned()),
                AuthError::ExpiredToken => ("ExpiredTokenException", EXPIRED_TOKEN.to_owned()),
            };
            AwsError::new(403, code, message)
        }
        // IAM, STS: their own short codes.
        Protocol::AwsQuery => match err {
            AuthError::MissingToken => AwsError::new(403, "MissingAuthenticationToken", MISSING_TOKEN),
            AuthError::Incomplete(m) => AwsError::new(400, "IncompleteSignature", m),
            AuthError::SignatureMismatch(m) => AwsError::new(403, "SignatureDoesNotMatch", m),
            AuthError::UnrecognizedClient => AwsError::new(403, "InvalidClientTokenId", INVALID_TOKEN),
            AuthError::ExpiredToken => AwsError::new(403, "ExpiredToken", EXPIRED_TOKEN),
        },
    }
}
