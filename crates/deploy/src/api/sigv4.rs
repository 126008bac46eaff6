//! Signing `nimbus deploy`'s HTTP calls: Nimbus's one SigV4 signer
//! (`nimbus_iam::sigv4::Signer`), over the header list this client builds.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Credentials a request is signed with.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// `%41+b` → `A b`, as form fields and query strings are decoded.
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Sign a request: adds `x-amz-date`, the session token if any, and
/// `authorization` to `headers` (which must hold `host`), at `amz_date`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    path_and_query: &str,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    service: &str,
    region: &str,
    credentials: &Credentials,
    amz_date: &str,
) {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut signer =
        nimbus_iam::sigv4::Signer::new(&credentials.access_key_id, &credentials.secret_access_key, region, service);
    if let Some(token) = &credentials.session_token {
        signer = signer.with_session_token(token);
    }
    let mut map = HeaderMap::new();
    for (k, v) in headers.iter() {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(v))
        {
            map.append(name, value);
        }
    }
    let now = nimbus_core::time::parse_amz_date(amz_date).unwrap_or_else(nimbus_core::time::now_epoch_seconds);
    for (name, value) in signer.sign(method, path, query, &map, body, now) {
        headers.push((name.to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{HeaderMap, HeaderName, HeaderValue};
    use nimbus_iam::sigv4::SignedRequest;
    use nimbus_iam::{StaticCredentials, Verifier};

    use super::*;

    fn verify(method: &str, path_and_query: &str, body: &[u8], service: &str, secret: &str) -> bool {
        let creds = Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None };
        let now = nimbus_core::time::now_epoch_seconds();
        let amz_date = nimbus_core::time::format_amz_date(now);
        let mut headers = vec![
            ("host".to_owned(), "localhost:4566".to_owned()),
            ("content-type".to_owned(), "application/x-amz-json-1.0".to_owned()),
        ];
        sign(method, path_and_query, &mut headers, body, service, "us-east-1", &creds, &amz_date);
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            map.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", secret)), "us-east-1");
        let request = SignedRequest { method, path, query, headers: &map, body };
        verifier.verify(&request, service, now).is_ok()
    }

    #[test]
    fn signatures_verify_with_nimbus_iam() {
        assert!(verify("POST", "/", b"{\"TableName\":\"t\"}", "dynamodb", "test"));
        assert!(verify("GET", "/2015-03-31/functions/my-fn", b"", "lambda", "test"));
        assert!(verify("DELETE", "/restapis/abc/resources/x?a=1&b=two%20words", b"", "apigateway", "test"));
        assert!(verify(
            "PUT",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af/concurrency",
            b"{}",
            "lambda",
            "test"
        ));
        assert!(!verify("POST", "/", b"{}", "dynamodb", "other-secret"));
    }
}
