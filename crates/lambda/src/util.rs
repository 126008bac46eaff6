//! Small pure helpers: base64, AWS's validation-error wording, timestamps, ids.

use std::fmt::Write as _;

use nimbus_core::AwsError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (blobs in JSON, X-Amz-Log-Result, CodeSha256).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard base64; whitespace is skipped, padding optional.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        } as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Collects constraint violations and words them as AWS's validator does:
/// "1 validation error detected: Value '0' at 'timeout' failed to satisfy
/// constraint: Member must have value greater than or equal to 1".
#[derive(Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn add(&mut self, value: impl std::fmt::Display, member: &str, constraint: &str) {
        self.0.push(format!("Value '{value}' at '{member}' failed to satisfy constraint: Member {constraint}"));
    }

    pub fn range(&mut self, value: i64, member: &str, min: i64, max: i64) {
        if value < min {
            self.add(value, member, &format!("must have value greater than or equal to {min}"));
        } else if value > max {
            self.add(value, member, &format!("must have value less than or equal to {max}"));
        }
    }

    pub fn max_len(&mut self, value: &str, member: &str, max: usize) {
        if value.chars().count() > max {
            self.add(value, member, &format!("must have length less than or equal to {max}"));
        }
    }

    pub fn into_result(self) -> Result<(), AwsError> {
        let n = self.0.len();
        if n == 0 {
            return Ok(());
        }
        let noun = if n == 1 { "error" } else { "errors" };
        Err(AwsError::validation(format!("{n} validation {noun} detected: {}", self.0.join("; "))))
    }
}

/// Lambda's timestamp form: `2024-01-31T12:34:56.789+0000`.
pub fn lambda_timestamp(epoch_ms: u64) -> String {
    let iso = nimbus_core::time::format_iso8601_millis(epoch_ms as i64);
    format!("{}+0000", iso.trim_end_matches('Z'))
}

/// `count` random bytes as lowercase hex (log stream suffixes, ids).
pub fn random_hex(count: usize) -> String {
    let mut out = String::with_capacity(count * 2);
    for _ in 0..count {
        let _ = write!(out, "{:02x}", fastrand::u8(..));
    }
    out
}

/// An X-Ray trace header as Lambda hands it to the runtime.
pub fn trace_id(epoch_ms: u64) -> String {
    format!("Root=1-{:08x}-{};Parent={};Sampled=0", epoch_ms / 1000, random_hex(12), random_hex(8))
}

pub fn internal(err: impl std::fmt::Display) -> AwsError {
    AwsError::new(500, "ServiceException", err.to_string())
}

/// Does `text` match `[a-zA-Z0-9-_]+`?
pub fn is_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Does `role` match `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`?
pub fn is_role_arn(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else { return false };
    let Some((partition, rest)) = rest.split_once(':') else { return false };
    if !(partition.is_empty()
        || partition.starts_with("aws") && partition[3..].bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
    {
        return false;
    }
    let Some(rest) = rest.strip_prefix("iam::") else { return false };
    let Some((account, rest)) = rest.split_once(':') else { return false };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(rest) = rest.strip_prefix("role") else { return false };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128]] {
            assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert!(base64_decode("ab!=").is_none());
    }

    #[test]
    fn violations_are_worded_as_aws() {
        let mut v = Violations::default();
        v.range(0, "timeout", 1, 900);
        let err = v.into_result().unwrap_err();
        assert_eq!(
            err.message,
            "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        let mut v = Violations::default();
        v.range(1, "timeout", 1, 900);
        v.range(20000, "memorySize", 128, 10240);
        v.range(64, "ephemeralStorage.size", 512, 10240);
        assert!(v.into_result().unwrap_err().message.starts_with("2 validation errors detected: Value '20000'"));
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::000000000000:role/lambda-role"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/service-role/x.y@z"));
        assert!(!is_role_arn("arn:aws:iam::0000:role/r"));
        assert!(!is_role_arn("role"));
        assert!(!is_role_arn("arn:aws:iam::000000000000:user/u"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(lambda_timestamp(1440938160123), "2015-08-30T12:36:00.123+0000");
    }
}
