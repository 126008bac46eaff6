//! The canonical request and string to sign, streamed into SHA-256/HMAC.
//!
//! Signer and verifier both feed the pieces of the canonical request
//! straight into the hash instead of formatting it as one String: on the
//! request path that is several allocations and a copy of every signed
//! header saved per request. Tests feed the same pieces into a `Vec<u8>`
//! to see the text.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(super) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same for paths, where `/` separates segments.
const PATH: &AsciiSet = &STRICT.remove(b'/');

pub(super) type HmacSha256 = Hmac<Sha256>;

/// Where canonical text goes: a hash on the request path, a buffer in tests.
pub(super) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The parts of a canonical request; `headers` writes its header lines.
pub(super) struct Canonical<'a, H> {
    pub method: &'a str,
    /// Already canonical (see `path_candidates`); empty means `/`.
    pub path: &'a str,
    /// Already canonical (see `canonical_query`).
    pub query: &'a str,
    pub headers: H,
    /// `a;b;c`, as listed in SignedHeaders.
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
}

impl<H: Fn(&mut dyn Sink)> Canonical<'_, H> {
    pub fn write(&self, sink: &mut dyn Sink) {
        let path = if self.path.is_empty() { "/" } else { self.path };
        for piece in [self.method, "\n", path, "\n", self.query, "\n"] {
            sink.put(piece.as_bytes());
        }
        (self.headers)(sink);
        for piece in ["\n", self.signed_headers, "\n", self.payload_hash] {
            sink.put(piece.as_bytes());
        }
    }

    /// SHA-256 of the canonical request.
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        self.write(&mut hasher);
        hasher.finalize().into()
    }
}

/// One `name:value[,value…]\n` line, each value trimmed and its runs of
/// spaces collapsed to one.
pub(super) fn header_line<'v>(sink: &mut dyn Sink, name: &str, values: impl Iterator<Item = &'v [u8]>) {
    sink.put(name.as_bytes());
    sink.put(b":");
    for (i, value) in values.enumerate() {
        if i > 0 {
            sink.put(b",");
        }
        let mut words = value.trim_ascii().split(|&b| b == b' ').filter(|w| !w.is_empty());
        if let Some(first) = words.next() {
            sink.put(first);
        }
        for word in words {
            sink.put(b" ");
            sink.put(word);
        }
    }
    sink.put(b"\n");
}

/// Lowercase hex of a 32-byte digest, on the stack.
pub(super) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex::encode_to_slice(bytes, &mut out).expect("64 hex digits for 32 bytes");
    out
}

pub(super) fn hex_str(hex: &[u8; 64]) -> &str {
    std::str::from_utf8(hex).expect("hex digits are ASCII")
}

/// The hex signature: HMAC, under the day's signing key, of the string to
/// sign `ALGORITHM\n<amz_date>\n<date>/<region>/<service>/aws4_request\n<hex canonical digest>`.
pub(super) fn signature(key: &HmacSha256, amz_date: &str, scope: [&str; 3], canonical_digest: &[u8; 32]) -> [u8; 64] {
    let mut mac = key.clone();
    for piece in [ALGORITHM, "\n", amz_date, "\n", scope[0], "/", scope[1], "/", scope[2], "/aws4_request\n"] {
        mac.update(piece.as_bytes());
    }
    mac.update(&hex32(canonical_digest));
    hex32(&mac.finalize().into_bytes().into())
}

pub(super) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The day's signing key of a secret for one region and service, ready to
/// sign with (HMAC's keyed state, so each request skips re-keying).
pub(super) fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> HmacSha256 {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    HmacSha256::new_from_slice(&k_signing).expect("HMAC takes keys of any length")
}

/// The paths a correct client may have signed, most likely first. SDKs for
/// every service but S3 normalise the path and percent-encode it once more;
/// some signers (S3-style) sign the path as sent. No allocation when the
/// path needs no work (`/`, plain segments).
pub(super) fn path_candidates(path: &str) -> Vec<Cow<'_, str>> {
    let normalized: Cow<'_, str> = match remove_dot_segments(path) {
        Cow::Borrowed(p) => utf8_percent_encode(p, PATH).into(),
        Cow::Owned(p) => Cow::Owned(utf8_percent_encode(&p, PATH).to_string()),
    };
    let mut paths = vec![normalized];
    let as_sent: Cow<'_, str> = utf8_percent_encode(path, PATH).into();
    if as_sent != paths[0] {
        paths.push(as_sent);
    }
    if path.contains('%') {
        paths.push(Cow::Borrowed(path));
    }
    paths
}

/// The path as AWS's SDKs sign it (the signer's side of `path_candidates`).
pub(super) fn signed_path(path: &str) -> String {
    utf8_percent_encode(&remove_dot_segments(path), PATH).to_string()
}

/// Decode a raw query string into pairs, in the order sent.
pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
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

/// Pairs decoded, re-encoded strictly and sorted; a presigned URL's own
/// signature left out.
pub(super) fn canonical_query(raw: &str, presigned: bool) -> String {
    if raw.is_empty() {
        return String::new();
    }
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

/// RFC 3986 dot-segment removal, also collapsing empty segments as AWS's
/// signers do (`//a//` → `/a/`). Borrowed when there is nothing to remove.
pub(super) fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    let inner = path.strip_prefix('/').unwrap_or(path);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    if path == "/" || (!inner.is_empty() && inner.split('/').all(|s| !matches!(s, "" | "." | ".."))) {
        return Cow::Borrowed(path);
    }
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
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_slashes_normalise() {
        for (path, expected, borrowed) in [
            ("/", "/", true),
            ("", "", false),
            ("/a/b", "/a/b", true),
            ("/a/", "/a/", true),
            ("//example//", "/example/", false),
            ("/./", "/", false),
            ("/example/..", "/", false),
            ("/a/b/../c", "/a/c", false),
            ("//", "/", false),
        ] {
            let out = remove_dot_segments(path);
            assert_eq!(out, expected, "{path}");
            assert_eq!(matches!(out, Cow::Borrowed(_)), borrowed, "{path}");
        }
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical_query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
        assert_eq!(canonical_query("k=a%20b&e", false), "e=&k=a%20b");
        assert_eq!(canonical_query("X-Amz-Signature=x&y=1", true), "y=1");
    }

    #[test]
    fn path_candidates_of_plain_and_encoded_paths() {
        assert_eq!(path_candidates("/"), vec!["/"]);
        assert!(matches!(path_candidates("/a/b")[0], Cow::Borrowed(_)));
        assert_eq!(path_candidates("/a%3Ab/./c"), vec!["/a%253Ab/c", "/a%253Ab/./c", "/a%3Ab/./c"]);
    }

    #[test]
    fn canonical_text_as_aws_documents_it() {
        let headers = |sink: &mut dyn Sink| {
            header_line(sink, "host", [b"example.com".as_slice()].into_iter());
            header_line(sink, "my-header", [b"  a   b ".as_slice(), b"c".as_slice()].into_iter());
        };
        let canonical = Canonical {
            method: "GET",
            path: "",
            query: "a=1",
            headers,
            signed_headers: "host;my-header",
            payload_hash: UNSIGNED_PAYLOAD,
        };
        let mut text = Vec::new();
        canonical.write(&mut text);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "GET\n/\na=1\nhost:example.com\nmy-header:a b,c\n\nhost;my-header\nUNSIGNED-PAYLOAD"
        );
        let mut text = Vec::new();
        canonical.write(&mut text);
        assert_eq!(canonical.digest(), <[u8; 32]>::from(Sha256::digest(&text)));
    }
}
