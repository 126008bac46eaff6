//! API Gateway's patch operations (`op`, `path`, `value`) on a resource's
//! JSON form: paths are `/member` or `/map/key`, with `~1` escaping `/`.

use serde_json::{Map, Value};

use nimbus_core::AwsError;

fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "BadRequestException", message)
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// A member given as a string in a patch, converted to the type it has now.
fn typed(current: Option<&Value>, value: &str) -> Value {
    match current {
        Some(Value::Bool(_)) => Value::Bool(value.eq_ignore_ascii_case("true")),
        Some(Value::Number(_)) => value
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| value.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(value.to_owned())),
        _ => Value::String(value.to_owned()),
    }
}

/// Apply `operations` (the request's `patchOperations`) to `target`, where
/// `allowed` lists the top-level members that may change.
pub fn apply(target: &mut Map<String, Value>, operations: &[Value], allowed: &[&str]) -> Result<(), AwsError> {
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation.get("path").and_then(Value::as_str).unwrap_or("");
        let value = operation.get("value").and_then(Value::as_str);
        let parts: Vec<String> = path.trim_start_matches('/').splitn(2, '/').map(unescape).collect();
        let member = parts.first().cloned().unwrap_or_default();
        if !allowed.contains(&member.as_str()) {
            return Err(bad_request(format!(
                "Invalid patch path '{path}' specified for op '{op}'. Must be one of: {allowed:?}"
            )));
        }
        match (op, parts.get(1)) {
            ("replace" | "add", None) => {
                let value = value.ok_or_else(|| bad_request(format!("Missing value for patch path '{path}'")))?;
                let typed_value = typed(target.get(&member), value);
                target.insert(member, typed_value);
            }
            ("remove", None) => {
                target.remove(&member);
            }
            ("replace" | "add", Some(key)) => {
                let value = value.ok_or_else(|| bad_request(format!("Missing value for patch path '{path}'")))?;
                let entry = target.entry(member.clone()).or_insert_with(|| Value::Object(Map::new()));
                match entry {
                    Value::Object(map) => {
                        let typed_value = typed(map.get(key), value);
                        map.insert(key.clone(), typed_value);
                    }
                    Value::Array(list) => list.push(Value::String(key.clone())),
                    _ => return Err(bad_request(format!("Invalid patch path '{path}'"))),
                }
            }
            ("remove", Some(key)) => match target.get_mut(&member) {
                Some(Value::Object(map)) => {
                    map.remove(key);
                }
                Some(Value::Array(list)) => list.retain(|v| v.as_str() != Some(key.as_str())),
                _ => {}
            },
            _ => {
                return Err(bad_request(format!(
                    "Invalid patch operation specified. Must be 'add'|'remove'|'replace'|'copy'; got '{op}'"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_members_and_map_entries_keeping_types() {
        let mut target = json!({"description": "a", "tracingEnabled": false, "variables": {"x": "1"}});
        let ops = vec![
            json!({"op": "replace", "path": "/description", "value": "b"}),
            json!({"op": "replace", "path": "/tracingEnabled", "value": "true"}),
            json!({"op": "replace", "path": "/variables/y", "value": "2"}),
            json!({"op": "remove", "path": "/variables/x"}),
        ];
        apply(target.as_object_mut().unwrap(), &ops, &["description", "tracingEnabled", "variables"]).unwrap();
        assert_eq!(target, json!({"description": "b", "tracingEnabled": true, "variables": {"y": "2"}}));
        let bad = vec![json!({"op": "replace", "path": "/id", "value": "x"})];
        assert!(apply(target.as_object_mut().unwrap(), &bad, &["description"]).is_err());
    }
}
