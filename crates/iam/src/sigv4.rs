//! AWS Signature Version 4 verification, header and presigned-query forms.
//!
//! The verifier rebuilds the canonical request the client signed, derives
//! the signing key (cached per key, date, region and service) and compares
//! signatures in constant time. Failures map to the errors AWS returns,
//! worded as AWS words them; the edge encodes them per protocol.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use nimbus_core::time::{format_amz_date, parse_amz_date};
use nimbus_core::Principal;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::credentials::CredentialProvider;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a request's timestamp may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Longest validity of a presigned URL (7 days), as AWS allows.
const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same for paths, where `/` separates segments.
const PATH: &AsciiSet = &STRICT.remove(b'/');

type HmacSha256 = Hmac<Sha256>;

/// Why a request's authentication failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No signature at all.
    MissingToken,
    /// A signature whose required parts are missing or malformed.
    Incomplete(String),
    /// The signature (or its scope) does not verify.
    SignatureMismatch(String),
    /// The access key id is unknown, or its session token is wrong.
    UnrecognizedClient,
    /// Temporary credentials past their expiry.
    ExpiredToken,
}

/// The standard mismatch message.
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// The parts of an HTTP request the signature covers, taken raw from the wire.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded.
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What the `Authorization` header or the `X-Amz-*` query parameters say.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub access_key_id: String,
    pub scope_date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub amz_date: String,
    pub session_token: Option<String>,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires: Option<i64>,
    pub presigned: bool,
}

impl Authorization {
    /// Read the signature of `request`; `Ok(None)` when it carries none.
    pub fn parse(request: &SignedRequest<'_>) -> Result<Option<Authorization>, AuthError> {
        let header = request.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Some(value) = header {
            return parse_header(value, request.headers).map(Some);
        }
        let query = query_pairs(request.query);
        if query.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
            return parse_query(&query).map(Some);
        }
        Ok(None)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_header(value: &str, headers: &HeaderMap) -> Result<Authorization, AuthError> {
    let rest = value.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' '));
    let mut params: HashMap<&str, &str> = HashMap::new();
    if let Some(rest) = rest {
        for part in rest.split(',') {
            if let Some((k, v)) = part.trim().split_once('=') {
                params.insert(k.trim(), v.trim());
            }
        }
    }
    let amz_date = header_str(headers, "x-amz-date");
    let mut problems = String::new();
    for required in ["Credential", "Signature", "SignedHeaders"] {
        if !params.contains_key(required) {
            problems.push_str(&format!("Authorization header requires '{required}' parameter. "));
        }
    }
    if amz_date.is_none() {
        problems.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    if !problems.is_empty() {
        return Err(AuthError::Incomplete(format!("{problems}Authorization={value}")));
    }
    let (access_key_id, scope_date, region, service) = parse_credential(params["Credential"])?;
    Ok(Authorization {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: params["SignedHeaders"].split(';').map(str::to_owned).collect(),
        signature: params["Signature"].to_owned(),
        amz_date: amz_date.unwrap_or_default().to_owned(),
        session_token: header_str(headers, "x-amz-security-token").map(str::to_owned),
        expires: None,
        presigned: false,
    })
}

fn parse_query(query: &[(String, String)]) -> Result<Authorization, AuthError> {
    let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut problems = String::new();
    for required in ["X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"] {
        if get(required).is_none() {
            problems.push_str(&format!("AWS query-string parameters must include '{required}'. "));
        }
    }
    if get("X-Amz-Algorithm") != Some(ALGORITHM) {
        problems.push_str(&format!("Unsupported AWS 'algorithm': '{}'. ", get("X-Amz-Algorithm").unwrap_or("")));
    }
    if !problems.is_empty() {
        return Err(AuthError::Incomplete(format!("{problems}Re-examine the query-string parameters.")));
    }
    let (access_key_id, scope_date, region, service) = parse_credential(get("X-Amz-Credential").unwrap_or(""))?;
    let expires = match get("X-Amz-Expires") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (0..=MAX_PRESIGN_EXPIRES).contains(&n) => Some(n),
            _ => {
                return Err(AuthError::Incomplete(format!(
                    "X-Amz-Expires must be a non-negative integer no greater than {MAX_PRESIGN_EXPIRES}."
                )))
            }
        },
    };
    Ok(Authorization {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: get("X-Amz-SignedHeaders").unwrap_or("").split(';').map(str::to_owned).collect(),
        signature: get("X-Amz-Signature").unwrap_or("").to_owned(),
        amz_date: get("X-Amz-Date").unwrap_or("").to_owned(),
        session_token: get("X-Amz-Security-Token").map(str::to_owned),
        expires,
        presigned: true,
    })
}

/// `AKID/20150830/us-east-1/service/aws4_request` → its parts.
fn parse_credential(credential: &str) -> Result<(String, String, String, String), AuthError> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region. Credential={credential}"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(AuthError::SignatureMismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            parts[4]
        )));
    }
    Ok((parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned(), parts[3].to_owned()))
}

/// Decode a raw query string into pairs, in the order sent.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Verifies SigV4 signatures against the keys a `CredentialProvider` knows.
pub struct Verifier {
    credentials: Arc<dyn CredentialProvider>,
    region: String,
    /// Signing keys by (secret, date, region, service): the four HMACs of
    /// key derivation happen once per key and day, not per request.
    keys: RwLock<HashMap<KeyScope, [u8; 32]>>,
}

/// (secret, date, region, service): what a signing key is derived from.
type KeyScope = (String, String, String, String);

impl Verifier {
    pub fn new(credentials: Arc<dyn CredentialProvider>, region: &str) -> Self {
        Verifier { credentials, region: region.to_owned(), keys: RwLock::new(HashMap::new()) }
    }

    /// Verify `request`, signed for `service`, at time `now` (epoch seconds).
    pub fn verify(&self, request: &SignedRequest<'_>, service: &str, now: i64) -> Result<Principal, AuthError> {
        let auth = Authorization::parse(request)?.ok_or(AuthError::MissingToken)?;
        self.verify_parsed(request, &auth, service, now)
    }

    pub fn verify_parsed(
        &self,
        request: &SignedRequest<'_>,
        auth: &Authorization,
        service: &str,
        now: i64,
    ) -> Result<Principal, AuthError> {
        let identity = self.credentials.lookup(&auth.access_key_id).ok_or(AuthError::UnrecognizedClient)?;
        if identity.session_token.as_deref() != auth.session_token.as_deref() {
            return Err(AuthError::UnrecognizedClient);
        }
        let signed_at = parse_amz_date(&auth.amz_date).ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                auth.amz_date
            ))
        })?;
        check_time(&auth.amz_date, signed_at, auth.expires, now)?;
        if let Some(expires_at) = identity.expires_at {
            if now >= expires_at {
                return Err(AuthError::ExpiredToken);
            }
        }
        if !auth.amz_date.starts_with(&auth.scope_date) {
            return Err(AuthError::SignatureMismatch(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                auth.scope_date,
                &auth.amz_date[..8],
                auth.amz_date
            )));
        }
        if auth.region != self.region {
            return Err(AuthError::SignatureMismatch(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                auth.region
            )));
        }
        if auth.service != service {
            return Err(AuthError::SignatureMismatch(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }

        let key = self.signing_key(&identity.secret_access_key, &auth.scope_date, &auth.region, &auth.service);
        let scope = format!("{}/{}/{}/aws4_request", auth.scope_date, auth.region, auth.service);
        for canonical in candidate_canonical_requests(request, auth) {
            let expected = hmac(&key, string_to_sign(&auth.amz_date, &scope, &canonical).as_bytes());
            if constant_time_eq(hex::encode(expected).as_bytes(), auth.signature.as_bytes()) {
                return Ok(identity.principal);
            }
        }
        Err(AuthError::SignatureMismatch(SIGNATURE_MISMATCH.to_owned()))
    }

    fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let cache_key = (secret.to_owned(), date.to_owned(), region.to_owned(), service.to_owned());
        if let Some(key) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
            return *key;
        }
        let key = derive_key(secret, date, region, service);
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() > 10_000 {
            keys.clear(); // old dates and departed keys; cheap to rebuild
        }
        keys.insert(cache_key, key);
        key
    }
}

/// The signing key of a secret for one day, region and service.
fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())))
}

/// Signs requests (header form) as AWS's SDKs do: for Nimbus's own clients —
/// the CLI, the deployer, the load generator — with the same canonical
/// forms the verifier checks.
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
    service: String,
    /// The signing key of the day last used.
    key: std::sync::Mutex<Option<(String, [u8; 32])>>,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str, service: &str) -> Self {
        Signer {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            region: region.to_owned(),
            service: service.to_owned(),
            key: std::sync::Mutex::new(None),
        }
    }

    pub fn with_session_token(mut self, token: &str) -> Self {
        self.session_token = Some(token.to_owned());
        self
    }

    /// The headers to add (`x-amz-date`, `x-amz-security-token`,
    /// `authorization`) to a request whose `headers` include `host`, signing
    /// every header given, at `now` (epoch seconds).
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Vec<(&'static str, String)> {
        let amz_date = format_amz_date(now);
        let date = &amz_date[..8];
        let mut all = headers.clone();
        let mut added = vec![("x-amz-date", amz_date.clone())];
        if let Some(token) = &self.session_token {
            added.push(("x-amz-security-token", token.clone()));
        }
        for (name, value) in &added {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                all.insert(*name, value);
            }
        }
        let mut names: Vec<String> = all.keys().map(|k| k.as_str().to_owned()).collect();
        names.sort();
        names.dedup();
        let canonical = format!(
            "{method}\n{}\n{}\n{}\n{}\n{}",
            utf8_percent_encode(&remove_dot_segments(path), PATH),
            canonical_query(query, false),
            canonical_headers(&all, &names),
            names.join(";"),
            hex::encode(Sha256::digest(body))
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let key = {
            let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
            match &*cached {
                Some((day, key)) if day == date => *key,
                _ => {
                    let key = derive_key(&self.secret_access_key, date, &self.region, &self.service);
                    *cached = Some((date.to_owned(), key));
                    key
                }
            }
        };
        let signature = hex::encode(hmac(&key, string_to_sign(&amz_date, &scope, &canonical).as_bytes()));
        added.push((
            "authorization",
            format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                self.access_key_id,
                names.join(";")
            ),
        ));
        added
    }
}

fn check_time(amz_date: &str, signed_at: i64, expires: Option<i64>, now: i64) -> Result<(), AuthError> {
    match expires {
        Some(expires) => {
            if now > signed_at + expires {
                return Err(AuthError::SignatureMismatch(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {expires} sec.)",
                    format_amz_date(now - expires),
                    format_amz_date(now)
                )));
            }
            if signed_at > now + MAX_SKEW_SECONDS {
                return Err(not_yet_current(amz_date, now));
            }
        }
        None => {
            if signed_at < now - MAX_SKEW_SECONDS {
                return Err(AuthError::SignatureMismatch(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
                    format_amz_date(now - MAX_SKEW_SECONDS),
                    format_amz_date(now)
                )));
            }
            if signed_at > now + MAX_SKEW_SECONDS {
                return Err(not_yet_current(amz_date, now));
            }
        }
    }
    Ok(())
}

fn not_yet_current(amz_date: &str, now: i64) -> AuthError {
    AuthError::SignatureMismatch(format!(
        "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
        format_amz_date(now + MAX_SKEW_SECONDS),
        format_amz_date(now)
    ))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The canonical requests a correct client may have signed. SDKs for every
/// service but S3 normalise the path and percent-encode it once more; some
/// signers (S3-style) sign the path as sent. The first is tried first.
fn candidate_canonical_requests(request: &SignedRequest<'_>, auth: &Authorization) -> Vec<String> {
    let query = canonical_query(request.query, auth.presigned);
    let headers = canonical_headers(request.headers, &auth.signed_headers);
    let signed_headers = auth.signed_headers.join(";");
    let mut payloads = vec![payload_hash(request)];
    if auth.presigned && payloads[0] != UNSIGNED_PAYLOAD {
        payloads.push(UNSIGNED_PAYLOAD.to_owned());
    }
    let normalized = utf8_percent_encode(&remove_dot_segments(request.path), PATH).to_string();
    let mut paths = vec![normalized];
    let as_sent = utf8_percent_encode(request.path, PATH).to_string();
    if as_sent != paths[0] {
        paths.push(as_sent);
    }
    if request.path.contains('%') {
        paths.push(request.path.to_owned());
    }
    let mut out = Vec::with_capacity(paths.len() * payloads.len());
    for payload in &payloads {
        for path in &paths {
            let path = if path.is_empty() { "/" } else { path };
            out.push(format!("{}\n{path}\n{query}\n{headers}\n{signed_headers}\n{payload}", request.method));
        }
    }
    out
}

/// `x-amz-content-sha256` when sent (checked against the body unless the
/// payload is declared unsigned), else the SHA-256 of the body.
fn payload_hash(request: &SignedRequest<'_>) -> String {
    let computed = || hex::encode(Sha256::digest(request.body));
    match header_str(request.headers, "x-amz-content-sha256") {
        Some(UNSIGNED_PAYLOAD) => UNSIGNED_PAYLOAD.to_owned(),
        Some(declared) if declared.starts_with("STREAMING-") => declared.to_owned(),
        Some(declared) => {
            // A declared hash that does not match the body must not verify:
            // sign over what was received, so tampering fails the check.
            let actual = computed();
            if actual.eq_ignore_ascii_case(declared) {
                declared.to_owned()
            } else {
                actual
            }
        }
        None => computed(),
    }
}

fn canonical_query(raw: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw)
        .into_iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (utf8_percent_encode(&k, STRICT).to_string(), utf8_percent_encode(&v, STRICT).to_string()))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for value in headers.get_all(name.as_str()) {
            if !first {
                out.push(',');
            }
            first = false;
            let text = String::from_utf8_lossy(value.as_bytes());
            // Trim, and collapse runs of spaces to one.
            let mut last_space = false;
            for c in text.trim().chars() {
                if c == ' ' {
                    if !last_space {
                        out.push(' ');
                    }
                    last_space = true;
                } else {
                    out.push(c);
                    last_space = false;
                }
            }
        }
        out.push('\n');
    }
    out
}

/// RFC 3986 dot-segment removal, also collapsing empty segments as AWS's
/// signers do (`//a//` → `/a/`).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_slashes_normalise() {
        assert_eq!(remove_dot_segments("/"), "/");
        assert_eq!(remove_dot_segments("//example//"), "/example/");
        assert_eq!(remove_dot_segments("/./"), "/");
        assert_eq!(remove_dot_segments("/example/.."), "/");
        assert_eq!(remove_dot_segments("/a/b/../c"), "/a/c");
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical_query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
        assert_eq!(canonical_query("k=a%20b&e", false), "e=&k=a%20b");
        assert_eq!(canonical_query("X-Amz-Signature=x&y=1", true), "y=1");
    }
}
