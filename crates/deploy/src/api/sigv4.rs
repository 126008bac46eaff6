//! A SigV4 signer (header form) for `nimbus deploy`'s HTTP calls: the
//! mirror image of the verifier in `nimbus-iam`, and tested against it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::uri_encode;

/// Credentials a request is signed with.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `/a b/c` → `/a%20b/c`; an already-encoded `%2F` becomes `%252F`, as every
/// SDK but S3's encodes the path a second time.
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

/// `%41+b` → `A b`, as form fields and query strings are decoded.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k)), uri_encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Sign a request: adds `x-amz-date`, `x-amz-content-sha256`, the session
/// token if any, and `authorization` to `headers` (which must hold `host`).
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
    let payload_hash = hex::encode(Sha256::digest(body));
    headers.push(("x-amz-date".into(), amz_date.into()));
    headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    let mut canonical: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    canonical.sort();
    let signed_headers = canonical.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let header_block: String = canonical.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request = format!(
        "{method}\n{}\n{}\n{header_block}\n{signed_headers}\n{payload_hash}",
        canonical_path(path),
        canonical_query(query)
    );
    let date = &amz_date[..8.min(amz_date.len())];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let k_date = hmac(format!("AWS4{}", credentials.secret_access_key).as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let key = hmac(&k_service, b"aws4_request");
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
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
