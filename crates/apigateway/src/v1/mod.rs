//! REST APIs (apigateway v1): definitions, API keys and usage plans, and
//! their management API.

pub mod control;
pub mod keys;
pub mod model;
pub mod patch;
