//! Order-preserving key encoding: composite keys whose byte order equals the
//! order of their parts, so that a range of logical keys is one range scan.

/// Builds a composite key part by part.
#[derive(Clone, Debug, Default)]
pub struct KeyWriter {
    buf: Vec<u8>,
}

impl KeyWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A byte string that may be followed by more parts. Escapes 0x00 as
    /// 0x00 0xFF and terminates with 0x00 0x01, so `"a"` < `"a\0"` < `"ab"`
    /// and no part's encoding is a prefix of a different part's.
    pub fn bytes(mut self, part: &[u8]) -> Self {
        for &b in part {
            self.buf.push(b);
            if b == 0 {
                self.buf.push(0xFF);
            }
        }
        self.buf.extend_from_slice(&[0x00, 0x01]);
        self
    }

    pub fn str(self, part: &str) -> Self {
        self.bytes(part.as_bytes())
    }

    /// A big-endian integer: fixed width, so byte order is numeric order.
    pub fn u64(mut self, value: u64) -> Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Raw bytes appended as they are (for a final part, or pre-encoded parts).
    pub fn raw(mut self, part: &[u8]) -> Self {
        self.buf.extend_from_slice(part);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None`
/// when no such key exists (the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_strings_sort_like_their_content() {
        let mut words: Vec<&[u8]> = vec![b"b", b"a\0", b"a", b"ab", b"", b"a\0\0", b"\xff"];
        let mut encoded: Vec<Vec<u8>> = words.iter().map(|w| KeyWriter::new().bytes(w).u64(7).finish()).collect();
        words.sort();
        encoded.sort();
        let expected: Vec<Vec<u8>> = words.iter().map(|w| KeyWriter::new().bytes(w).u64(7).finish()).collect();
        assert_eq!(encoded, expected);
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }
}
