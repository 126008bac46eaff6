//! SigV4 verification against AWS's published test vectors and against
//! requests signed by AWS's own Rust signer (`aws-sigv4`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use nimbus_core::Principal;
use nimbus_iam::credentials::{CredentialProvider, SigningIdentity};
use nimbus_iam::sigv4::{AuthError, SignedRequest, Verifier, SIGNATURE_MISMATCH};
use nimbus_iam::StaticCredentials;

const VECTOR_KEY: &str = "AKIDEXAMPLE";
const VECTOR_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const VECTOR_TOKEN: &str = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
/// 2015-08-30T12:36:00Z, when the vectors were signed.
const VECTOR_TIME: i64 = 1440938160;

/// Parsed `header-signed-request.txt`: request line, headers, body.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn load(name: &str) -> RawRequest {
    let path = format!("{}/tests/sigv4-vectors/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let target = request_line.strip_suffix(" HTTP/1.1").unwrap();
    let (method, target) = target.split_once(' ').unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    RawRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// Credentials of the vectors: the key, with the session token where used.
struct VectorCredentials {
    token: Option<&'static str>,
}

impl CredentialProvider for VectorCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<SigningIdentity> {
        (access_key_id == VECTOR_KEY).then(|| SigningIdentity {
            secret_access_key: VECTOR_SECRET.into(),
            principal: Principal::root("000000000000", VECTOR_KEY),
            session_token: self.token.map(str::to_owned),
            expires_at: None,
        })
    }
}

fn verify_vector(name: &str, token: Option<&'static str>) -> Result<Principal, AuthError> {
    let raw = load(name);
    let verifier = Verifier::new(Arc::new(VectorCredentials { token }), "us-east-1");
    let request = SignedRequest {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &raw.headers,
        body: &raw.body,
    };
    verifier.verify(&request, "service", VECTOR_TIME)
}

#[test]
fn aws_test_vectors_verify() {
    for name in [
        "get-vanilla-query-unreserved",
        "get-slashes-unnormalized",
        "get-header-value-trim",
        "get-utf8",
        "get-vanilla-query-order-key-case-presigned",
        "get-space-normalized",
        "get-slash-dot-slash-normalized",
    ] {
        let principal = verify_vector(name, None).unwrap_or_else(|e| panic!("vector {name}: {e:?}"));
        assert_eq!(principal.access_key_id, VECTOR_KEY);
    }
    verify_vector("get-vanilla-with-session-token", Some(VECTOR_TOKEN)).expect("session-token vector");
}

#[test]
fn session_token_must_match() {
    assert_eq!(verify_vector("get-vanilla-with-session-token", None), Err(AuthError::UnrecognizedClient));
    assert_eq!(verify_vector("get-vanilla-query-unreserved", Some(VECTOR_TOKEN)), Err(AuthError::UnrecognizedClient));
}

#[test]
fn tampered_vector_fails() {
    let mut raw = load("get-header-value-trim");
    raw.headers.insert("my-header1", HeaderValue::from_static("value2"));
    let verifier = Verifier::new(Arc::new(VectorCredentials { token: None }), "us-east-1");
    let request = SignedRequest {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &raw.headers,
        body: &raw.body,
    };
    assert_eq!(
        verifier.verify(&request, "service", VECTOR_TIME),
        Err(AuthError::SignatureMismatch(SIGNATURE_MISMATCH.into()))
    );
}

#[test]
fn clock_skew_beyond_fifteen_minutes_is_rejected() {
    let raw = load("get-utf8");
    let verifier = Verifier::new(Arc::new(VectorCredentials { token: None }), "us-east-1");
    let request = SignedRequest {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &raw.headers,
        body: &raw.body,
    };
    assert!(verifier.verify(&request, "service", VECTOR_TIME + 14 * 60).is_ok());
    match verifier.verify(&request, "service", VECTOR_TIME + 16 * 60) {
        Err(AuthError::SignatureMismatch(msg)) => assert_eq!(
            msg,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
        ),
        other => panic!("expected expiry, got {other:?}"),
    }
    match verifier.verify(&request, "service", VECTOR_TIME - 16 * 60) {
        Err(AuthError::SignatureMismatch(msg)) => assert!(msg.starts_with("Signature not yet current"), "{msg}"),
        other => panic!("expected not-yet-current, got {other:?}"),
    }
}

#[test]
fn scope_must_name_the_service_and_region() {
    let raw = load("get-utf8");
    let request = SignedRequest {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &raw.headers,
        body: &raw.body,
    };
    let verifier = Verifier::new(Arc::new(VectorCredentials { token: None }), "us-east-1");
    assert_eq!(
        verifier.verify(&request, "dynamodb", VECTOR_TIME),
        Err(AuthError::SignatureMismatch("Credential should be scoped to correct service: 'dynamodb'. ".into()))
    );
    let verifier = Verifier::new(Arc::new(VectorCredentials { token: None }), "eu-west-1");
    assert_eq!(
        verifier.verify(&request, "service", VECTOR_TIME),
        Err(AuthError::SignatureMismatch("Credential should be scoped to a valid region, not 'us-east-1'. ".into()))
    );
}

#[test]
fn missing_and_incomplete_signatures() {
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost"));
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"{}" };
    assert_eq!(verifier.verify(&request, "dynamodb", VECTOR_TIME), Err(AuthError::MissingToken));

    headers.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=test/20150830/us-east-1/dynamodb/aws4_request"),
    );
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: b"{}" };
    match verifier.verify(&request, "dynamodb", VECTOR_TIME) {
        Err(AuthError::Incomplete(msg)) => assert_eq!(
            msg,
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
Authorization=AWS4-HMAC-SHA256 Credential=test/20150830/us-east-1/dynamodb/aws4_request"
        ),
        other => panic!("expected incomplete, got {other:?}"),
    }
}

/// Sign with AWS's signer, verify with ours.
fn sign_with_aws_sigv4(
    access_key: &str,
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    at: SystemTime,
    presign: bool,
) -> (HeaderMap, String) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
    use aws_sigv4::sign::v4;
    let identity = aws_credential_types::Credentials::new(access_key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(300));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let base_headers = [
        ("host", "localhost:4566"),
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "DynamoDB_20120810.ListTables"),
    ];
    let signable = SignableRequest::new(method, uri, base_headers.iter().copied(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut headers = HeaderMap::new();
    for (name, value) in base_headers {
        headers.insert(name, HeaderValue::from_static(value));
    }
    for (name, value) in instructions.headers() {
        headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    let query_extra: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect();
    (headers, query_extra.join("&"))
}

#[test]
fn requests_signed_by_aws_sigv4_verify() {
    let now = SystemTime::now();
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let body = br#"{"Limit": 5}"#;
    for (path, query) in [("/", ""), ("/2015-03-31/functions/my%3Afn/invocations", "Qualifier=%24LATEST&x=a%20b")] {
        let uri = if query.is_empty() {
            format!("http://localhost:4566{path}")
        } else {
            format!("http://localhost:4566{path}?{query}")
        };
        for presign in [false, true] {
            let (headers, extra_query) = sign_with_aws_sigv4("test", "test", "POST", &uri, body, now, presign);
            let full_query =
                [query, &extra_query].iter().filter(|q| !q.is_empty()).copied().collect::<Vec<_>>().join("&");
            let request = SignedRequest { method: "POST", path, query: &full_query, headers: &headers, body };
            let principal = verifier
                .verify(&request, "dynamodb", now_secs)
                .unwrap_or_else(|e| panic!("{path}?{query} presign={presign}: {e:?}"));
            assert_eq!(principal.arn, "arn:aws:iam::000000000000:root");

            // The same request with a different body must fail.
            let tampered = SignedRequest { body: br#"{"Limit": 6}"#, ..request };
            if !presign {
                assert!(verifier.verify(&tampered, "dynamodb", now_secs).is_err(), "tampered body verified");
            }
        }
        // A wrong secret fails with the mismatch error.
        let (headers, _) = sign_with_aws_sigv4("test", "wrong", "POST", &uri, body, now, false);
        let request = SignedRequest { method: "POST", path, query, headers: &headers, body };
        assert_eq!(
            verifier.verify(&request, "dynamodb", now_secs),
            Err(AuthError::SignatureMismatch(SIGNATURE_MISMATCH.into()))
        );
        // An unknown key is an unrecognized client.
        let (headers, _) = sign_with_aws_sigv4("nobody", "test", "POST", &uri, body, now, false);
        let request = SignedRequest { method: "POST", path, query, headers: &headers, body };
        assert_eq!(verifier.verify(&request, "dynamodb", now_secs), Err(AuthError::UnrecognizedClient));
    }
}

#[test]
fn our_signer_matches_the_aws_vector_and_our_verifier() {
    use nimbus_iam::sigv4::Signer;
    // get-vanilla-query-unreserved, signed by our signer, must carry AWS's signature.
    let raw = load("get-vanilla-query-unreserved");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
    let signer = Signer::new(VECTOR_KEY, VECTOR_SECRET, "us-east-1", "service");
    let added = signer.sign("GET", &raw.path, &raw.query, &headers, b"", VECTOR_TIME);
    let authorization = added.iter().find(|(k, _)| *k == "authorization").map(|(_, v)| v.clone()).unwrap();
    assert_eq!(authorization, raw.headers["authorization"].to_str().unwrap());

    // And a POST with a body and an awkward path verifies.
    let verifier = Verifier::new(Arc::new(StaticCredentials::root("000000000000", "test", "test")), "us-east-1");
    let signer = Signer::new("test", "test", "us-east-1", "lambda");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let path = "/2015-03-31/functions/my%3Afn/invocations";
    for (name, value) in signer.sign("POST", path, "Qualifier=%24LATEST", &headers, b"{}", VECTOR_TIME) {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    let request = SignedRequest { method: "POST", path, query: "Qualifier=%24LATEST", headers: &headers, body: b"{}" };
    assert!(verifier.verify(&request, "lambda", VECTOR_TIME + 5).is_ok());
}
