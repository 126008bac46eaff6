//! DynamoDB numbers: exact decimals of up to 38 significant digits with a
//! magnitude between 1E-130 and 9.99…E+125, kept as sign, digits and
//! exponent so that comparison and addition are exact.

use std::cmp::Ordering;
use std::fmt;

pub const MAX_DIGITS: usize = 38;
const MAX_EXPONENT: i32 = 125;
const MIN_EXPONENT: i32 = -130;

pub const OVERFLOW: &str = "Number overflow. Attempting to store a number with magnitude larger than supported range";
pub const UNDERFLOW: &str =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
pub const TOO_PRECISE: &str = "Attempting to store more than 38 significant digits in a Number";

/// `0.d1d2…dn × 10^exp` with `d1 != 0` and `dn != 0`; zero has no digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exp: i32,
}

impl Number {
    pub fn zero() -> Self {
        Number { negative: false, digits: Vec::new(), exp: 0 }
    }

    pub fn from_i64(value: i64) -> Self {
        let digits: Vec<u8> = value.unsigned_abs().to_string().bytes().map(|b| b - b'0').collect();
        let len = digits.len() as i64;
        Number::from_parts(value < 0, digits, len).unwrap_or_else(|_| Number::zero())
    }

    /// Parse DynamoDB's textual number; the error is AWS's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("The parameter cannot be converted to a numeric value: {text}");
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&sign) = bytes.first() {
            if sign == b'-' || sign == b'+' {
                negative = sign == b'-';
                i = 1;
            }
        }
        let mut digits = Vec::new();
        let mut point: Option<usize> = None;
        let mut seen_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b @ b'0'..=b'9' => {
                    digits.push(b - b'0');
                    seen_digit = true;
                }
                b'.' if point.is_none() => point = Some(digits.len()),
                b'e' | b'E' => break,
                _ => return Err(invalid()),
            }
            i += 1;
        }
        if !seen_digit {
            return Err(invalid());
        }
        let mut exponent: i64 = 0;
        if i < bytes.len() {
            // Exponent part after e/E.
            let rest = &text[i + 1..];
            let body = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            // The exponent is read in full: past 64 bits it is no number at
            // all; past 32 bits it is out of range.
            let trimmed = body.trim_start_matches('0');
            let parsed = if trimmed.is_empty() { Ok(0) } else { trimmed.parse::<i64>() };
            let Ok(magnitude) = parsed else {
                return Err(invalid());
            };
            if magnitude > i32::MAX as i64 + 1 {
                return Err(if rest.starts_with('-') { UNDERFLOW.into() } else { OVERFLOW.into() });
            }
            exponent = if rest.starts_with('-') { -magnitude } else { magnitude };
        }
        let int_len = point.unwrap_or(digits.len()) as i64;
        Number::from_parts(negative, digits, int_len + exponent)
    }

    /// Normalise raw digits (value `0.digits × 10^exp`) and check the limits.
    fn from_parts(negative: bool, mut digits: Vec<u8>, exp: i64) -> Result<Self, String> {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        let exp = exp - lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Ok(Number::zero());
        }
        // The scientific exponent of d1.d2… is exp - 1.
        if exp - 1 > MAX_EXPONENT as i64 {
            return Err(OVERFLOW.into());
        }
        if exp - 1 < MIN_EXPONENT as i64 {
            return Err(UNDERFLOW.into());
        }
        if digits.len() > MAX_DIGITS {
            return Err(TOO_PRECISE.into());
        }
        Ok(Number { negative, digits, exp: exp as i32 })
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// Bytes DynamoDB charges for this number, as measured against AWS:
    /// 1 + ceil(integer significant digits / 2) + ceil(fraction significant
    /// digits / 2), plus 1 if negative. (The developer guide's "one byte per
    /// two digits plus one" undercounts digits straddling the point.)
    pub fn storage_size(&self) -> usize {
        let integer = if self.exp > 0 { (self.exp as usize).min(self.digits.len()) } else { 0 };
        let fraction = self.digits.len() - integer;
        1 + integer.div_ceil(2) + fraction.div_ceil(2) + usize::from(self.negative)
    }

    pub fn negate(&self) -> Number {
        let mut n = self.clone();
        if !n.is_zero() {
            n.negative = !n.negative;
        }
        n
    }

    pub fn add(&self, other: &Number) -> Result<Number, String> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both coefficients on the lowest digit position.
        let low = (self.exp - self.digits.len() as i32).min(other.exp - other.digits.len() as i32);
        let high = self.exp.max(other.exp);
        let width = (high - low) as usize;
        let a = self.aligned(high, width);
        let b = other.aligned(high, width);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        // add_digits may carry into one extra leading digit.
        let exp = high as i64 + (digits.len() - width) as i64;
        // AWS reports a sum it cannot hold in 38 digits (1e50 + 1) as an
        // overflow, not as too many significant digits.
        Number::from_parts(negative, digits, exp).map_err(|e| if e == TOO_PRECISE { OVERFLOW.into() } else { e })
    }

    pub fn sub(&self, other: &Number) -> Result<Number, String> {
        self.add(&other.negate())
    }

    /// Digits of the magnitude laid out over `width` positions below 10^high.
    fn aligned(&self, high: i32, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; width];
        let start = (high - self.exp) as usize;
        out[start..start + self.digits.len()].copy_from_slice(&self.digits);
        out
    }

    /// Order-preserving bytes (self-delimiting, so a sort key may follow).
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x02);
            return;
        }
        let biased = (self.exp + 1000) as u16;
        if self.negative {
            out.push(0x01);
            out.extend_from_slice(&(u16::MAX - biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 10 - d));
            out.push(0xFF);
        } else {
            out.push(0x03);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend(self.digits.iter().map(|d| d + 1));
            out.push(0x00);
        }
    }

    /// Decode `encode_key`'s output from the front of `bytes`, returning the
    /// number and the bytes consumed.
    pub fn decode_key(bytes: &[u8]) -> Option<(Number, usize)> {
        match *bytes.first()? {
            0x02 => Some((Number::zero(), 1)),
            tag @ (0x01 | 0x03) => {
                let negative = tag == 0x01;
                let raw = u16::from_be_bytes([*bytes.get(1)?, *bytes.get(2)?]);
                let biased = if negative { u16::MAX - raw } else { raw };
                let end = if negative { 0xFF } else { 0x00 };
                let mut digits = Vec::new();
                let mut i = 3;
                loop {
                    let b = *bytes.get(i)?;
                    i += 1;
                    if b == end {
                        break;
                    }
                    digits.push(if negative { 10u8.checked_sub(b)? } else { b.checked_sub(1)? });
                }
                Some((Number { negative, digits, exp: biased as i32 - 1000 }, i))
            }
            _ => None,
        }
    }
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len() + 1];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let s = a[i] + b[i] + carry;
        out[i + 1] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    if carry == 0 {
        out.remove(0);
    }
    out
}

/// `a - b` for `a >= b`, same width.
fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let magnitude = self.exp.cmp(&other.exp).then_with(|| self.digits.cmp(&other.digits));
        if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// DynamoDB's canonical form: plain notation, no exponent, no trailing zeros.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let len = self.digits.len() as i32;
        if self.exp <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exp) as usize));
            s.extend(self.digits.iter().map(digit));
        } else if self.exp >= len {
            s.extend(self.digits.iter().map(digit));
            s.extend(std::iter::repeat_n('0', (self.exp - len) as usize));
        } else {
            let (int, frac) = self.digits.split_at(self.exp as usize);
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn canonical_form() {
        for (input, out) in [
            ("1", "1"),
            ("1.0", "1"),
            ("-0", "0"),
            ("0.000", "0"),
            ("+12.50", "12.5"),
            ("1e2", "100"),
            ("1.5E-3", "0.0015"),
            ("-007.10", "-7.1"),
            (".5", "0.5"),
            ("5.", "5"),
            ("123456789012345678901234567890.12345678", "123456789012345678901234567890.12345678"),
        ] {
            assert_eq!(n(input).to_string(), out, "{input}");
        }
    }

    #[test]
    fn byte_costs_match_aws() {
        for (literal, bytes) in
            [("3.14159", 5), ("123456", 4), ("1E125", 2), ("1", 2), ("-1", 3), ("0.001", 2), ("0", 1)]
        {
            assert_eq!(n(literal).storage_size(), bytes, "{literal}");
        }
    }

    #[test]
    fn exponents_read_in_full() {
        assert_eq!(Number::parse("1e99999999999").unwrap_err(), OVERFLOW);
        assert_eq!(Number::parse("1e-99999999999").unwrap_err(), UNDERFLOW);
        assert_eq!(Number::parse("1e2147483648").unwrap_err(), OVERFLOW);
        assert_eq!(
            Number::parse("1e9223372036854775808").unwrap_err(),
            "The parameter cannot be converted to a numeric value: 1e9223372036854775808"
        );
        // Zero has no magnitude: any written exponent is fine, as on AWS.
        assert_eq!(n("0e1000").to_string(), "0");
        assert_eq!(n("-0e-1000").to_string(), "0");
        assert_eq!(n("0e125").to_string(), "0");
    }

    #[test]
    fn from_integers() {
        assert_eq!(Number::from_i64(2).to_string(), "2");
        assert_eq!(Number::from_i64(-120).to_string(), "-120");
        assert_eq!(Number::from_i64(0).to_string(), "0");
    }

    #[test]
    fn limits() {
        assert_eq!(Number::parse("1e126").unwrap_err(), OVERFLOW);
        assert_eq!(n("9.9999e125").to_string().len(), 126);
        assert_eq!(Number::parse("1e-131").unwrap_err(), UNDERFLOW);
        assert!(Number::parse("1e-130").is_ok());
        assert_eq!(Number::parse("1234567890123456789012345678901234567890").unwrap_err(), TOO_PRECISE);
        assert!(Number::parse("12345678901234567890123456789012345678000000").is_ok());
        for bad in ["", "-", "abc", "1.2.3", "1e", "1e+", "0x10", " 1", "1 ", "Infinity", "NaN"] {
            assert_eq!(
                Number::parse(bad).unwrap_err(),
                format!("The parameter cannot be converted to a numeric value: {bad}")
            );
        }
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("99").add(&n("1")).unwrap().to_string(), "100");
        assert_eq!(n("1").sub(&n("1.5")).unwrap().to_string(), "-0.5");
        assert_eq!(n("-5").add(&n("5")).unwrap().to_string(), "0");
        assert_eq!(n("1e125").add(&n("1e125")).unwrap().to_string().len(), 126);
        assert_eq!(n("9.9e125").add(&n("1e125")).unwrap_err(), OVERFLOW);
        assert_eq!(n("1e37").add(&n("0.1")).unwrap_err(), OVERFLOW);
        assert_eq!(n("1e50").sub(&n("1")).unwrap_err(), OVERFLOW);
    }

    #[test]
    fn ordering_and_key_encoding_agree() {
        let mut values: Vec<Number> =
            ["-1e10", "-100", "-1.5", "-1", "-0.5", "0", "1e-130", "0.5", "1", "1.5", "2", "10", "100", "1e125"]
                .iter()
                .map(|s| n(s))
                .collect();
        let sorted = values.clone();
        values.reverse();
        values.sort();
        assert_eq!(values, sorted);
        let encoded: Vec<Vec<u8>> = sorted
            .iter()
            .map(|v| {
                let mut out = Vec::new();
                v.encode_key(&mut out);
                out
            })
            .collect();
        for w in encoded.windows(2) {
            assert!(w[0] < w[1]);
        }
        for (bytes, v) in encoded.iter().zip(&sorted) {
            assert_eq!(&Number::decode_key(bytes).unwrap().0, v);
        }
    }
}
