//! AWS Signature Version 4 verification, header and presigned-query forms.
//!
//! The verifier rebuilds the canonical request the client signed — streamed
//! into SHA-256, never formatted as a String — derives the signing key
//! (cached per key, date, region and service) and compares signatures in
//! constant time. Failures map to the errors AWS returns, worded as AWS
//! words them; the edge encodes them per protocol.

mod canonical;
mod signer;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock};

use http::HeaderMap;
use nimbus_core::time::{format_amz_date, parse_amz_date};
use nimbus_core::Principal;
use sha2::{Digest, Sha256};

use crate::credentials::CredentialProvider;
use canonical::{
    canonical_query, derive_key, header_line, hex32, hex_str, path_candidates, query_pairs, signature, Canonical,
    HmacSha256, Sink, ALGORITHM, UNSIGNED_PAYLOAD,
};
pub use signer::Signer;

/// How far a request's timestamp may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// Longest validity of a presigned URL (7 days), as AWS allows.
const MAX_PRESIGN_EXPIRES: i64 = 604_800;

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

/// What the `Authorization` header or the `X-Amz-*` query parameters say:
/// borrowed from the header, owned when decoded from a presigned query.
#[derive(Debug, Clone)]
pub struct Authorization<'a> {
    pub access_key_id: Cow<'a, str>,
    pub scope_date: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub service: Cow<'a, str>,
    /// The SignedHeaders list as sent: `a;b;c`.
    pub signed_headers: Cow<'a, str>,
    pub signature: Cow<'a, str>,
    pub amz_date: Cow<'a, str>,
    pub session_token: Option<Cow<'a, str>>,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires: Option<i64>,
    pub presigned: bool,
}

impl<'a> Authorization<'a> {
    /// Read the signature of `request`; `Ok(None)` when it carries none.
    pub fn parse(request: &SignedRequest<'a>) -> Result<Option<Authorization<'a>>, AuthError> {
        let header = request.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Some(value) = header {
            return parse_header(value, request.headers).map(Some);
        }
        if !request.query.is_empty() {
            let query = query_pairs(request.query);
            if query.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
                return parse_query(&query).map(Some);
            }
        }
        Ok(None)
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_header<'a>(value: &'a str, headers: &'a HeaderMap) -> Result<Authorization<'a>, AuthError> {
    let (mut credential, mut signature, mut signed_headers) = (None, None, None);
    if let Some(rest) = value.strip_prefix(ALGORITHM).filter(|r| r.starts_with(' ')) {
        for part in rest.split(',') {
            if let Some((k, v)) = part.trim().split_once('=') {
                let slot = match k.trim() {
                    "Credential" => &mut credential,
                    "Signature" => &mut signature,
                    "SignedHeaders" => &mut signed_headers,
                    _ => continue,
                };
                *slot = Some(v.trim());
            }
        }
    }
    let amz_date = header_str(headers, "x-amz-date");
    let mut problems = String::new();
    for (required, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            problems.push_str(&format!("Authorization header requires '{required}' parameter. "));
        }
    }
    if amz_date.is_none() {
        problems.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signature), Some(signed_headers), Some(amz_date), true) =
        (credential, signature, signed_headers, amz_date, problems.is_empty())
    else {
        return Err(AuthError::Incomplete(format!("{problems}Authorization={value}")));
    };
    let [access_key_id, scope_date, region, service] = parse_credential(credential)?;
    Ok(Authorization {
        access_key_id: Cow::Borrowed(access_key_id),
        scope_date: Cow::Borrowed(scope_date),
        region: Cow::Borrowed(region),
        service: Cow::Borrowed(service),
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        amz_date: Cow::Borrowed(amz_date),
        session_token: header_str(headers, "x-amz-security-token").map(Cow::Borrowed),
        expires: None,
        presigned: false,
    })
}

fn parse_query(query: &[(String, String)]) -> Result<Authorization<'static>, AuthError> {
    let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let owned = |name: &str| Cow::Owned(get(name).unwrap_or("").to_owned());
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
    let [access_key_id, scope_date, region, service] = parse_credential(get("X-Amz-Credential").unwrap_or(""))?;
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
        access_key_id: Cow::Owned(access_key_id.to_owned()),
        scope_date: Cow::Owned(scope_date.to_owned()),
        region: Cow::Owned(region.to_owned()),
        service: Cow::Owned(service.to_owned()),
        signed_headers: owned("X-Amz-SignedHeaders"),
        signature: owned("X-Amz-Signature"),
        amz_date: owned("X-Amz-Date"),
        session_token: get("X-Amz-Security-Token").map(|t| Cow::Owned(t.to_owned())),
        expires,
        presigned: true,
    })
}

/// `AKID/20150830/us-east-1/service/aws4_request` → its first four parts.
fn parse_credential(credential: &str) -> Result<[&str; 4], AuthError> {
    let mut parts = credential.split('/');
    let mut next = || parts.next();
    let (Some(key), Some(date), Some(region), Some(service), Some(terminator), None) =
        (next(), next(), next(), next(), next(), next())
    else {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region. Credential={credential}"
        )));
    };
    if terminator != "aws4_request" {
        return Err(AuthError::SignatureMismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    Ok([key, date, region, service])
}

/// Verifies SigV4 signatures against the keys a `CredentialProvider` knows.
pub struct Verifier {
    credentials: Arc<dyn CredentialProvider>,
    region: String,
    /// Signing keys by the hash of (secret, date, region, service), with the
    /// scope kept to confirm a hit: the four HMACs of key derivation happen
    /// once per key and day, and a lookup allocates nothing.
    keys: RwLock<HashMap<u64, (KeyScope, HmacSha256)>>,
    hasher: RandomState,
}

/// (secret, date, region, service): what a signing key is derived from.
type KeyScope = [String; 4];

impl Verifier {
    pub fn new(credentials: Arc<dyn CredentialProvider>, region: &str) -> Self {
        Verifier {
            credentials,
            region: region.to_owned(),
            keys: RwLock::new(HashMap::new()),
            hasher: RandomState::new(),
        }
    }

    /// Verify `request`, signed for `service`, at time `now` (epoch seconds).
    pub fn verify(&self, request: &SignedRequest<'_>, service: &str, now: i64) -> Result<Principal, AuthError> {
        let auth = Authorization::parse(request)?.ok_or(AuthError::MissingToken)?;
        self.verify_parsed(request, &auth, service, now)
    }

    pub fn verify_parsed(
        &self,
        request: &SignedRequest<'_>,
        auth: &Authorization<'_>,
        service: &str,
        now: i64,
    ) -> Result<Principal, AuthError> {
        let identity = self.credentials.lookup(&auth.access_key_id).ok_or(AuthError::UnrecognizedClient)?;
        if identity.session_token.as_deref() != auth.session_token.as_deref() {
            return Err(AuthError::UnrecognizedClient);
        }
        let amz_date: &str = &auth.amz_date;
        let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })?;
        check_time(amz_date, signed_at, auth.expires, now)?;
        if let Some(expires_at) = identity.expires_at {
            if now >= expires_at {
                return Err(AuthError::ExpiredToken);
            }
        }
        if !amz_date.starts_with(auth.scope_date.as_ref()) {
            return Err(AuthError::SignatureMismatch(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                auth.scope_date,
                &amz_date[..8],
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

        let scope = [auth.scope_date.as_ref(), auth.region.as_ref(), auth.service.as_ref()];
        let key = self.signing_key(&identity.secret_access_key, scope);
        let query = canonical_query(request.query, auth.presigned);
        let headers = |sink: &mut dyn Sink| {
            for name in auth.signed_headers.split(';') {
                header_line(sink, name, request.headers.get_all(name).iter().map(|v| v.as_bytes()));
            }
        };
        let payload = payload_hash(request);
        let mut payloads = vec![payload.as_str()];
        if auth.presigned && payloads[0] != UNSIGNED_PAYLOAD {
            payloads.push(UNSIGNED_PAYLOAD);
        }
        let paths = path_candidates(request.path);
        for payload_hash in payloads {
            for path in &paths {
                let canonical = Canonical {
                    method: request.method,
                    path,
                    query: &query,
                    headers: &headers,
                    signed_headers: &auth.signed_headers,
                    payload_hash,
                };
                let expected = signature(&key, amz_date, scope, &canonical.digest());
                if constant_time_eq(&expected, auth.signature.as_bytes()) {
                    return Ok(identity.principal);
                }
            }
        }
        Err(AuthError::SignatureMismatch(SIGNATURE_MISMATCH.to_owned()))
    }

    fn signing_key(&self, secret: &str, [date, region, service]: [&str; 3]) -> HmacSha256 {
        let hash = self.hasher.hash_one((secret, date, region, service));
        let same_scope = |scope: &KeyScope| scope == &[secret, date, region, service];
        if let Some((scope, key)) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&hash) {
            if same_scope(scope) {
                return key.clone();
            }
        }
        let key = derive_key(secret, date, region, service);
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if keys.len() > 10_000 {
            keys.clear(); // old dates and departed keys; cheap to rebuild
        }
        let scope = [secret, date, region, service].map(str::to_owned);
        keys.insert(hash, (scope, key.clone()));
        key
    }
}

/// The payload hash a request was signed with, hex on the stack when computed.
enum PayloadHash<'a> {
    Computed([u8; 64]),
    Declared(&'a str),
}

impl PayloadHash<'_> {
    fn as_str(&self) -> &str {
        match self {
            PayloadHash::Computed(hex) => hex_str(hex),
            PayloadHash::Declared(text) => text,
        }
    }
}

/// `x-amz-content-sha256` when sent (checked against the body unless the
/// payload is declared unsigned), else the SHA-256 of the body.
fn payload_hash<'a>(request: &SignedRequest<'a>) -> PayloadHash<'a> {
    let computed = || hex32(&Sha256::digest(request.body).into());
    match header_str(request.headers, "x-amz-content-sha256") {
        Some(declared) if declared == UNSIGNED_PAYLOAD || declared.starts_with("STREAMING-") => {
            PayloadHash::Declared(declared)
        }
        Some(declared) => {
            // A declared hash that does not match the body must not verify:
            // sign over what was received, so tampering fails the check.
            let actual = computed();
            if actual.eq_ignore_ascii_case(declared.as_bytes()) {
                PayloadHash::Declared(declared)
            } else {
                PayloadHash::Computed(actual)
            }
        }
        None => PayloadHash::Computed(computed()),
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
