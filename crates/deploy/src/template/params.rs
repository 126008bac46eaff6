//! Parameters: declared types, defaults, constraints, overrides; and the
//! pseudo parameters every template can `Ref`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{yaml, Template, TemplateError};

/// Where and as what a stack is deployed: the values of the pseudo parameters.
#[derive(Clone, Debug)]
pub struct PseudoParams {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    pub stack_id: String,
}

impl PseudoParams {
    pub fn new(region: &str, account_id: &str, stack_name: &str, stack_uuid: &str) -> Self {
        PseudoParams {
            region: region.to_owned(),
            account_id: account_id.to_owned(),
            stack_name: stack_name.to_owned(),
            stack_id: format!("arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid}"),
        }
    }

    /// `Ref` of a pseudo parameter. `AWS::NoValue` is handled by the evaluator.
    pub fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "AWS::Region" => Value::from(self.region.as_str()),
            "AWS::AccountId" => Value::from(self.account_id.as_str()),
            "AWS::StackName" => Value::from(self.stack_name.as_str()),
            "AWS::StackId" => Value::from(self.stack_id.as_str()),
            "AWS::Partition" => Value::from("aws"),
            "AWS::URLSuffix" => Value::from("amazonaws.com"),
            "AWS::NotificationARNs" => Value::Array(Vec::new()),
            _ => return None,
        })
    }
}

/// Resolve every declared parameter: an override, else its default; then
/// check its type and constraints. `List` types resolve to arrays.
pub fn resolve_parameters(
    template: &Template,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let declared = template.section("Parameters").cloned().unwrap_or_default();
    for name in overrides.keys() {
        if !declared.contains_key(name) {
            return Err(TemplateError::new(format!("parameter override '{name}' is not declared in the template")));
        }
    }
    let mut values = BTreeMap::new();
    for (name, decl) in &declared {
        let path = format!("/Parameters/{}", yaml::escape(name));
        let err = |message: String| template.error(&path, message);
        let ty =
            decl.get("Type").and_then(Value::as_str).ok_or_else(|| err(format!("parameter {name} has no Type")))?;
        let raw = match (overrides.get(name), decl.get("Default")) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => scalar_text(default),
            (None, None) => return Err(err(format!("parameter {name} has no value: give a Default or an override"))),
        };
        let value = match ty {
            "String" => {
                check_string(name, &raw, decl).map_err(err)?;
                Value::String(raw)
            }
            "Number" => {
                check_number(name, &raw, decl).map_err(err)?;
                Value::String(raw)
            }
            "CommaDelimitedList" | "List<Number>" => {
                let items: Vec<String> =
                    if raw.is_empty() { Vec::new() } else { raw.split(',').map(|s| s.trim().to_owned()).collect() };
                for item in &items {
                    if ty == "List<Number>" {
                        check_number(name, item, decl).map_err(err)?;
                    } else {
                        check_allowed(name, item, decl).map_err(err)?;
                    }
                }
                Value::from(items)
            }
            t if t.starts_with("AWS::SSM::") => {
                return Err(err(format!(
                    "parameter {name}: type {t} needs Systems Manager Parameter Store, which Nimbus does not provide"
                )))
            }
            t => return Err(err(format!("parameter {name}: unsupported parameter type {t}"))),
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// The text of a YAML default: `Default: 128` is the string "128".
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn check_allowed(name: &str, raw: &str, decl: &Value) -> Result<(), String> {
    if let Some(Value::Array(allowed)) = decl.get("AllowedValues") {
        if !allowed.iter().any(|a| scalar_text(a) == raw) {
            let list: Vec<String> = allowed.iter().map(scalar_text).collect();
            return Err(format!("parameter {name}: '{raw}' is not one of the AllowedValues [{}]", list.join(", ")));
        }
    }
    Ok(())
}

fn number_of(decl: &Value, key: &str) -> Option<f64> {
    match decl.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn check_string(name: &str, raw: &str, decl: &Value) -> Result<(), String> {
    check_allowed(name, raw, decl)?;
    let len = raw.chars().count() as f64;
    if let Some(min) = number_of(decl, "MinLength") {
        if len < min {
            return Err(format!("parameter {name}: '{raw}' is shorter than MinLength {min}"));
        }
    }
    if let Some(max) = number_of(decl, "MaxLength") {
        if len > max {
            return Err(format!("parameter {name}: '{raw}' is longer than MaxLength {max}"));
        }
    }
    if let Some(pattern) = decl.get("AllowedPattern").and_then(Value::as_str) {
        // CloudFormation matches the whole value.
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("parameter {name}: AllowedPattern is not a valid pattern: {e}"))?;
        if !re.is_match(raw) {
            let description = decl.get("ConstraintDescription").and_then(Value::as_str).unwrap_or("");
            return Err(format!("parameter {name}: '{raw}' does not match AllowedPattern {pattern}. {description}")
                .trim_end()
                .to_owned());
        }
    }
    Ok(())
}

fn check_number(name: &str, raw: &str, decl: &Value) -> Result<(), String> {
    let n: f64 = raw.trim().parse().map_err(|_| format!("parameter {name}: '{raw}' is not a number"))?;
    check_allowed(name, raw, decl)?;
    if let Some(min) = number_of(decl, "MinValue") {
        if n < min {
            return Err(format!("parameter {name}: {raw} is less than MinValue {min}"));
        }
    }
    if let Some(max) = number_of(decl, "MaxValue") {
        if n > max {
            return Err(format!("parameter {name}: {raw} is greater than MaxValue {max}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(params: &str) -> Template {
        Template::parse(&format!("Parameters:\n{params}Resources:\n  A:\n    Type: X\n")).unwrap()
    }

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_overrides_and_lists() {
        let t = template(
            "  Env:\n    Type: String\n    Default: dev\n    AllowedValues: [dev, prod]\n  Mem:\n    Type: Number\n    Default: 128\n  Names:\n    Type: CommaDelimitedList\n    Default: a, b\n",
        );
        let v = resolve_parameters(&t, &BTreeMap::new()).unwrap();
        assert_eq!(v["Env"], json!("dev"));
        assert_eq!(v["Mem"], json!("128"));
        assert_eq!(v["Names"], json!(["a", "b"]));
        let v = resolve_parameters(&t, &overrides(&[("Env", "prod")])).unwrap();
        assert_eq!(v["Env"], json!("prod"));
        let err = resolve_parameters(&t, &overrides(&[("Env", "qa")])).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("AllowedValues"), "{err}");
        let err = resolve_parameters(&t, &overrides(&[("Mem", "lots")])).unwrap_err();
        assert!(err.message.contains("not a number"));
        assert!(resolve_parameters(&t, &overrides(&[("Nope", "1")])).is_err());
    }

    #[test]
    fn constraints() {
        let t = template(
            "  Name:\n    Type: String\n    Default: abc\n    AllowedPattern: '[a-z]+'\n    MinLength: 2\n    MaxLength: 4\n  N:\n    Type: Number\n    Default: 5\n    MinValue: 1\n    MaxValue: 10\n",
        );
        assert!(resolve_parameters(&t, &BTreeMap::new()).is_ok());
        for (k, v, needle) in [
            ("Name", "ab1", "AllowedPattern"),
            ("Name", "a", "MinLength"),
            ("Name", "abcde", "MaxLength"),
            ("N", "0", "MinValue"),
            ("N", "11", "MaxValue"),
        ] {
            let err = resolve_parameters(&t, &overrides(&[(k, v)])).unwrap_err();
            assert!(err.message.contains(needle), "{err}");
        }
    }

    #[test]
    fn rejected_types_and_missing_values() {
        let t = template("  P:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /x\n");
        assert!(resolve_parameters(&t, &BTreeMap::new()).unwrap_err().message.contains("Systems Manager"));
        let t = template("  P:\n    Type: String\n");
        assert!(resolve_parameters(&t, &BTreeMap::new()).unwrap_err().message.contains("has no value"));
    }

    #[test]
    fn pseudo_parameters() {
        let p = PseudoParams::new("us-east-1", "000000000000", "s", "u");
        assert_eq!(p.get("AWS::StackId").unwrap(), json!("arn:aws:cloudformation:us-east-1:000000000000:stack/s/u"));
        assert_eq!(p.get("AWS::URLSuffix").unwrap(), json!("amazonaws.com"));
        assert_eq!(p.get("AWS::Partition").unwrap(), json!("aws"));
        assert!(p.get("AWS::Nope").is_none());
    }
}
