//! The errors DynamoDB answers with, by namespace.

use nimbus_core::error::{CORAL_SERVICE, CORAL_VALIDATE};
use nimbus_core::AwsError;

use crate::ERROR_NAMESPACE;

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

/// 400 `com.amazon.coral.validate#ValidationException`.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::validation(message).with_namespace(CORAL_VALIDATE)
}

/// 400 `com.amazon.coral.service#SerializationException`: the JSON does not
/// match the operation's shapes.
pub fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", message).with_namespace(CORAL_SERVICE)
}

/// An error of DynamoDB's own namespace.
pub fn dynamodb(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message).with_namespace(ERROR_NAMESPACE)
}

pub fn table_not_found(name: &str) -> AwsError {
    dynamodb("ResourceNotFoundException", format!("Requested resource not found: Table: {name} not found"))
}

pub fn resource_not_found() -> AwsError {
    dynamodb("ResourceNotFoundException", "Requested resource not found")
}

pub fn conditional_check_failed() -> AwsError {
    dynamodb("ConditionalCheckFailedException", "The conditional request failed")
}

pub fn internal(err: impl std::fmt::Display) -> AwsError {
    AwsError::new(500, "InternalServerError", err.to_string()).with_namespace(ERROR_NAMESPACE)
}

/// "One or more parameter values were invalid: …", DynamoDB's most common prefix.
pub fn invalid_parameter(detail: impl std::fmt::Display) -> AwsError {
    validation(format!("One or more parameter values were invalid: {detail}"))
}
