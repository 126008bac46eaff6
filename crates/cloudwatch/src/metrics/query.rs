//! The awsQuery protocol for CloudWatch, for SDKs that predate its JSON
//! protocol: `Action=PutMetricData&MetricData.member.1.MetricName=…`
//! form bodies in, `<PutMetricDataResponse>` XML out.
//!
//! Requests are turned into the JSON shape the handlers take (lists from
//! `.member.N`, maps from `.entry.N.key/value`; scalars stay strings, which
//! the handlers' readers accept), and results back into query XML, with
//! timestamps as ISO 8601 and maps as `<entry><key/><value/></entry>`.

use std::fmt::Write;

use serde_json::{Map, Value};

use crate::wire::Object;

/// Decode an `application/x-www-form-urlencoded` body.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

fn decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => {
                let hex = std::str::from_utf8(&text[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters as the nested JSON object the handlers read.
pub fn to_object(params: &[(String, String)]) -> Object {
    let mut root = Map::new();
    for (key, value) in params {
        if key == "Action" || key == "Version" {
            continue;
        }
        let parts: Vec<&str> = key.split('.').collect();
        insert(&mut root, &parts, value);
    }
    let mut value = Value::Object(root);
    normalize(&mut value);
    coerce(&mut value, "");
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn insert(map: &mut Map<String, Value>, parts: &[&str], value: &str) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), Value::from(value));
        }
        [first, rest @ ..] => {
            let child = map.entry((*first).to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

/// `{member: {1: a, 2: b}}` → `[a, b]`; `{entry: {1: {key, value}}}` → map.
fn normalize(value: &mut Value) {
    let Value::Object(map) = value else { return };
    for child in map.values_mut() {
        normalize(child);
    }
    if map.len() == 1 {
        if let Some(Value::Object(items)) = map.get("member") {
            let mut indexed: Vec<(usize, Value)> =
                items.iter().filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, v.clone()))).collect();
            indexed.sort_by_key(|(i, _)| *i);
            *value = Value::Array(indexed.into_iter().map(|(_, v)| v).collect());
            return;
        }
        if let Some(Value::Object(entries)) = map.get("entry") {
            let mut out = Map::new();
            for entry in entries.values() {
                if let (Some(Value::String(k)), Some(v)) = (entry.get("key"), entry.get("value")) {
                    out.insert(k.clone(), v.clone());
                }
            }
            *value = Value::Object(out);
        }
    }
}

/// Request members that are numbers, booleans and timestamps: query
/// parameters are all text, the handlers read typed JSON.
const NUMBER_MEMBERS: [&str; 14] = [
    "Value",
    "Values",
    "Counts",
    "SampleCount",
    "Sum",
    "Minimum",
    "Maximum",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "StorageResolution",
    "MaxDatapoints",
    "MaxRecords",
];
const BOOL_MEMBERS: [&str; 2] = ["ActionsEnabled", "ReturnData"];
const TIME_MEMBERS: [&str; 5] = ["Timestamp", "StartTime", "EndTime", "StartDate", "EndDate"];

fn coerce(value: &mut Value, name: &str) {
    match value {
        Value::Object(map) => map.iter_mut().for_each(|(k, v)| coerce(v, k)),
        Value::Array(items) => items.iter_mut().for_each(|v| coerce(v, name)),
        Value::String(text) => {
            let typed = if NUMBER_MEMBERS.contains(&name) {
                text.parse::<f64>().ok().and_then(|n| {
                    if n.fract() == 0.0 && n.abs() < 9e15 {
                        Some(Value::from(n as i64))
                    } else {
                        serde_json::Number::from_f64(n).map(Value::Number)
                    }
                })
            } else if BOOL_MEMBERS.contains(&name) {
                match text.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => None,
                }
            } else if TIME_MEMBERS.contains(&name) {
                parse_iso8601(text)
                    .map(|ms| ms as f64 / 1000.0)
                    .or_else(|| text.parse::<f64>().ok())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            } else {
                None
            };
            if let Some(typed) = typed {
                *value = typed;
            }
        }
        _ => {}
    }
}

/// Members whose numbers are timestamps (epoch seconds in JSON, ISO 8601 in XML).
const TIMESTAMPS: [&str; 7] = [
    "LastModified",
    "Timestamp",
    "Timestamps",
    "StateUpdatedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "LastUpdated",
];
/// Members that are maps (rendered as entries).
const MAPS: [&str; 1] = ["ExtendedStatistics"];

/// `<{op}Response><{op}Result>…</{op}Result><ResponseMetadata>…` for a result.
pub fn to_xml(operation: &str, namespace: &str, result: &Value, request_id: &str) -> String {
    let mut out = format!("<{operation}Response xmlns=\"{namespace}\">\n");
    if let Value::Object(map) = result {
        if !map.is_empty() {
            let _ = writeln!(out, "  <{operation}Result>");
            for (key, value) in map {
                element(&mut out, key, value, 2, false);
            }
            let _ = writeln!(out, "  </{operation}Result>");
        }
    }
    let _ = write!(
        out,
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{operation}Response>\n",
        nimbus_core::error::xml_escape(request_id)
    );
    out
}

fn element(out: &mut String, name: &str, value: &Value, depth: usize, timestamp: bool) {
    let pad = "  ".repeat(depth);
    let timestamp = timestamp || TIMESTAMPS.contains(&name);
    match value {
        Value::Null => {}
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for item in items {
                element(out, "member", item, depth + 1, timestamp);
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
        Value::Object(map) if MAPS.contains(&name) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for (k, v) in map {
                let _ = writeln!(out, "{pad}  <entry>");
                element(out, "key", &Value::from(k.clone()), depth + 2, false);
                element(out, "value", v, depth + 2, false);
                let _ = writeln!(out, "{pad}  </entry>");
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
        Value::Object(map) => {
            let _ = writeln!(out, "{pad}<{name}>");
            for (k, v) in map {
                element(out, k, v, depth + 1, false);
            }
            let _ = writeln!(out, "{pad}</{name}>");
        }
        Value::Number(n) if timestamp => {
            let ms = (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            let _ = writeln!(out, "{pad}<{name}>{}</{name}>", nimbus_core::time::format_iso8601_millis(ms));
        }
        Value::String(s) => {
            let _ = writeln!(out, "{pad}<{name}>{}</{name}>", nimbus_core::error::xml_escape(s));
        }
        other => {
            let _ = writeln!(out, "{pad}<{name}>{other}</{name}>");
        }
    }
}

/// Parse an ISO 8601 timestamp (`2026-11-27T05:00:00Z`, fractional
/// seconds and `±hh:mm` offsets allowed) into epoch milliseconds.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?)
        }
    };
    let days = nimbus_core::time::days_from_civil(year, month as u32, day as u32);
    Some(((days * 86400 + hour * 3600 + minute * 60 + second) - offset_minutes * 60) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parameters_become_nested_json() {
        let body = b"Action=PutMetricData&Version=2010-08-01&Namespace=My%2FApp&MetricData.member.1.MetricName=Hits\
&MetricData.member.1.Value=7&MetricData.member.1.Dimensions.member.1.Name=Site\
&MetricData.member.1.Dimensions.member.1.Value=home+page&MetricData.member.2.MetricName=Other\
&MetricData.member.2.Values.member.2=3&MetricData.member.2.Values.member.1=1";
        let object = to_object(&parse_form(body));
        assert_eq!(
            Value::Object(object),
            serde_json::json!({
                "Namespace": "My/App",
                "MetricData": [
                    {"MetricName": "Hits", "Value": 7, "Dimensions": [{"Name": "Site", "Value": "home page"}]},
                    {"MetricName": "Other", "Values": [1, 3]},
                ]
            })
        );
    }

    #[test]
    fn results_become_query_xml() {
        let result = serde_json::json!({"Label": "M", "Datapoints": [{"Timestamp": 1_440_938_160, "Sum": 2.0,
            "ExtendedStatistics": {"p99": 1.5}}]});
        let xml = to_xml("GetMetricStatistics", "http://monitoring.amazonaws.com/doc/2010-08-01/", &result, "rid");
        assert!(
            xml.starts_with("<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">")
        );
        assert!(xml.contains("<Timestamp>2015-08-30T12:36:00.000Z</Timestamp>"));
        assert!(xml.contains("<entry>\n"));
        assert!(xml.contains("<key>p99</key>"));
        assert!(xml.contains("<RequestId>rid</RequestId>"));
        let empty = to_xml("PutMetricData", "ns", &serde_json::json!({}), "r");
        assert!(!empty.contains("PutMetricDataResult"));
    }

    #[test]
    fn iso_timestamps() {
        assert_eq!(parse_iso8601("2015-08-30T12:36:00Z"), Some(1_440_938_160_000));
        assert_eq!(parse_iso8601("2015-08-30T12:36:00.5Z"), Some(1_440_938_160_500));
        assert_eq!(parse_iso8601("2015-08-30T14:36:00+02:00"), Some(1_440_938_160_000));
        assert_eq!(parse_iso8601("2015-08-30"), None);
        assert_eq!(parse_iso8601("2015-08-30T12:36:00+a€"), None);
    }
}
