//! YAML (and JSON, which YAML 1.2 contains) into `serde_json::Value`, with the
//! line of every node kept beside it and CloudFormation's short-form tags
//! (`!Ref`, `!GetAtt`, `!Sub`…) rewritten to their long form.
//!
//! yaml-rust2 is used at the event level: its events carry the source marker
//! and the tag of every scalar, sequence and mapping, which the serde-based
//! YAML crates throw away.

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{Positions, TemplateError};

/// Parse one YAML document into a value and the positions of its nodes.
pub fn parse(text: &str) -> Result<(Value, Positions), TemplateError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| {
        let mark = e.marker();
        TemplateError::at(mark.line().max(1), format!("invalid YAML: {}", e.info()))
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    let root = builder.root.unwrap_or(Value::Null);
    Ok((root, builder.positions))
}

/// A container being filled.
enum Frame {
    Seq { items: Vec<Value>, tag: Option<Tag>, line: usize, anchor: usize, path: String },
    Map { map: Map<String, Value>, key: Option<String>, tag: Option<Tag>, line: usize, anchor: usize, path: String },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    positions: Positions,
    anchors: HashMap<usize, Value>,
    error: Option<TemplateError>,
}

impl Builder {
    /// The path of the next child of the innermost container.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { items, path, .. }) => format!("{path}/{}", items.len()),
            Some(Frame::Map { key: Some(key), path, .. }) => format!("{path}/{}", escape(key)),
            // A key is being read: its own path does not matter.
            Some(Frame::Map { path, .. }) => path.clone(),
        }
    }

    fn fail(&mut self, line: usize, message: String) {
        if self.error.is_none() {
            self.error = Some(TemplateError::at(line, message));
        }
    }

    /// Hand a finished node to its parent.
    fn push(&mut self, value: Value, line: usize) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    if map.contains_key(&k) {
                        self.fail(line, format!("duplicate key '{k}'"));
                    }
                    // A node's line is its key's line: where a reader looks for it.
                    if let Some(Frame::Map { key, path, .. }) = self.stack.last_mut() {
                        let child = format!("{path}/{}", escape(&k));
                        self.positions.insert(child, line);
                        *key = Some(k);
                    }
                }
            },
        }
    }

    fn is_reading_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line().max(1);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let reading_key = self.is_reading_key();
                let path = self.child_path();
                let value = scalar(text, style);
                let value = match tag {
                    Some(tag) if !reading_key => match intrinsic(&tag, value, line) {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail(e.line.unwrap_or(line), e.message);
                            Value::Null
                        }
                    },
                    _ => value,
                };
                if !reading_key {
                    self.positions.entry(path).or_insert(line);
                }
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.push(value, line);
            }
            Event::SequenceStart(anchor, tag) => {
                let path = self.child_path();
                self.stack.push(Frame::Seq { items: Vec::new(), tag, line, anchor, path });
            }
            Event::MappingStart(anchor, tag) => {
                let path = self.child_path();
                self.stack.push(Frame::Map { map: Map::new(), key: None, tag, line, anchor, path });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return };
                let (value, tag, line, anchor, path) = match frame {
                    Frame::Seq { items, tag, line, anchor, path } => (Value::Array(items), tag, line, anchor, path),
                    Frame::Map { map, tag, line, anchor, path, .. } => (Value::Object(map), tag, line, anchor, path),
                };
                let value = match tag {
                    Some(tag) => match intrinsic(&tag, value, line) {
                        Ok(v) => v,
                        Err(e) => {
                            self.fail(e.line.unwrap_or(line), e.message);
                            Value::Null
                        }
                    },
                    None => value,
                };
                self.positions.entry(path).or_insert(line);
                if anchor > 0 {
                    self.anchors.insert(anchor, value.clone());
                }
                self.push(value, line);
            }
            Event::Alias(anchor) => {
                let value = self.anchors.get(&anchor).cloned().unwrap_or(Value::Null);
                let path = self.child_path();
                self.positions.entry(path).or_insert(line);
                self.push(value, line);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

/// JSON-pointer-style escaping of a key inside a path.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A plain scalar is typed by YAML 1.2's core schema; a quoted one is a string.
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    // A number only when it reads back the same: `012345678901` (an account
    // id) and `1.10` (a version) stay text, as CloudFormation keeps them.
    if looks_numeric(&text) {
        if let Ok(i) = text.parse::<i64>() {
            if i.to_string() == text {
                return Value::from(i);
            }
        } else if let Ok(f) = text.parse::<f64>() {
            if let Some(n) = serde_json::Number::from_f64(f).filter(|n| n.to_string() == text) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text)
}

/// Digits with an optional sign, point and exponent; `2012-10-17` is not one.
fn looks_numeric(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && body.chars().filter(|c| *c == '-').count() <= 1
        && (!body.contains('-') || body.contains(['e', 'E']))
}

/// Rewrite a short-form tag to CloudFormation's long form.
fn intrinsic(tag: &Tag, value: Value, line: usize) -> Result<Value, TemplateError> {
    if tag.handle != "!" {
        // `!!str` and friends: the core schema's explicit types.
        return Ok(match (tag.suffix.as_str(), value) {
            ("str", Value::Null) => Value::String(String::new()),
            ("str", Value::String(s)) => Value::String(s),
            ("str", other) => Value::String(other.to_string()),
            (_, other) => other,
        });
    }
    let name = tag.suffix.as_str();
    let long = match name {
        "Ref" => "Ref",
        "Condition" => "Condition",
        "GetAtt" => {
            // `!GetAtt Res.Attr` splits at the first dot.
            let value = match value {
                Value::String(s) => match s.split_once('.') {
                    Some((res, attr)) => Value::from(vec![res, attr]),
                    None => {
                        return Err(TemplateError::at(line, format!("!GetAtt '{s}' must be LogicalId.Attribute")));
                    }
                },
                other => other,
            };
            return Ok(single("Fn::GetAtt", value));
        }
        "Sub" | "Join" | "Select" | "Split" | "If" | "Equals" | "And" | "Or" | "Not" | "FindInMap" | "Base64"
        | "GetAZs" | "Cidr" | "ImportValue" | "Transform" | "ToJsonString" | "Length" => {
            return Ok(single(&format!("Fn::{name}"), value));
        }
        other => return Err(TemplateError::at(line, format!("unknown tag !{other}"))),
    };
    Ok(single(long, value))
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_tags_become_long_form() {
        let (v, _) = parse(
            "A: !Ref X\nB: !GetAtt F.Arn\nC: !Sub '${AWS::Region}-x'\nD: !Join [',', [a, b]]\nE: !If [C, 1, 2]\nF: !Not [!Equals [a, b]]\n",
        )
        .unwrap();
        assert_eq!(v["A"], json!({"Ref": "X"}));
        assert_eq!(v["B"], json!({"Fn::GetAtt": ["F", "Arn"]}));
        assert_eq!(v["C"], json!({"Fn::Sub": "${AWS::Region}-x"}));
        assert_eq!(v["D"], json!({"Fn::Join": [",", ["a", "b"]]}));
        assert_eq!(v["E"], json!({"Fn::If": ["C", 1, 2]}));
        assert_eq!(v["F"], json!({"Fn::Not": [{"Fn::Equals": ["a", "b"]}]}));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let (v, _) = parse("a: 2012-10-17\nb: 128\nc: '128'\nd: true\ne: ~\nf: 1.5\ng: python3.12\n").unwrap();
        assert_eq!(
            v,
            json!({"a": "2012-10-17", "b": 128, "c": "128", "d": true, "e": null, "f": 1.5, "g": "python3.12"})
        );
        let (v, _) = parse("account: 012345678901\nversion: 1.10\nneg: -3\n").unwrap();
        assert_eq!(v, json!({"account": "012345678901", "version": "1.10", "neg": -3}));
    }

    #[test]
    fn positions_are_recorded_per_path() {
        let (_, pos) = parse("Resources:\n  Fn:\n    Type: X\n    Properties:\n      A: 1\n").unwrap();
        assert_eq!(pos.get("/Resources/Fn/Type"), Some(&3));
        assert_eq!(pos.get("/Resources/Fn/Properties/A"), Some(&5));
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("duplicate key 'a'"));
    }

    #[test]
    fn json_parses_too() {
        let (v, pos) = parse("{\n \"Resources\": {\n  \"T\": {\"Type\": \"AWS::DynamoDB::Table\"}\n }\n}").unwrap();
        assert_eq!(v["Resources"]["T"]["Type"], "AWS::DynamoDB::Table");
        assert_eq!(pos.get("/Resources/T/Type"), Some(&3));
    }

    #[test]
    fn unknown_tag_is_an_error() {
        let err = parse("a: !Bogus x\n").unwrap_err();
        assert!(err.message.contains("!Bogus"));
    }
}
