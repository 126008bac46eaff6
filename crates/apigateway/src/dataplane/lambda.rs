//! Calling Lambda functions from integrations and authorizers.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use nimbus_core::{AwsError, InvokeOutcome, InvokeRequest, Invoker};

/// The function an integration URI names: a function ARN, or API Gateway's
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
pub fn function_of(uri: &str) -> String {
    if let Some((_, rest)) = uri.split_once(":lambda:path/2015-03-31/functions/") {
        return rest.strip_suffix("/invocations").unwrap_or(rest).to_owned();
    }
    uri.to_owned()
}

/// Invoke the function `uri` names with `payload`. The invocation is not
/// tied to this future (Lambda runs it in a task of its own, see
/// `Invoker`): a client that hangs up or an integration timeout does not
/// cancel it.
pub fn invoke(
    invoker: &Arc<dyn Invoker>,
    uri: &str,
    payload: Bytes,
) -> impl Future<Output = Result<InvokeOutcome, AwsError>> + Send + 'static {
    let invoker = invoker.clone();
    let request = InvokeRequest { function: function_of(uri), qualifier: None, payload, client_context: None };
    async move { invoker.invoke(request).await }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_integration_uris() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
        assert_eq!(function_of(arn), arn);
        let uri = format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations");
        assert_eq!(function_of(&uri), arn);
    }
}
