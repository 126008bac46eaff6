//! The AWS wire-protocol families and what distinguishes them on the wire.

/// How a service encodes requests, responses and errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target` + JSON body, `application/x-amz-json-1.0` (DynamoDB).
    AwsJson1_0,
    /// `X-Amz-Target` + JSON body, `application/x-amz-json-1.1` (Logs).
    AwsJson1_1,
    /// REST paths + JSON bodies (Lambda, API Gateway).
    RestJson,
    /// Form-encoded `Action=` requests with XML responses (IAM, STS).
    AwsQuery,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::AwsJson1_0 => "application/x-amz-json-1.0",
            Protocol::AwsJson1_1 => "application/x-amz-json-1.1",
            Protocol::RestJson => "application/json",
            Protocol::AwsQuery => "text/xml",
        }
    }

    pub fn is_aws_json(self) -> bool {
        matches!(self, Protocol::AwsJson1_0 | Protocol::AwsJson1_1)
    }
}
