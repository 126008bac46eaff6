//! HTTP APIs (apigatewayv2): definitions and their management API.

pub mod control;
pub mod model;
