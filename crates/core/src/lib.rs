//! Shared vocabulary of Nimbus.
//!
//! Everything two services (or a service and the edge) must agree on lives
//! here: the AWS error type and how each wire protocol encodes it, the shape
//! of a request once the edge has authenticated it, the `Service` trait every
//! service crate implements, ARNs and request ids.

pub mod aggregate;
pub mod arn;
pub mod error;
pub mod home_runtime;
pub mod http1;
pub mod protocol;
pub mod request;
pub mod roles;
pub mod service;
pub mod sinks;
pub mod streams;
pub mod time;

pub use aggregate::MetricAggregator;
pub use error::AwsError;
pub use protocol::Protocol;
pub use request::{Authorizer, AuthzRequest, AwsRequest, AwsResponse, Principal};
pub use roles::{ResourcePolicies, RoleAssumer, TemporaryCredentials};
pub use service::{BoxFuture, Service, ServiceSpec};
pub use sinks::{
    DiscardSink, InvokeOutcome, InvokeRequest, Invoker, LogEvent, LogSink, MetricDatum, MetricSink, MetricSummary,
    Prewarmer, SummaryRecorder,
};
pub use streams::{StartingPosition, StreamBatch, StreamReader, StreamRecord};

/// The account every resource belongs to unless configured otherwise.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// Region and account a server instance answers for.
#[derive(Clone, Debug)]
pub struct Context {
    pub region: String,
    pub account_id: String,
}
