//! A CloudFormation/SAM template: parsed with source lines, its parameters
//! resolved, its conditions evaluated, and its intrinsic functions applied.

pub mod intrinsics;
pub mod params;
pub mod yaml;

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

pub use intrinsics::{Scope, ValueSource};
pub use params::{resolve_parameters, PseudoParams};

/// The line (1-based) of every node, keyed by its path: `/Resources/Fn/Properties/Handler`.
pub type Positions = HashMap<String, usize>;

/// The transform that marks a template as SAM.
pub const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// What went wrong with a template, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: Option<usize>,
    pub message: String,
}

impl TemplateError {
    pub fn at(line: usize, message: impl Into<String>) -> Self {
        TemplateError { line: Some(line), message: message.into() }
    }

    pub fn new(message: impl Into<String>) -> Self {
        TemplateError { line: None, message: message.into() }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A parsed template. The body is plain JSON with intrinsics in long form.
#[derive(Clone, Debug)]
pub struct Template {
    pub body: Value,
    pub positions: Positions,
}

impl Template {
    /// Parse YAML or JSON text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        // A JSON template with tabs is still JSON; YAML forbids tab indentation.
        let (body, positions) = if text.trim_start().starts_with('{') {
            match yaml::parse(text) {
                Ok(parsed) => parsed,
                Err(_) => match serde_json::from_str::<Value>(text) {
                    Ok(v) => (v, Positions::new()),
                    Err(e) => return Err(TemplateError::at(e.line(), format!("invalid JSON: {e}"))),
                },
            }
        } else {
            yaml::parse(text)?
        };
        if !body.is_object() {
            return Err(TemplateError::at(1, "a template must be a mapping"));
        }
        let template = Template { body, positions };
        template.check_sections()?;
        Ok(template)
    }

    fn check_sections(&self) -> Result<(), TemplateError> {
        const KNOWN: &[&str] = &[
            "AWSTemplateFormatVersion",
            "Description",
            "Metadata",
            "Parameters",
            "Rules",
            "Mappings",
            "Conditions",
            "Transform",
            "Globals",
            "Resources",
            "Outputs",
        ];
        for key in self.body.as_object().into_iter().flat_map(|m| m.keys()) {
            if !KNOWN.contains(&key.as_str()) {
                return Err(self.error(&format!("/{}", yaml::escape(key)), format!("unknown template section '{key}'")));
            }
        }
        let transforms = match self.body.get("Transform") {
            None => Vec::new(),
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(list)) => list.iter().map(|t| t.as_str().unwrap_or("").to_owned()).collect(),
            Some(_) => return Err(self.error("/Transform", "Transform must be a name or a list of names")),
        };
        for t in transforms {
            if t != SAM_TRANSFORM {
                return Err(self.error(
                    "/Transform",
                    format!("transform '{t}' is not supported by Nimbus (only {SAM_TRANSFORM})"),
                ));
            }
        }
        match self.body.get("Resources") {
            Some(Value::Object(resources)) if !resources.is_empty() => {}
            _ => return Err(self.error("/Resources", "the template has no Resources")),
        }
        for (id, resource) in self.resources() {
            let path = resource_path(id);
            if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(self.error(&path, format!("logical id '{id}' must be alphanumeric")));
            }
            match resource.get("Type") {
                Some(Value::String(_)) => {}
                _ => return Err(self.error(&path, format!("resource {id} has no Type"))),
            }
        }
        Ok(())
    }

    /// The line of a path, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(line) = self.positions.get(p) {
                return Some(*line);
            }
            match p.rfind('/') {
                Some(i) if i > 0 => p = &p[..i],
                _ => return None,
            }
        }
    }

    /// An error located at a path.
    pub fn error(&self, path: &str, message: impl Into<String>) -> TemplateError {
        TemplateError { line: self.line_of(path), message: message.into() }
    }

    pub fn section(&self, name: &str) -> Option<&Map<String, Value>> {
        self.body.get(name).and_then(Value::as_object)
    }

    pub fn resources(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.section("Resources").into_iter().flat_map(|m| m.iter())
    }

    pub fn resource_type<'a>(&'a self, id: &str) -> Option<&'a str> {
        self.section("Resources")?.get(id)?.get("Type")?.as_str()
    }

    /// Whether the template asks for the SAM transform.
    pub fn is_sam(&self) -> bool {
        match self.body.get("Transform") {
            Some(Value::String(t)) => t == SAM_TRANSFORM,
            Some(Value::Array(list)) => list.iter().any(|t| t == SAM_TRANSFORM),
            _ => false,
        }
    }
}

/// The path of a resource in the template.
pub fn resource_path(id: &str) -> String {
    format!("/Resources/{}", yaml::escape(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_templates_without_resources_or_with_unknown_sections() {
        assert!(Template::parse("Resources: {}\n").unwrap_err().message.contains("no Resources"));
        let err = Template::parse("Resources:\n  A:\n    Type: X\nBogus: 1\n").unwrap_err();
        assert_eq!(err.line, Some(4));
        let err = Template::parse("Resources:\n  A:\n    Properties: {}\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: resource A has no Type");
    }

    #[test]
    fn other_transforms_are_refused() {
        let err = Template::parse(
            "Transform: [AWS::Serverless-2016-10-31, AWS::LanguageExtensions]\nResources:\n  A:\n    Type: X\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("AWS::LanguageExtensions"), "{err}");
    }

    #[test]
    fn detects_sam() {
        let t = Template::parse("Transform: AWS::Serverless-2016-10-31\nResources:\n  A:\n    Type: X\n").unwrap();
        assert!(t.is_sam());
    }
}
