//! Which service a request is for.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use nimbus_core::{Protocol, Service};

/// Where a request goes.
pub struct Route<'a> {
    /// `None` when no registered service claims the request.
    pub service: Option<&'a Arc<dyn Service>>,
    /// The protocol its errors are encoded in.
    pub protocol: Protocol,
    /// The operation named by `X-Amz-Target`, if any.
    pub target_operation: Option<String>,
    /// The SigV4 service name the signature must be scoped to.
    pub signing_name: Option<String>,
    /// Served without authentication (a public path or host of the service).
    pub public: bool,
}

pub struct Router {
    services: Vec<Arc<dyn Service>>,
    by_target: HashMap<&'static str, usize>,
    by_signing_name: HashMap<&'static str, usize>,
    /// Path prefixes, longest first, so the most specific wins.
    by_path: Vec<(&'static str, usize)>,
    public_paths: Vec<(&'static str, usize)>,
    public_hosts: Vec<(&'static str, usize)>,
}

impl Router {
    pub fn new(services: Vec<Arc<dyn Service>>) -> Self {
        let mut by_target = HashMap::new();
        let mut by_signing_name = HashMap::new();
        let mut by_path = Vec::new();
        let mut public_paths = Vec::new();
        let mut public_hosts = Vec::new();
        for (i, service) in services.iter().enumerate() {
            let spec = service.spec();
            if let Some(prefix) = spec.target_prefix {
                by_target.insert(prefix, i);
            }
            by_signing_name.entry(spec.signing_name).or_insert(i);
            by_path.extend(spec.path_prefixes.iter().map(|p| (*p, i)));
            public_paths.extend(spec.public_paths.iter().map(|p| (*p, i)));
            public_hosts.extend(spec.public_host_suffixes.iter().map(|h| (*h, i)));
        }
        by_path.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        public_paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Router { services, by_target, by_signing_name, by_path, public_paths, public_hosts }
    }

    pub fn services(&self) -> impl Iterator<Item = &Arc<dyn Service>> {
        self.services.iter()
    }

    pub fn route(&self, uri: &Uri, headers: &HeaderMap, scope_service: Option<&str>) -> Route<'_> {
        if let Some(i) = self.public_service(uri, headers) {
            let service = &self.services[i];
            return Route {
                service: Some(service),
                protocol: service.spec().protocol,
                target_operation: None,
                signing_name: None,
                public: true,
            };
        }
        let by_scope = scope_service.and_then(|s| self.by_signing_name.get(s)).map(|&i| &self.services[i]);
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        if let Some(target) = target {
            let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
            if let Some(&i) = self.by_target.get(prefix) {
                let service = &self.services[i];
                // A query service that also speaks JSON (CloudWatch) answers
                // a JSON call in JSON.
                let protocol = if service.spec().protocol.is_aws_json() {
                    service.spec().protocol
                } else {
                    json_protocol(headers)
                };
                return Route {
                    service: Some(service),
                    protocol,
                    target_operation: Some(operation.to_owned()),
                    signing_name: Some(service.spec().signing_name.to_owned()),
                    public: false,
                };
            }
            // An awsJson call nobody implements: answer in awsJson.
            let protocol = json_protocol(headers);
            return Route {
                service: None,
                protocol,
                target_operation: Some(operation.to_owned()),
                signing_name: by_scope.map(|s| s.spec().signing_name.to_owned()).or(scope_service.map(str::to_owned)),
                public: false,
            };
        }
        let path = uri.path();
        if let Some(&(_, i)) = self.by_path.iter().find(|(prefix, _)| path.starts_with(prefix)) {
            let service = &self.services[i];
            return Route {
                service: Some(service),
                protocol: service.spec().protocol,
                target_operation: None,
                signing_name: Some(service.spec().signing_name.to_owned()),
                public: false,
            };
        }
        if let Some(service) = by_scope {
            return Route {
                service: Some(service),
                protocol: service.spec().protocol,
                target_operation: None,
                signing_name: Some(service.spec().signing_name.to_owned()),
                public: false,
            };
        }
        Route {
            service: None,
            protocol: guess_protocol(headers),
            target_operation: None,
            signing_name: scope_service.map(str::to_owned),
            public: false,
        }
    }

    fn public_service(&self, uri: &Uri, headers: &HeaderMap) -> Option<usize> {
        if !self.public_hosts.is_empty() {
            let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(name, _)| name);
            if let Some(&(_, i)) = self.public_hosts.iter().find(|(suffix, _)| host.ends_with(suffix)) {
                return Some(i);
            }
        }
        let path = uri.path();
        self.public_paths.iter().find(|(prefix, _)| path.starts_with(prefix)).map(|&(_, i)| i)
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn json_protocol(headers: &HeaderMap) -> Protocol {
    if content_type(headers).contains("json-1.1") {
        Protocol::AwsJson1_1
    } else {
        Protocol::AwsJson1_0
    }
}

/// The protocol an unclaimed request most likely speaks, for its error.
fn guess_protocol(headers: &HeaderMap) -> Protocol {
    let ct = content_type(headers);
    if ct.contains("x-amz-json") {
        json_protocol(headers)
    } else if ct.contains("x-www-form-urlencoded") {
        Protocol::AwsQuery
    } else {
        Protocol::RestJson
    }
}
