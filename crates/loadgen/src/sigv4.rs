//! AWS Signature Version 4 for awsJson requests (`POST /`, no query string).
//!
//! Signed headers are exactly `content-type;host;x-amz-date;x-amz-target`, as
//! the AWS SDKs sign a DynamoDB call. The derived signing key is cached per
//! (UTC) day; everything else is computed fresh for every request, because
//! that is the work a real client does.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    host: String,
    /// (yyyymmdd, signing key) of the last day signed for.
    cached: Option<(String, [u8; 32])>,
}

/// The two headers a signed request carries besides content-type, host and target.
pub struct Signature {
    pub amz_date: String,
    pub authorization: String,
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SigV4 signing key: HMAC chain over date, region, service, "aws4_request".
pub fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// `yyyymmddThhmmssZ` for a time since the Unix epoch (UTC), without a date library.
pub fn amz_date(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-since-1970 → proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl Signer {
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str, host: &str) -> Self {
        Signer {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            host: host.to_owned(),
            cached: None,
        }
    }

    /// Signs `POST /` with the given X-Amz-Target and body at `now`.
    pub fn sign(&mut self, target: &str, body: &[u8], now: SystemTime) -> Signature {
        let amz_date = amz_date(now);
        let date = &amz_date[..8];
        let key = match &self.cached {
            Some((day, key)) if day == date => *key,
            _ => {
                let key = signing_key(&self.secret_key, date, &self.region, &self.service);
                self.cached = Some((date.to_owned(), key));
                key
            }
        };
        let payload_hash = hex::encode(Sha256::digest(body));
        let canonical = format!(
            "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\n{SIGNED_HEADERS}\n{payload_hash}",
            self.host
        );
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
            self.access_key
        );
        Signature { amz_date, authorization }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn signing_key_matches_aws_documentation() {
        // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4".
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn amz_date_formats_utc() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // 2015-08-30T12:36:00Z, the AWS test-suite timestamp.
        assert_eq!(amz_date(UNIX_EPOCH + Duration::from_secs(1_440_938_160)), "20150830T123600Z");
        // A leap day.
        assert_eq!(amz_date(UNIX_EPOCH + Duration::from_secs(1_709_210_096)), "20240229T123456Z");
    }

    #[test]
    fn signature_is_deterministic_and_caches_the_key_per_day() {
        let mut s = Signer::new("AKIDEXAMPLE", "secret", "us-east-1", "dynamodb", "127.0.0.1:4566");
        let t = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let a = s.sign("DynamoDB_20120810.GetItem", b"{}", t);
        let b = s.sign("DynamoDB_20120810.GetItem", b"{}", t);
        assert_eq!(a.authorization, b.authorization);
        assert!(a.authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        let c = s.sign("DynamoDB_20120810.GetItem", b"{}", t + Duration::from_secs(86_400));
        assert_ne!(a.authorization, c.authorization);
        assert_eq!(s.cached.as_ref().map(|(d, _)| d.as_str()), Some("20150831"));
    }
}
