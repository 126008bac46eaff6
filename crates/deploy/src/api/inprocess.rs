//! `AwsApi` answered by the services of this process, as the account root:
//! the request a service sees is the one the edge would have built from the
//! same call over HTTP.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use nimbus_core::request::new_request_id;
use nimbus_core::{BoxFuture, Principal, Service};
use serde_json::Value;

use super::{decode_success, ApiCall, ApiError, AwsApi};

pub struct InProcessApi {
    services: Vec<Arc<dyn Service>>,
    region: String,
    account_id: String,
}

impl InProcessApi {
    pub fn new(services: Vec<Arc<dyn Service>>, region: &str, account_id: &str) -> Self {
        InProcessApi { services, region: region.to_owned(), account_id: account_id.to_owned() }
    }

    /// The service for a call: by signing name, then by target prefix or path prefix
    /// when several share a name (API Gateway v1 and v2).
    fn route(&self, signing_name: &str, call: &ApiCall) -> Option<&Arc<dyn Service>> {
        let path = call.path_and_query.split('?').next().unwrap_or("");
        let candidates: Vec<&Arc<dyn Service>> =
            self.services.iter().filter(|s| s.spec().signing_name == signing_name).collect();
        let target_prefix = call.target.as_deref().and_then(|t| t.split_once('.')).map(|(p, _)| p);
        let by_target = candidates.iter().find(|s| target_prefix.is_some() && s.spec().target_prefix == target_prefix);
        let by_path = candidates
            .iter()
            .filter_map(|s| {
                s.spec().path_prefixes.iter().filter(|p| path.starts_with(**p)).map(|p| p.len()).max().map(|l| (l, *s))
            })
            .max_by_key(|(l, _)| *l)
            .map(|(_, s)| s);
        by_target.copied().or(by_path).or_else(|| candidates.first().copied())
    }
}

impl AwsApi for InProcessApi {
    fn has_service(&self, service: &str) -> Option<bool> {
        Some(self.services.iter().any(|s| s.spec().signing_name == service))
    }

    fn call<'a>(&'a self, service: &'a str, call: ApiCall) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let Some(target) = self.route(service, &call) else {
                return Err(ApiError::new(
                    404,
                    "UnknownOperationException",
                    format!("No service handles {service} calls in this server ({})", call.operation()),
                ));
            };
            let uri = call
                .path_and_query
                .parse::<http::Uri>()
                .map_err(|e| ApiError::new(400, "InvalidRequest", format!("bad path {}: {e}", call.path_and_query)))?;
            let mut headers = HeaderMap::new();
            headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(call.content_type));
            headers.insert(http::header::HOST, HeaderValue::from_static("localhost"));
            if let Some(t) = &call.target {
                if let Ok(v) = HeaderValue::from_str(t) {
                    headers.insert("x-amz-target", v);
                }
            }
            let body = Bytes::from(call.body_bytes());
            let request = nimbus_core::AwsRequest {
                request_id: new_request_id(),
                method: call.method.clone(),
                uri,
                headers,
                body,
                target_operation: call.target.as_deref().and_then(|t| t.split_once('.')).map(|(_, op)| op.to_owned()),
                principal: Principal::root(&self.account_id, "nimbus-deploy"),
                region: self.region.clone(),
                source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                authorizer: None,
            };
            match target.handle(request).await {
                Ok(response) if response.status().is_success() => decode_success(response.body()),
                Ok(response) => Err(ApiError::from_response(response.status().as_u16(), response.body())),
                Err(e) => Err(ApiError::new(e.status.as_u16(), e.code.to_string(), e.message)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nimbus_core::{AwsError, AwsRequest, AwsResponse, Protocol, ServiceSpec};
    use serde_json::json;

    /// A service that echoes what it was handed.
    struct Echo(ServiceSpec);

    impl Service for Echo {
        fn spec(&self) -> &ServiceSpec {
            &self.0
        }
        fn handle(&self, r: AwsRequest) -> BoxFuture<'_, Result<AwsResponse, AwsError>> {
            Box::pin(async move {
                if r.uri.path() == "/fail" {
                    return Err(AwsError::new(404, "ResourceNotFoundException", "gone"));
                }
                let body = json!({
                    "service": self.0.name,
                    "path": r.uri.path(),
                    "target": r.target_operation,
                    "root": r.principal.is_root(),
                    "body": String::from_utf8_lossy(&r.body),
                });
                Ok(http::Response::new(Bytes::from(body.to_string())))
            })
        }
    }

    fn api() -> InProcessApi {
        let services: Vec<Arc<dyn Service>> = vec![
            Arc::new(Echo(ServiceSpec {
                name: "dynamodb",
                signing_name: "dynamodb",
                protocol: Protocol::AwsJson1_0,
                target_prefix: Some("DynamoDB_20120810"),
                ..ServiceSpec::BASE
            })),
            Arc::new(Echo(ServiceSpec {
                name: "apigw1",
                signing_name: "apigateway",
                path_prefixes: &["/restapis"],
                ..ServiceSpec::BASE
            })),
            Arc::new(Echo(ServiceSpec {
                name: "apigw2",
                signing_name: "apigateway",
                path_prefixes: &["/v2/apis"],
                ..ServiceSpec::BASE
            })),
        ];
        InProcessApi::new(services, "us-east-1", "000000000000")
    }

    #[tokio::test]
    async fn routes_by_signing_name_and_path() {
        let api = api();
        let v = api
            .call("dynamodb", ApiCall::aws_json("1.0", "DynamoDB_20120810.CreateTable", json!({"TableName": "t"})))
            .await
            .unwrap();
        assert_eq!(v["target"], "CreateTable");
        assert_eq!(v["root"], true);
        assert_eq!(v["body"], "{\"TableName\":\"t\"}");
        let v = api.call("apigateway", ApiCall::rest(http::Method::POST, "/v2/apis", Some(json!({})))).await.unwrap();
        assert_eq!(v["service"], "apigw2");
        let v = api.call("apigateway", ApiCall::rest(http::Method::POST, "/restapis", None)).await.unwrap();
        assert_eq!(v["service"], "apigw1");
        let e = api.call("apigateway", ApiCall::rest(http::Method::GET, "/fail", None)).await.unwrap_err();
        assert!(e.is_not_found());
        assert_eq!((api.has_service("dynamodb"), api.has_service("lambda")), (Some(true), Some(false)));
        let e = api.call("lambda", ApiCall::rest(http::Method::GET, "/2015-03-31/functions", None)).await.unwrap_err();
        assert!(e.is_unknown_service(), "{e:?}");
    }
}
