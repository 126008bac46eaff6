//! The intrinsic functions, in their long form (the YAML reader has already
//! rewritten short tags): evaluation against a scope, and the references a
//! value makes (for the dependency graph and for "unknown Ref" errors).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{yaml, PseudoParams, Template, TemplateError};

/// Values of the stack's resources, as far as they exist yet.
pub trait ValueSource {
    /// `Ref` of a resource: `None` when no such resource is in the stack.
    fn resource_ref(&self, id: &str) -> Option<Result<Value, String>>;
    /// `Fn::GetAtt` of a resource: `None` when no such resource is in the stack.
    fn resource_attr(&self, id: &str, attribute: &str) -> Option<Result<Value, String>>;
}

/// A source with no resources, for sections evaluated before any exist.
pub struct NoResources;

impl ValueSource for NoResources {
    fn resource_ref(&self, _: &str) -> Option<Result<Value, String>> {
        None
    }
    fn resource_attr(&self, _: &str, _: &str) -> Option<Result<Value, String>> {
        None
    }
}

/// Everything an intrinsic can look up.
pub struct Scope<'a> {
    pub pseudo: &'a PseudoParams,
    pub params: &'a BTreeMap<String, Value>,
    pub mappings: Option<&'a Map<String, Value>>,
    pub conditions: &'a BTreeMap<String, bool>,
    pub resources: &'a dyn ValueSource,
}

/// An evaluation failure at a template path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub path: String,
    pub message: String,
}

impl EvalError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        EvalError { path: path.to_owned(), message: message.into() }
    }

    pub fn into_template_error(self, template: &Template) -> TemplateError {
        template.error(&self.path, self.message)
    }
}

type Eval<T> = Result<T, EvalError>;

/// The name of the intrinsic a value is, if it is one: a single-key mapping
/// whose key is `Ref` or `Fn::…`.
pub fn intrinsic_name(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let (key, arg) = map.iter().next()?;
    (key == "Ref" || key.starts_with("Fn::")).then_some((key.as_str(), arg))
}

impl Scope<'_> {
    /// Evaluate a value. `None` is `AWS::NoValue`: the caller drops the key or item.
    pub fn eval(&self, value: &Value, path: &str) -> Eval<Option<Value>> {
        if let Some((name, arg)) = intrinsic_name(value) {
            return self.function(name, arg, &format!("{path}/{}", yaml::escape(name)));
        }
        Ok(Some(match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(v) = self.eval(v, &format!("{path}/{}", yaml::escape(k)))? {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    if let Some(v) = self.eval(v, &format!("{path}/{i}"))? {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            other => other.clone(),
        }))
    }

    /// Evaluate a value that must not be `AWS::NoValue`.
    pub fn eval_some(&self, value: &Value, path: &str) -> Eval<Value> {
        self.eval(value, path)?.ok_or_else(|| EvalError::new(path, "AWS::NoValue is not allowed here"))
    }

    fn eval_string(&self, value: &Value, path: &str) -> Eval<String> {
        let v = self.eval_some(value, path)?;
        to_text(&v).ok_or_else(|| EvalError::new(path, format!("expected a string, found {v}")))
    }

    fn eval_list(&self, value: &Value, path: &str) -> Eval<Vec<Value>> {
        match self.eval_some(value, path)? {
            Value::Array(items) => Ok(items),
            other => Err(EvalError::new(path, format!("expected a list, found {other}"))),
        }
    }

    fn args<'v>(
        &self,
        arg: &'v Value,
        path: &str,
        name: &str,
        counts: std::ops::RangeInclusive<usize>,
    ) -> Eval<&'v [Value]> {
        match arg {
            Value::Array(items) if counts.contains(&items.len()) => Ok(items),
            _ => Err(EvalError::new(
                path,
                format!(
                    "{name} takes a list of {} arguments",
                    if counts.start() == counts.end() {
                        counts.start().to_string()
                    } else {
                        format!("{} to {}", counts.start(), counts.end())
                    }
                ),
            )),
        }
    }

    fn function(&self, name: &str, arg: &Value, path: &str) -> Eval<Option<Value>> {
        let value = match name {
            "Ref" => {
                let target = arg.as_str().ok_or_else(|| EvalError::new(path, "Ref takes a logical name"))?;
                return self.reference(target, path);
            }
            "Fn::GetAtt" => {
                let (res, attr) = match arg {
                    Value::String(s) => match s.split_once('.') {
                        Some((r, a)) => (r.to_owned(), a.to_owned()),
                        None => return Err(EvalError::new(path, "Fn::GetAtt takes [LogicalId, Attribute]")),
                    },
                    Value::Array(items) if items.len() == 2 => (
                        self.eval_string(&items[0], &format!("{path}/0"))?,
                        self.eval_string(&items[1], &format!("{path}/1"))?,
                    ),
                    _ => return Err(EvalError::new(path, "Fn::GetAtt takes [LogicalId, Attribute]")),
                };
                self.attribute(&res, &attr, path)?
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(items) if items.len() == 2 => {
                        let text = items[0]
                            .as_str()
                            .ok_or_else(|| EvalError::new(path, "Fn::Sub's first argument must be a string"))?;
                        let vars = match self.eval_some(&items[1], &format!("{path}/1"))? {
                            Value::Object(m) => m,
                            _ => return Err(EvalError::new(path, "Fn::Sub's second argument must be a mapping")),
                        };
                        (text.to_owned(), vars)
                    }
                    _ => return Err(EvalError::new(path, "Fn::Sub takes a string or [string, {variables}]")),
                };
                Value::String(self.substitute(&text, &vars, path)?)
            }
            "Fn::Join" => {
                let args = self.args(arg, path, name, 2..=2)?;
                let sep = self.eval_string(&args[0], &format!("{path}/0"))?;
                let items = self.eval_list(&args[1], &format!("{path}/1"))?;
                let parts = items
                    .iter()
                    .map(|v| to_text(v).ok_or_else(|| EvalError::new(path, format!("Fn::Join cannot join {v}"))))
                    .collect::<Eval<Vec<_>>>()?;
                Value::String(parts.join(&sep))
            }
            "Fn::Select" => {
                let args = self.args(arg, path, name, 2..=2)?;
                let index = self.eval_string(&args[0], &format!("{path}/0"))?;
                let index: usize = index
                    .parse()
                    .map_err(|_| EvalError::new(path, format!("Fn::Select index '{index}' is not a number")))?;
                let items = self.eval_list(&args[1], &format!("{path}/1"))?;
                let len = items.len();
                items.into_iter().nth(index).ok_or_else(|| {
                    EvalError::new(path, format!("Fn::Select index {index} is out of range for {len} items"))
                })?
            }
            "Fn::Split" => {
                let args = self.args(arg, path, name, 2..=2)?;
                let sep = self.eval_string(&args[0], &format!("{path}/0"))?;
                let text = self.eval_string(&args[1], &format!("{path}/1"))?;
                if sep.is_empty() {
                    return Err(EvalError::new(path, "Fn::Split needs a non-empty delimiter"));
                }
                Value::from(text.split(sep.as_str()).collect::<Vec<_>>())
            }
            "Fn::If" => {
                let args = self.args(arg, path, name, 3..=3)?;
                let cond = args[0]
                    .as_str()
                    .ok_or_else(|| EvalError::new(path, "Fn::If's first argument names a condition"))?;
                let branch = if self.condition(cond, path)? { 1 } else { 2 };
                return self.eval(&args[branch], &format!("{path}/{branch}"));
            }
            "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" => {
                Value::Bool(self.condition_expr(&single(name, arg), path)?)
            }
            "Fn::FindInMap" => {
                let args = self.args(arg, path, name, 3..=4)?;
                let map_name = self.eval_string(&args[0], &format!("{path}/0"))?;
                let top = self.eval_string(&args[1], &format!("{path}/1"))?;
                let second = self.eval_string(&args[2], &format!("{path}/2"))?;
                let found =
                    self.mappings.and_then(|m| m.get(&map_name)).and_then(|m| m.get(&top)).and_then(|m| m.get(&second));
                match found {
                    Some(v) => v.clone(),
                    None => {
                        return Err(EvalError::new(
                            path,
                            format!("Fn::FindInMap: no {map_name}/{top}/{second} in Mappings"),
                        ))
                    }
                }
            }
            "Fn::Base64" => Value::String(base64(self.eval_string(arg, path)?.as_bytes())),
            "Fn::GetAZs" => {
                let region = self.eval_string(arg, path)?;
                let region = if region.is_empty() { self.pseudo.region.clone() } else { region };
                Value::from(["a", "b", "c"].iter().map(|z| format!("{region}{z}")).collect::<Vec<_>>())
            }
            "Fn::ImportValue" => {
                return Err(EvalError::new(
                    path,
                    "Fn::ImportValue is not supported: Nimbus stacks do not export values",
                ))
            }
            other => return Err(EvalError::new(path, format!("intrinsic function {other} is not supported"))),
        };
        Ok(Some(value))
    }

    fn reference(&self, target: &str, path: &str) -> Eval<Option<Value>> {
        if target == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(v) = self.pseudo.get(target).or_else(|| self.params.get(target).cloned()) {
            return Ok(Some(v));
        }
        match self.resources.resource_ref(target) {
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(message)) => Err(EvalError::new(path, message)),
            None => Err(EvalError::new(path, format!("Ref to unknown parameter or resource '{target}'"))),
        }
    }

    fn attribute(&self, res: &str, attr: &str, path: &str) -> Eval<Value> {
        match self.resources.resource_attr(res, attr) {
            Some(Ok(v)) => Ok(v),
            Some(Err(message)) => Err(EvalError::new(path, message)),
            None => Err(EvalError::new(path, format!("Fn::GetAtt of unknown resource '{res}'"))),
        }
    }

    /// `${Name}`, `${Resource.Attribute}`, `${!Literal}`.
    fn substitute(&self, text: &str, vars: &Map<String, Value>, path: &str) -> Eval<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(EvalError::new(path, format!("Fn::Sub: unterminated ${{ in '{text}'")));
            };
            let var = &after[..end];
            if let Some(literal) = var.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let var = var.trim();
                let value = match vars.get(var) {
                    Some(v) => v.clone(),
                    None => match var.split_once('.') {
                        Some((res, attr)) if self.pseudo.get(var).is_none() => self.attribute(res, attr, path)?,
                        _ => self
                            .reference(var, path)?
                            .ok_or_else(|| EvalError::new(path, "Fn::Sub cannot substitute AWS::NoValue"))?,
                    },
                };
                let text = to_text(&value)
                    .ok_or_else(|| EvalError::new(path, format!("Fn::Sub: ${{{var}}} is not a string ({value})")))?;
                out.push_str(&text);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The value of a named condition.
    pub fn condition(&self, name: &str, path: &str) -> Eval<bool> {
        self.conditions.get(name).copied().ok_or_else(|| EvalError::new(path, format!("unknown condition '{name}'")))
    }

    /// A condition expression: `Fn::Equals/And/Or/Not`, `{Condition: Name}`.
    pub fn condition_expr(&self, value: &Value, path: &str) -> Eval<bool> {
        if let Some(Value::String(name)) = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.get("Condition")) {
            return self.condition(name, path);
        }
        let Some((name, arg)) = intrinsic_name(value) else {
            return match value {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                other => Err(EvalError::new(path, format!("expected a condition, found {other}"))),
            };
        };
        let path = format!("{path}/{}", yaml::escape(name));
        match name {
            "Fn::Equals" => {
                let args = self.args(arg, &path, name, 2..=2)?;
                let a = self.eval_some(&args[0], &format!("{path}/0"))?;
                let b = self.eval_some(&args[1], &format!("{path}/1"))?;
                Ok(match (to_text(&a), to_text(&b)) {
                    (Some(a), Some(b)) => a == b,
                    _ => a == b,
                })
            }
            "Fn::And" | "Fn::Or" => {
                let args = self.args(arg, &path, name, 2..=10)?;
                let mut values = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    values.push(self.condition_expr(a, &format!("{path}/{i}"))?);
                }
                Ok(if name == "Fn::And" { values.iter().all(|b| *b) } else { values.iter().any(|b| *b) })
            }
            "Fn::Not" => {
                let args = self.args(arg, &path, name, 1..=1)?;
                Ok(!self.condition_expr(&args[0], &format!("{path}/0"))?)
            }
            "Fn::If" => match self.function(name, arg, &path)? {
                Some(v) => self.condition_expr(&v, &path),
                None => Err(EvalError::new(&path, "a condition cannot be AWS::NoValue")),
            },
            _ => match self.function(name, arg, &path)? {
                Some(v) => self.condition_expr(&v, &path),
                None => Err(EvalError::new(&path, "a condition cannot be AWS::NoValue")),
            },
        }
    }
}

fn single(key: &str, value: &Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value.clone());
    Value::Object(map)
}

/// The text of a scalar, as CloudFormation stringifies it.
pub fn to_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Evaluate the Conditions section, each condition once, following the
/// conditions it names.
pub fn evaluate_conditions(
    template: &Template,
    pseudo: &PseudoParams,
    params: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, bool>, TemplateError> {
    let declared = template.section("Conditions").cloned().unwrap_or_default();
    let mut done = BTreeMap::new();
    for name in declared.keys() {
        condition_in_order(name, &declared, template, pseudo, params, &mut done, &mut Vec::new())?;
    }
    Ok(done)
}

fn condition_in_order(
    name: &str,
    declared: &Map<String, Value>,
    template: &Template,
    pseudo: &PseudoParams,
    params: &BTreeMap<String, Value>,
    done: &mut BTreeMap<String, bool>,
    visiting: &mut Vec<String>,
) -> Result<(), TemplateError> {
    if done.contains_key(name) {
        return Ok(());
    }
    let path = format!("/Conditions/{}", yaml::escape(name));
    if visiting.iter().any(|v| v == name) {
        return Err(template.error(&path, format!("circular condition: {} -> {name}", visiting.join(" -> "))));
    }
    let Some(expr) = declared.get(name) else {
        return Err(template.error(&path, format!("unknown condition '{name}'")));
    };
    visiting.push(name.to_owned());
    let mut named = BTreeSet::new();
    conditions_named(expr, &mut named);
    for dep in named {
        if !declared.contains_key(&dep) {
            return Err(template.error(&path, format!("condition {name} names unknown condition '{dep}'")));
        }
        condition_in_order(&dep, declared, template, pseudo, params, done, visiting)?;
    }
    visiting.pop();
    let scope =
        Scope { pseudo, params, mappings: template.section("Mappings"), conditions: done, resources: &NoResources };
    let value = scope.condition_expr(expr, &path).map_err(|e| e.into_template_error(template))?;
    done.insert(name.to_owned(), value);
    Ok(())
}

/// Condition names used by `{Condition: X}` and `Fn::If [X, …]` inside a value.
pub fn conditions_named(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(c)) = map.get("Condition") {
                    out.insert(c.clone());
                }
                if let Some(Value::Array(args)) = map.get("Fn::If") {
                    if let Some(Value::String(c)) = args.first() {
                        out.insert(c.clone());
                    }
                }
            }
            map.values().for_each(|v| conditions_named(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| conditions_named(v, out)),
        _ => {}
    }
}

/// A name a value refers to: through `Ref`, `Fn::GetAtt` or a `Fn::Sub` variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub target: String,
    /// The attribute, for `Fn::GetAtt` and `${Res.Attr}`.
    pub attribute: Option<String>,
    pub path: String,
}

/// Every reference inside a value (pseudo parameters included; the caller sorts them out).
pub fn references(value: &Value, path: &str, out: &mut Vec<Reference>) {
    if let Some((name, arg)) = intrinsic_name(value) {
        let here = format!("{path}/{}", yaml::escape(name));
        match (name, arg) {
            ("Ref", Value::String(target)) => {
                out.push(Reference { target: target.clone(), attribute: None, path: here });
                return;
            }
            ("Fn::GetAtt", Value::String(s)) => {
                if let Some((res, attr)) = s.split_once('.') {
                    out.push(Reference { target: res.to_owned(), attribute: Some(attr.to_owned()), path: here });
                }
                return;
            }
            ("Fn::GetAtt", Value::Array(items)) => {
                if let Some(Value::String(res)) = items.first() {
                    let attr = items.get(1).and_then(Value::as_str).map(str::to_owned);
                    out.push(Reference { target: res.clone(), attribute: attr, path: here.clone() });
                }
                if let Some(attr) = items.get(1) {
                    references(attr, &format!("{here}/1"), out);
                }
                return;
            }
            ("Fn::Sub", _) => {
                let (text, vars) = match arg {
                    Value::String(s) => (s.as_str(), None),
                    Value::Array(items) => (items.first().and_then(Value::as_str).unwrap_or(""), items.get(1)),
                    _ => ("", None),
                };
                if let Some(vars) = vars {
                    references(vars, &format!("{here}/1"), out);
                }
                let defined = vars.and_then(Value::as_object);
                for var in sub_variables(text) {
                    if defined.is_some_and(|d| d.contains_key(&var)) {
                        continue;
                    }
                    let reference = match var.split_once('.') {
                        Some((res, attr)) if !var.starts_with("AWS::") => {
                            Reference { target: res.to_owned(), attribute: Some(attr.to_owned()), path: here.clone() }
                        }
                        _ => Reference { target: var, attribute: None, path: here.clone() },
                    };
                    out.push(reference);
                }
                return;
            }
            _ => {}
        }
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                references(v, &format!("{path}/{}", yaml::escape(k)), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                references(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The variables of a `Fn::Sub` string, literals (`${!x}`) excluded.
pub fn sub_variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        if !var.starts_with('!') {
            out.push(var.trim().to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fake;
    impl ValueSource for Fake {
        fn resource_ref(&self, id: &str) -> Option<Result<Value, String>> {
            (id == "Table").then(|| Ok(json!("my-table")))
        }
        fn resource_attr(&self, id: &str, attr: &str) -> Option<Result<Value, String>> {
            (id == "Table").then(|| match attr {
                "Arn" => Ok(json!("arn:aws:dynamodb:us-east-1:000000000000:table/my-table")),
                _ => Err(format!("Table has no attribute {attr}")),
            })
        }
    }

    fn eval_yaml(text: &str) -> Result<Option<Value>, EvalError> {
        let (v, _) = yaml::parse(text).unwrap();
        let pseudo = PseudoParams::new("us-east-1", "000000000000", "stack", "uuid");
        let params: BTreeMap<String, Value> =
            [("Env".to_owned(), json!("prod")), ("Ids".to_owned(), json!(["a", "b"]))].into();
        let conditions: BTreeMap<String, bool> = [("IsProd".to_owned(), true)].into();
        let (mappings, _) = yaml::parse("M:\n  prod:\n    Size: 10\n").unwrap();
        let scope = Scope {
            pseudo: &pseudo,
            params: &params,
            mappings: mappings.as_object(),
            conditions: &conditions,
            resources: &Fake,
        };
        scope.eval(&v["v"], "/v")
    }

    fn eval_ok(text: &str) -> Value {
        eval_yaml(text).unwrap().unwrap()
    }

    #[test]
    fn refs_and_pseudo_parameters() {
        assert_eq!(eval_ok("v: !Ref Env"), json!("prod"));
        assert_eq!(eval_ok("v: !Ref Table"), json!("my-table"));
        assert_eq!(eval_ok("v: !Ref AWS::Region"), json!("us-east-1"));
        assert_eq!(eval_ok("v: {Ref: AWS::AccountId}"), json!("000000000000"));
        assert_eq!(eval_ok("v: [a, !Ref AWS::NoValue, b]"), json!(["a", "b"]));
        assert_eq!(eval_ok("v: {a: !Ref AWS::NoValue, b: 1}"), json!({"b": 1}));
        let err = eval_yaml("v: !Ref Nope").unwrap_err();
        assert_eq!(err.path, "/v/Ref");
    }

    #[test]
    fn get_att_both_forms() {
        let arn = json!("arn:aws:dynamodb:us-east-1:000000000000:table/my-table");
        assert_eq!(eval_ok("v: !GetAtt Table.Arn"), arn);
        assert_eq!(eval_ok("v: {'Fn::GetAtt': [Table, Arn]}"), arn);
        assert_eq!(eval_ok("v: {'Fn::GetAtt': Table.Arn}"), arn);
        assert!(eval_yaml("v: !GetAtt Table.Nope").unwrap_err().message.contains("no attribute"));
    }

    #[test]
    fn sub_both_forms() {
        assert_eq!(
            eval_ok("v: !Sub '${AWS::StackName}-${Env}-${Table.Arn}-${!Literal}'"),
            json!("stack-prod-arn:aws:dynamodb:us-east-1:000000000000:table/my-table-${Literal}")
        );
        assert_eq!(eval_ok("v: !Sub ['${X}/${AWS::Region}', {X: !Ref Table}]"), json!("my-table/us-east-1"));
        assert_eq!(eval_ok("v: {'Fn::Sub': 'x-${Env}'}"), json!("x-prod"));
    }

    #[test]
    fn join_select_split_base64_findinmap_getazs() {
        assert_eq!(eval_ok("v: !Join ['-', [a, !Ref Env, 3]]"), json!("a-prod-3"));
        assert_eq!(eval_ok("v: !Join [',', !Ref Ids]"), json!("a,b"));
        assert_eq!(eval_ok("v: !Select [1, !Split [',', 'x,y,z']]"), json!("y"));
        assert_eq!(eval_ok("v: {'Fn::Select': ['0', [p, q]]}"), json!("p"));
        assert!(eval_yaml("v: !Select [5, [a]]").unwrap_err().message.contains("out of range"));
        assert_eq!(eval_ok("v: !Base64 'hello'"), json!("aGVsbG8="));
        assert_eq!(eval_ok("v: !FindInMap [M, !Ref Env, Size]"), json!(10));
        assert_eq!(eval_ok("v: !Select [0, !GetAZs '']"), json!("us-east-1a"));
        assert!(eval_yaml("v: !ImportValue X").unwrap_err().message.contains("not supported"));
    }

    #[test]
    fn conditions_and_if() {
        assert_eq!(eval_ok("v: !If [IsProd, big, small]"), json!("big"));
        assert_eq!(eval_yaml("v: !If [IsProd, !Ref AWS::NoValue, 1]").unwrap(), None);
        assert_eq!(eval_ok("v: !Equals [!Ref Env, prod]"), json!(true));
        assert_eq!(eval_ok("v: !And [!Equals [a, a], !Condition IsProd]"), json!(true));
        assert_eq!(eval_ok("v: !Or [!Equals [a, b], !Not [!Condition IsProd]]"), json!(false));
        assert_eq!(eval_ok("v: {'Fn::Not': [{'Fn::Equals': [1, '1']}]}"), json!(false));
    }

    #[test]
    fn condition_section_in_dependency_order_with_cycles_named() {
        let t = Template::parse(
            "Parameters:\n  Env:\n    Type: String\n    Default: prod\nConditions:\n  Both: !And [!Condition IsProd, !Condition Other]\n  IsProd: !Equals [!Ref Env, prod]\n  Other: !Not [!Equals [!Ref AWS::Region, eu-west-1]]\nResources:\n  A:\n    Type: X\n",
        )
        .unwrap();
        let pseudo = PseudoParams::new("us-east-1", "0", "s", "u");
        let params = super::super::resolve_parameters(&t, &BTreeMap::new()).unwrap();
        let c = evaluate_conditions(&t, &pseudo, &params).unwrap();
        assert!(c["Both"]);
        let t = Template::parse(
            "Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\nResources:\n  R:\n    Type: X\n",
        )
        .unwrap();
        let err = evaluate_conditions(&t, &pseudo, &BTreeMap::new()).unwrap_err();
        assert!(err.message.contains("circular condition"), "{err}");
        assert!(err.line.is_some());
    }

    #[test]
    fn references_are_found_in_every_form() {
        let (v, _) = yaml::parse("a: !Ref T\nb: !GetAtt F.Arn\nc: !Sub '${G.Arn}/${H}/${AWS::Region}/${!No}/${V}'\nd: !Sub ['${V}', {V: !Ref I}]\n").unwrap();
        let mut refs = Vec::new();
        references(&v, "", &mut refs);
        let targets: Vec<&str> = refs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["T", "F", "G", "H", "AWS::Region", "V", "I"]);
        assert_eq!(refs[0].path, "/a/Ref");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}
