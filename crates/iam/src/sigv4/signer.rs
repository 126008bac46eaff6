//! Signing requests (header form) as AWS's SDKs do, for Nimbus's own
//! clients — the CLI, the deployer, the load generator — with the same
//! canonical forms the verifier checks.

use http::HeaderMap;
use nimbus_core::time::format_amz_date;
use sha2::{Digest, Sha256};

use super::canonical::{
    canonical_query, derive_key, header_line, hex32, hex_str, signature, signed_path, Canonical, HmacSha256, Sink,
    ALGORITHM,
};

pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
    service: String,
    /// The signing key of the day last used.
    key: std::sync::Mutex<Option<(String, HmacSha256)>>,
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
        let mut added = vec![("x-amz-date", amz_date)];
        if let Some(token) = &self.session_token {
            added.push(("x-amz-security-token", token.clone()));
        }
        // Every given header plus the added ones (which replace any given
        // value), sorted by name.
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).chain(added.iter().map(|(n, _)| *n)).collect();
        names.sort_unstable();
        names.dedup();
        let signed_headers = names.join(";");
        let write_headers = |sink: &mut dyn Sink| {
            for name in &names {
                match added.iter().find(|(n, _)| n == name) {
                    Some((_, value)) => header_line(sink, name, std::iter::once(value.as_bytes())),
                    None => header_line(sink, name, headers.get_all(*name).iter().map(|v| v.as_bytes())),
                }
            }
        };
        let path = signed_path(path);
        let query = canonical_query(query, false);
        let payload_hash = hex32(&Sha256::digest(body).into());
        let canonical = Canonical {
            method,
            path: &path,
            query: &query,
            headers: write_headers,
            signed_headers: &signed_headers,
            payload_hash: hex_str(&payload_hash),
        };
        let digest = canonical.digest();
        let amz_date = &added[0].1;
        let date = &amz_date[..8];
        let key = self.day_key(date);
        let signature = signature(&key, amz_date, [date, &self.region, &self.service], &digest);
        let authorization = format!(
            "{ALGORITHM} Credential={}/{date}/{}/{}/aws4_request, SignedHeaders={signed_headers}, Signature={}",
            self.access_key_id,
            self.region,
            self.service,
            hex_str(&signature)
        );
        added.push(("authorization", authorization));
        added
    }

    fn day_key(&self, date: &str) -> HmacSha256 {
        let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some((day, key)) if day == date => key.clone(),
            _ => {
                let key = derive_key(&self.secret_access_key, date, &self.region, &self.service);
                *cached = Some((date.to_owned(), key.clone()));
                key
            }
        }
    }
}
