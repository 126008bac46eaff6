//! Condition blocks: `{"StringEquals": {"aws:username": ["alice"]}}`.
//!
//! Semantics (IAM's): operators in a block, and keys in an operator, are
//! ANDed; values of one key are ORed. A key absent from the request makes a
//! positive operator false and a negated one true, unless `…IfExists` (true)
//! or `Null`. `ForAnyValue:` needs one request value to match, `ForAllValues:`
//! needs every one to (and is true when the key is absent).

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::document::Malformed;
use super::pattern::{expand_template, glob};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// Negated operators are true when nothing matches (and when the key is absent).
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Does one request value match one policy value (positive sense)?
    fn matches(self, policy: &str, request: &str) -> bool {
        use Op::*;
        match self {
            StringEquals | StringNotEquals | BinaryEquals => policy == request,
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => policy.eq_ignore_ascii_case(request),
            StringLike | StringNotLike | ArnLike | ArnNotLike | ArnEquals | ArnNotEquals => {
                arn_or_glob(self, policy, request)
            }
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => match (request.trim().parse::<f64>(), policy.trim().parse::<f64>()) {
                (Ok(r), Ok(p)) => compare(self, r.partial_cmp(&p)),
                _ => false,
            },
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => match (parse_date(request), parse_date(policy)) {
                (Some(r), Some(p)) => compare(self, Some(r.cmp(&p))),
                _ => false,
            },
            Bool => policy.eq_ignore_ascii_case(request),
            IpAddress | NotIpAddress => cidr_contains(policy, request),
            Null => false,
        }
    }
}

fn arn_or_glob(op: Op, policy: &str, request: &str) -> bool {
    match op {
        Op::StringLike | Op::StringNotLike => glob(policy.as_bytes(), request.as_bytes()),
        // ARN operators compare each of the six colon-separated parts.
        _ => {
            let p: Vec<&str> = policy.splitn(6, ':').collect();
            let r: Vec<&str> = request.splitn(6, ':').collect();
            p.len() == r.len() && p.iter().zip(&r).all(|(p, r)| glob(p.as_bytes(), r.as_bytes()))
        }
    }
}

fn compare(op: Op, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use Op::*;
    let Some(o) = ordering else { return false };
    match op {
        NumericEquals | NumericNotEquals | DateEquals | DateNotEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// Epoch milliseconds of an ISO 8601 date (`2024-01-01`, `2024-01-01T10:00:00Z`,
/// with optional fraction) or of epoch seconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok().map(|s| s * 1000);
    }
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = nimbus_core::time::days_from_civil(y, mo as u32, d as u32);
    let mut millis = days * 86_400_000;
    if b.len() > 10 {
        if b[10] != b'T' || b.len() < 19 {
            return None;
        }
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        millis += (h * 3600 + mi * 60 + s) * 1000;
        let mut rest = &text[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
            let ms: String = digits.chars().chain("000".chars()).take(3).collect();
            millis += ms.parse::<i64>().ok()?;
            rest = &frac[digits.len()..];
        }
        match rest {
            "" | "Z" => {}
            offset if offset.len() == 6 && (offset.starts_with('+') || offset.starts_with('-')) => {
                let oh: i64 = offset.get(1..3)?.parse().ok()?;
                let om: i64 = offset.get(4..6)?.parse().ok()?;
                let sign = if offset.starts_with('+') { -1 } else { 1 };
                millis += sign * (oh * 3600 + om * 60) * 1000;
            }
            _ => return None,
        }
    }
    Some(millis)
}

/// Is `ip` inside `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or one address)?
pub fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(net), Ok(ip)) = (net.trim().parse::<IpAddr>(), ip.trim().parse::<IpAddr>()) else {
        return false;
    };
    // An IPv4 client seen through an IPv6 socket is still an IPv4 client.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// One key's test: `ForAnyValue:StringLikeIfExists {"key": [values]}`.
#[derive(Clone, Debug)]
pub struct Condition {
    pub op: Op,
    pub qualifier: SetQualifier,
    pub if_exists: bool,
    /// Condition keys are case-insensitive: stored lower-cased.
    pub key: String,
    pub values: Vec<String>,
    /// Whether any value holds a `${…}` policy variable.
    pub templated: bool,
}

pub fn parse_block(block: &Map<String, Value>) -> Result<Vec<Condition>, Malformed> {
    let mut out = Vec::new();
    for (operator, keys) in block {
        let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else {
            (SetQualifier::None, operator.as_str())
        };
        let (name, if_exists) = match rest.strip_suffix("IfExists") {
            Some(name) if name != "Null" => (name, true),
            _ => (rest, false),
        };
        let op = Op::parse(name).ok_or_else(|| format!("Invalid Condition type : {operator}"))?;
        let Value::Object(keys) = keys else {
            return Err("Syntax errors in policy.".into());
        };
        for (key, values) in keys {
            let values: Vec<String> = match values {
                Value::Array(list) => list.iter().map(scalar).collect::<Option<_>>(),
                other => scalar(other).map(|v| vec![v]),
            }
            .ok_or_else(|| "Syntax errors in policy.".to_owned())?;
            let templated = values.iter().any(|v| v.contains("${"));
            out.push(Condition { op, qualifier, if_exists, key: key.to_ascii_lowercase(), values, templated });
        }
    }
    Ok(out)
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Evaluate against the request's values for this key (`None`: absent).
    /// `expand` resolves policy variables in the policy's values.
    pub fn holds(&self, request: Option<&[String]>, expand: &dyn Fn(&str) -> Option<String>) -> bool {
        if self.op == Op::Null {
            let absent = request.is_none_or(|v| v.is_empty());
            return self.values.iter().any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let values: Vec<String>;
        let policy_values: &[String] = if self.templated {
            values = self.values.iter().filter_map(|v| expand_template(v, expand)).collect();
            &values
        } else {
            &self.values
        };
        let request = match request {
            Some(values) if !values.is_empty() => values,
            _ => {
                return match self.qualifier {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => self.if_exists,
                    SetQualifier::None => self.if_exists || self.op.negated(),
                };
            }
        };
        let negated = self.op.negated();
        // Positive sense for one request value: does it match any policy value?
        let hit = |r: &String| policy_values.iter().any(|p| self.op.matches(p, r));
        match self.qualifier {
            SetQualifier::ForAllValues => request.iter().all(|r| hit(r) != negated),
            SetQualifier::ForAnyValue => request.iter().any(|r| hit(r) != negated),
            SetQualifier::None => {
                let any = request.iter().any(hit);
                any != negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(json: &str) -> Condition {
        let v: Value = serde_json::from_str(json).unwrap();
        parse_block(v.as_object().unwrap()).unwrap().remove(0)
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    fn vals(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn string_operators_and_absent_keys() {
        let c = cond(r#"{"StringEquals":{"aws:username":["alice","bob"]}}"#);
        assert!(c.holds(Some(&vals(&["bob"])), &none));
        assert!(!c.holds(Some(&vals(&["carol"])), &none));
        assert!(!c.holds(None, &none));
        let c = cond(r#"{"StringNotEquals":{"aws:username":"alice"}}"#);
        assert!(c.holds(None, &none));
        assert!(!c.holds(Some(&vals(&["alice"])), &none));
        let c = cond(r#"{"StringEqualsIfExists":{"k":"x"}}"#);
        assert!(c.holds(None, &none));
        let c = cond(r#"{"Null":{"k":"true"}}"#);
        assert!(c.holds(None, &none));
        assert!(!c.holds(Some(&vals(&["v"])), &none));
    }

    #[test]
    fn set_operators() {
        let c = cond(r#"{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["${aws:userid}"]}}"#);
        let vars = |k: &str| (k == "aws:userid").then(|| "AIDA1".to_owned());
        assert!(c.holds(Some(&vals(&["AIDA1"])), &vars));
        assert!(!c.holds(Some(&vals(&["AIDA1", "AIDA2"])), &vars));
        assert!(c.holds(None, &vars));
        let c = cond(r#"{"ForAnyValue:StringLike":{"k":["a*"]}}"#);
        assert!(c.holds(Some(&vals(&["x", "ab"])), &none));
        assert!(!c.holds(None, &none));
    }

    #[test]
    fn numbers_dates_ips_arns() {
        assert!(cond(r#"{"NumericLessThan":{"k":10}}"#).holds(Some(&vals(&["9.5"])), &none));
        assert!(cond(r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#)
            .holds(Some(&vals(&["2024-05-01T10:00:00Z"])), &none));
        assert!(cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#).holds(Some(&vals(&["10.1.2.3"])), &none));
        assert!(cond(r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}"#).holds(Some(&vals(&["127.0.0.1"])), &none));
        assert!(cond(r#"{"IpAddress":{"aws:SourceIp":"::1/128"}}"#).holds(Some(&vals(&["::1"])), &none));
        assert!(cond(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}"#)
            .holds(Some(&vals(&["arn:aws:iam::000000000000:user/alice"])), &none));
        assert!(cond(r#"{"Bool":{"aws:SecureTransport":false}}"#).holds(Some(&vals(&["false"])), &none));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
    }

    #[test]
    fn unknown_operator_is_malformed() {
        let v: Value = serde_json::from_str(r#"{"StringEqualz":{"k":"v"}}"#).unwrap();
        assert_eq!(parse_block(v.as_object().unwrap()).unwrap_err(), "Invalid Condition type : StringEqualz");
    }
}
