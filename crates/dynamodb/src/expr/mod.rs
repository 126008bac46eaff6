//! DynamoDB's expression language: one lexer and parser for condition,
//! filter, key-condition, update and projection expressions, the checks AWS
//! applies to them, and their evaluation against items.

pub mod eval;
pub mod key_shape;
mod lexer;
pub mod parser;
pub mod update;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use nimbus_core::AwsError;
use serde_json::Value;

use crate::error::{serialization, validation, Result};
use crate::types::{unexpected, AttributeValue, Layer};

/// Which expression parameter is being parsed; named in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Condition => "ConditionExpression",
            Kind::Filter => "FilterExpression",
            Kind::KeyCondition => "KeyConditionExpression",
            Kind::Update => "UpdateExpression",
            Kind::Projection => "ProjectionExpression",
        }
    }

    /// An error about this expression: "Invalid ConditionExpression: …".
    pub fn error(self, detail: impl fmt::Display) -> AwsError {
        validation(format!("Invalid {}: {detail}", self.name()))
    }
}

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElem {
    Name(String),
    Index(usize),
}

/// A document path such as `a.b[3].c`, with placeholders resolved.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// The top-level attribute the path starts at.
    pub fn head(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Name(n)) => n,
            _ => "",
        }
    }
}

/// AWS prints paths in messages as `[a, b, [3]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                PathElem::Name(n) => f.write_str(n)?,
                PathElem::Index(i) => write!(f, "[{i}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value-producing operand of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Path),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// A boolean expression: condition, filter or key condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Or(Box<Cond>, Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Compare(Cmp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    Type(Operand, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

impl Operand {
    /// The path this operand reads, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Operand::Path(p) | Operand::Size(p) => Some(p),
            Operand::Value(_) => None,
        }
    }
}

impl Cond {
    /// Every path the condition reads, as a new list.
    pub fn paths(&self) -> Vec<&Path> {
        let mut out = vec![];
        self.collect_paths(&mut out);
        out
    }

    /// Every path the condition reads, in the order written.
    pub fn collect_paths<'a>(&'a self, out: &mut Vec<&'a Path>) {
        let operands: Vec<&Operand> = match self {
            Cond::Or(a, b) | Cond::And(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
                return;
            }
            Cond::Not(a) => return a.collect_paths(out),
            Cond::Exists(p) | Cond::NotExists(p) => return out.push(p),
            Cond::Compare(_, a, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) | Cond::Type(a, b) => vec![a, b],
            Cond::Between(a, b, c) => vec![a, b, c],
            Cond::In(a, list) => std::iter::once(a).chain(list).collect(),
        };
        out.extend(operands.into_iter().filter_map(Operand::path));
    }
}

/// `ExpressionAttributeNames` and `ExpressionAttributeValues` of a request,
/// with which of them the request's expressions used.
#[derive(Debug, Default)]
pub struct Attrs {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Attrs {
    /// Read both maps from the request body (either may be absent). The
    /// older validation layer names the placeholder of a bad value.
    pub fn from_request(req: &crate::api::Req<'_>) -> Result<Self> {
        let body = req.map;
        let mut attrs = Attrs::default();
        if let Some(names) = body.get("ExpressionAttributeNames").filter(|v| !v.is_null()) {
            let Value::Object(map) = names else {
                return Err(serialization(unexpected(names, "Map")));
            };
            if map.is_empty() {
                return Err(validation("ExpressionAttributeNames must not be empty"));
            }
            for (k, v) in map {
                let v = v.as_str().ok_or_else(|| serialization(unexpected(v, "String")))?;
                if !k.starts_with('#') || k.len() < 2 || !k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                if v.is_empty() {
                    return Err(validation(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name for key {k}"
                    )));
                }
                crate::types::check_attribute_name(v)?;
                attrs.names.insert(k.clone(), v.to_owned());
            }
        }
        if let Some(values) = body.get("ExpressionAttributeValues").filter(|v| !v.is_null()) {
            let Value::Object(map) = values else {
                return Err(serialization(unexpected(values, "Map")));
            };
            if map.is_empty() {
                return Err(validation("ExpressionAttributeValues must not be empty"));
            }
            for (k, v) in map {
                if !k.starts_with(':') || k.len() < 2 || !k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let value = AttributeValue::from_json_in(v, req.layer).map_err(|mut e| {
                    if e.code == "ValidationException" && req.layer == Layer::Older {
                        e.message =
                            format!("ExpressionAttributeValues contains invalid value: {} for key {k}", e.message);
                    }
                    e
                })?;
                attrs.values.insert(k.clone(), value);
            }
        }
        Ok(attrs)
    }

    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    pub fn has_values(&self) -> bool {
        !self.values.is_empty()
    }

    fn name(&mut self, key: &str) -> Option<String> {
        let found = self.names.get(key)?.clone();
        self.used_names.insert(key.to_owned());
        Some(found)
    }

    fn value(&mut self, key: &str) -> Option<AttributeValue> {
        let found = self.values.get(key)?.clone();
        self.used_values.insert(key.to_owned());
        Some(found)
    }

    /// After every expression of the request is parsed: AWS rejects
    /// placeholders that none of them used.
    pub fn check_unused(&self) -> Result<()> {
        let unused = |all: Vec<&String>, used: &BTreeSet<String>| {
            let mut left: Vec<&str> = all.into_iter().filter(|k| !used.contains(*k)).map(String::as_str).collect();
            left.sort_unstable();
            left.join(", ")
        };
        let names = unused(self.names.keys().collect(), &self.used_names);
        if !names.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{names}}}"
            )));
        }
        let values = unused(self.values.keys().collect(), &self.used_values);
        if !values.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{values}}}"
            )));
        }
        Ok(())
    }
}

/// Whether `word` is one of DynamoDB's reserved words (case-insensitive).
pub fn is_reserved(word: &str) -> bool {
    static WORDS: &str = include_str!("reserved_words.txt");
    thread_local! {
        static LIST: Vec<&'static str> = WORDS.lines().collect();
    }
    let upper = word.to_ascii_uppercase();
    LIST.with(|list| list.binary_search(&upper.as_str()).is_ok())
}

#[cfg(test)]
mod tests;
