//! Lambda's event filtering (`FilterCriteria`): a record goes to the function
//! when any filter's pattern matches it.
//!
//! A pattern is a JSON object shaped like the record: a nested object
//! descends into the field of that name, an array lists the conditions of
//! which one must hold for the field. Conditions: a literal (string, number,
//! `null`) equals the value; `{"prefix": s}`, `{"suffix": s}`,
//! `{"equals-ignore-case": s}`; `{"numeric": [op, n, op, n]}` with
//! `= > >= < <=`; `{"exists": bool}`; `{"anything-but": literal | [literals] |
//! {"prefix": s}}`. A field holding an array matches when any element does.

use serde_json::{Map, Value};

use nimbus_core::AwsError;

/// A checked filter pattern.
#[derive(Clone, Debug)]
pub struct Pattern(Map<String, Value>);

fn invalid() -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", "Invalid filter pattern definition.")
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, AwsError> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
            return Err(invalid());
        };
        check_object(&map)?;
        Ok(Pattern(map))
    }

    pub fn matches(&self, record: &Value) -> bool {
        matches_object(&self.0, record)
    }
}

/// Does any of `patterns` match (no patterns: every record passes)?
pub fn passes(patterns: &[Pattern], record: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(record))
}

fn check_object(map: &Map<String, Value>) -> Result<(), AwsError> {
    for value in map.values() {
        match value {
            Value::Object(inner) => check_object(inner)?,
            Value::Array(conditions) if !conditions.is_empty() => {
                conditions.iter().try_for_each(check_condition)?;
            }
            _ => return Err(invalid()),
        }
    }
    Ok(())
}

fn check_condition(condition: &Value) -> Result<(), AwsError> {
    let Value::Object(rule) = condition else {
        // Literals: strings, numbers, null (and booleans, as JSON allows).
        return Ok(());
    };
    let mut entries = rule.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(invalid());
    };
    let ok = match name.as_str() {
        "prefix" | "suffix" | "equals-ignore-case" => operand.is_string(),
        "exists" => operand.is_boolean(),
        "numeric" => numeric_bounds(operand).is_some(),
        "anything-but" => match operand {
            Value::Array(items) => !items.is_empty() && items.iter().all(|i| !i.is_object() && !i.is_array()),
            Value::Object(inner) => inner.len() == 1 && inner.get("prefix").is_some_and(Value::is_string),
            _ => true,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// `[">", 0, "<=", 5]` as (operator, bound) pairs.
fn numeric_bounds(operand: &Value) -> Option<Vec<(&str, f64)>> {
    let items = operand.as_array()?;
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| {
            let op = pair[0].as_str().filter(|o| matches!(*o, "=" | ">" | ">=" | "<" | "<="))?;
            Some((op, pair[1].as_f64()?))
        })
        .collect()
}

fn matches_object(pattern: &Map<String, Value>, record: &Value) -> bool {
    pattern.iter().all(|(field, expected)| {
        let actual = record.get(field);
        match expected {
            Value::Object(inner) => actual.is_some_and(|a| matches_object(inner, a)),
            Value::Array(conditions) => conditions.iter().any(|c| matches_field(c, actual)),
            _ => false,
        }
    })
}

/// One condition against a field that may be missing or hold an array.
fn matches_field(condition: &Value, actual: Option<&Value>) -> bool {
    if let Some(exists) = condition.get("exists").and_then(Value::as_bool) {
        return actual.is_some() == exists;
    }
    match actual {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|i| matches_value(condition, i)),
        Some(value) => matches_value(condition, value),
    }
}

fn matches_value(condition: &Value, value: &Value) -> bool {
    let Value::Object(rule) = condition else {
        return literal_eq(condition, value);
    };
    let Some((name, operand)) = rule.iter().next() else { return false };
    let text = value.as_str();
    match name.as_str() {
        "prefix" => text.zip(operand.as_str()).is_some_and(|(t, p)| t.starts_with(p)),
        "suffix" => text.zip(operand.as_str()).is_some_and(|(t, s)| t.ends_with(s)),
        "equals-ignore-case" => text.zip(operand.as_str()).is_some_and(|(t, s)| t.eq_ignore_ascii_case(s)),
        "numeric" => match (value.as_f64(), numeric_bounds(operand)) {
            (Some(n), Some(bounds)) => bounds.iter().all(|(op, bound)| compare(n, op, *bound)),
            _ => false,
        },
        "anything-but" => match operand {
            Value::Array(items) => !items.iter().any(|i| literal_eq(i, value)),
            Value::Object(inner) => {
                let prefix = inner.get("prefix").and_then(Value::as_str).unwrap_or_default();
                text.is_some_and(|t| !t.starts_with(prefix))
            }
            literal => !literal_eq(literal, value),
        },
        _ => false,
    }
}

fn compare(n: f64, op: &str, bound: f64) -> bool {
    match op {
        "=" => n == bound,
        ">" => n > bound,
        ">=" => n >= bound,
        "<" => n < bound,
        _ => n <= bound,
    }
}

/// Numbers compare by value (`5` equals `5.0`), everything else exactly.
fn literal_eq(expected: &Value, actual: &Value) -> bool {
    match (expected.as_f64(), actual.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Value {
        json!({
            "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"pk": {"S": "order#17"}},
                "NewImage": {"pk": {"S": "order#17"}, "status": {"S": "paid"}, "tags": {"SS": ["a", "b"]}},
                "SizeBytes": 42
            }
        })
    }

    fn matches(pattern: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(&record())
    }

    #[test]
    fn exact_prefix_suffix_and_case() {
        assert!(matches(r#"{"eventName": ["INSERT"]}"#));
        assert!(!matches(r#"{"eventName": ["REMOVE", "MODIFY"]}"#));
        assert!(matches(r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}"#));
        assert!(!matches(r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "user#"}]}}}}"#));
        assert!(matches(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"suffix": "aid"}]}}}}"#));
        assert!(matches(r#"{"eventName": [{"equals-ignore-case": "insert"}]}"#));
        assert!(matches(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}"#));
    }

    #[test]
    fn numeric_exists_and_anything_but() {
        assert!(matches(r#"{"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 42]}]}}"#));
        assert!(!matches(r#"{"dynamodb": {"SizeBytes": [{"numeric": ["<", 10]}]}}"#));
        assert!(matches(r#"{"dynamodb": {"NewImage": {"status": [{"exists": true}]}}}"#));
        assert!(matches(r#"{"dynamodb": {"NewImage": {"missing": [{"exists": false}]}}}"#));
        assert!(!matches(r#"{"dynamodb": {"NewImage": {"missing": [{"exists": true}]}}}"#));
        assert!(matches(r#"{"eventName": [{"anything-but": ["REMOVE"]}]}"#));
        assert!(!matches(r#"{"eventName": [{"anything-but": "INSERT"}]}"#));
        assert!(!matches(r#"{"dynamodb": {"Keys": {"pk": {"S": [{"anything-but": {"prefix": "order"}}]}}}}"#));
        // Every field of a pattern must match; any filter of a list may.
        assert!(!matches(r#"{"eventName": ["INSERT"], "dynamodb": {"SizeBytes": [1]}}"#));
        let filters = [
            Pattern::parse(r#"{"eventName": ["REMOVE"]}"#).unwrap(),
            Pattern::parse(r#"{"eventName": ["INSERT"]}"#).unwrap(),
        ];
        assert!(passes(&filters, &record()));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            r#"nope"#,
            r#"[1]"#,
            r#"{"a": "b"}"#,
            r#"{"a": []}"#,
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"bogus": 1}]}"#,
        ] {
            let err = Pattern::parse(bad).unwrap_err();
            assert_eq!(err.code, "InvalidParameterValueException", "{bad}");
        }
    }
}
