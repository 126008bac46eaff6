//! Order-preserving byte encoding of key values, so that a partition is a
//! contiguous key range and sort order within it is DynamoDB's order.

use super::AttributeValue;

/// Append `value` (an S, N or B) so that byte order equals DynamoDB order
/// and the encoding is self-delimiting (a sort key may follow it).
pub fn encode(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => escape(s.as_bytes(), out),
        AttributeValue::B(b) => escape(b, out),
        AttributeValue::N(n) => n.encode_key(out),
        // Callers validate key types first; any other type sorts nowhere useful.
        _ => out.push(0),
    }
}

/// 0x00 becomes 0x00 0xFF and the end is 0x00 0x01: `"a"` < `"a\0"` < `"ab"`.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_sort_bytewise_and_delimit() {
        let enc = |s: &str| {
            let mut out = Vec::new();
            encode(&AttributeValue::S(s.into()), &mut out);
            out.push(0xFF);
            out
        };
        let words = ["", "a", "a\0", "ab", "b", "é"];
        for w in words.windows(2) {
            assert!(enc(w[0]) < enc(w[1]), "{:?}", w);
        }
    }
}
