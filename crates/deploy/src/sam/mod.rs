//! The SAM transform (`Transform: AWS::Serverless-2016-10-31`): serverless
//! resources become the plain CloudFormation resources AWS's SAM translator
//! generates, with the logical ids it gives them (`<Fn>Role`,
//! `ServerlessHttpApi`, `<Fn><Event>Permission`…), so Outputs written for
//! AWS keep working.

pub mod api;
pub mod code;
pub mod function;
pub mod policies;

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::template::{resource_path, yaml, Template, TemplateError};

/// Where relative `CodeUri`s are resolved.
#[derive(Clone, Debug)]
pub struct SamOptions {
    pub base_dir: PathBuf,
}

/// Resource-level attributes SAM copies onto what it generates.
const CARRIED_ATTRIBUTES: &[&str] = &["Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy"];

/// An API event of a function: one route of an API.
#[derive(Clone, Debug)]
pub struct Route {
    pub function_id: String,
    pub event_id: String,
    /// `None` for the HTTP API `$default` route.
    pub path: Option<String>,
    /// Lower-case method, or `x-amazon-apigateway-any-method`.
    pub method: String,
    /// What the integration calls: `Fn.Arn` or the alias.
    pub target_arn: Value,
    pub payload_format: Value,
    pub timeout: Option<Value>,
}

/// The state of one transform run.
pub struct Transformer<'a> {
    pub source: &'a Template,
    pub options: &'a SamOptions,
    pub globals: Map<String, Value>,
    pub resources: Map<String, Value>,
    pub positions: crate::template::Positions,
    /// Routes by API logical id (`ServerlessRestApi` / `ServerlessHttpApi` for implicit ones).
    pub rest_routes: Vec<(String, Route)>,
    pub http_routes: Vec<(String, Route)>,
    /// SAM's referenceable properties: `MyFunction.Alias` → `MyFunctionAliaslive`.
    pub referable: std::collections::BTreeMap<String, String>,
}

impl Transformer<'_> {
    /// An error at a path of the source template.
    pub fn error(&self, path: &str, message: impl Into<String>) -> TemplateError {
        self.source.error(path, message)
    }

    /// Add a generated resource, located at the line of the SAM resource it comes from.
    pub fn add(&mut self, id: &str, from: &str, resource: Value) -> Result<(), TemplateError> {
        if self.resources.contains_key(id) || (self.source.resource_type(id).is_some() && id != from) {
            return Err(self.error(
                &resource_path(from),
                format!("generated resource {id} clashes with a resource of the same logical id"),
            ));
        }
        if let Some(line) = self.source.line_of(&resource_path(from)) {
            self.positions.insert(resource_path(id), line);
        }
        self.resources.insert(id.to_owned(), resource);
        Ok(())
    }

    /// A new resource of `ty` with the carried attributes of the SAM resource `from`.
    pub fn resource(&self, from: &Value, ty: &str, properties: Value) -> Value {
        let mut r = Map::new();
        r.insert("Type".into(), ty.into());
        for attr in ["Condition"] {
            if let Some(v) = from.get(attr) {
                r.insert(attr.into(), v.clone());
            }
        }
        r.insert("Properties".into(), properties);
        Value::Object(r)
    }

    /// The SAM resource's own attributes on the resource that replaces it.
    pub fn carry(&self, from: &Value, ty: &str, properties: Value) -> Value {
        let mut r = Map::new();
        r.insert("Type".into(), ty.into());
        for attr in CARRIED_ATTRIBUTES {
            if let Some(v) = from.get(*attr) {
                r.insert((*attr).into(), v.clone());
            }
        }
        r.insert("Properties".into(), properties);
        Value::Object(r)
    }

    /// Properties of a SAM resource with the matching Globals section merged under them.
    pub fn properties_with_globals(&self, resource: &Value, section: &str) -> Value {
        let local = resource.get("Properties").cloned().unwrap_or_else(|| json!({}));
        match self.globals.get(section) {
            Some(global) => merge_globals(global, &local),
            None => local,
        }
    }
}

/// SAM's Globals rule: mappings merge key by key (the resource wins), lists
/// are concatenated (globals first), anything else is replaced.
pub fn merge_globals(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(g), Value::Object(l)) if crate::template::intrinsics::intrinsic_name(local).is_none() => {
            let mut out = g.clone();
            for (k, v) in l {
                let merged = match g.get(k) {
                    Some(gv) => merge_globals(gv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(g), Value::Array(l)) => Value::Array(g.iter().chain(l).cloned().collect()),
        (_, l) => l.clone(),
    }
}

/// Apply the SAM transform. A template without it is returned unchanged.
pub fn transform(template: &Template, options: &SamOptions) -> Result<Template, TemplateError> {
    if !template.is_sam() {
        return Ok(template.clone());
    }
    let globals = template.section("Globals").cloned().unwrap_or_default();
    for section in globals.keys() {
        if !["Function", "Api", "HttpApi", "SimpleTable"].contains(&section.as_str()) {
            return Err(template.error(
                &format!("/Globals/{}", yaml::escape(section)),
                format!("Globals section {section} is not supported"),
            ));
        }
    }
    let mut t = Transformer {
        source: template,
        options,
        globals,
        resources: Map::new(),
        positions: template.positions.clone(),
        rest_routes: Vec::new(),
        http_routes: Vec::new(),
        referable: Default::default(),
    };
    let mut rest_apis = Vec::new();
    let mut http_apis = Vec::new();
    for (id, resource) in template.resources() {
        let ty = resource.get("Type").and_then(Value::as_str).unwrap_or_default();
        match ty {
            "AWS::Serverless::Function" => function::transform(&mut t, id, resource)?,
            "AWS::Serverless::SimpleTable" => simple_table(&mut t, id, resource)?,
            "AWS::Serverless::Api" => rest_apis.push(id.clone()),
            "AWS::Serverless::HttpApi" => http_apis.push(id.clone()),
            other if other.starts_with("AWS::Serverless::") => {
                return Err(t.error(
                    &format!("{}/Type", resource_path(id)),
                    format!("resource type {other} ({id}) is not supported by Nimbus"),
                ));
            }
            _ => {
                if !t.resources.contains_key(id) {
                    t.resources.insert(id.clone(), resource.clone());
                }
            }
        }
    }
    for id in &rest_apis {
        api::explicit_rest_api(&mut t, id)?;
    }
    for id in &http_apis {
        api::explicit_http_api(&mut t, id)?;
    }
    api::implicit_apis(&mut t)?;

    let mut body = template.body.as_object().cloned().unwrap_or_default();
    body.remove("Transform");
    body.remove("Globals");
    body.insert("Resources".into(), Value::Object(t.resources));
    let mut body = Value::Object(body);
    resolve_referable(&mut body, &t.referable);
    Ok(Template { body, positions: t.positions })
}

/// Rewrite `!Ref MyFunction.Alias` (and `${MyFunction.Alias}` in `Fn::Sub`)
/// to the generated resource, as SAM does.
fn resolve_referable(value: &mut Value, referable: &std::collections::BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(target)) = map.get_mut("Ref") {
                    if let Some(id) = referable.get(target.as_str()) {
                        *target = id.clone();
                    }
                }
                let sub_text = match map.get_mut("Fn::Sub") {
                    Some(Value::String(text)) => Some(text),
                    Some(Value::Array(items)) => items.first_mut().and_then(|t| match t {
                        Value::String(text) => Some(text),
                        _ => None,
                    }),
                    _ => None,
                };
                if let Some(text) = sub_text {
                    for (from, to) in referable {
                        *text = text.replace(&format!("${{{from}}}"), &format!("${{{to}}}"));
                    }
                }
            }
            map.values_mut().for_each(|v| resolve_referable(v, referable));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_referable(v, referable)),
        _ => {}
    }
}

fn simple_table(t: &mut Transformer<'_>, id: &str, resource: &Value) -> Result<(), TemplateError> {
    let props = t.properties_with_globals(resource, "SimpleTable");
    let key = props.get("PrimaryKey").cloned().unwrap_or_else(|| json!({"Name": "id", "Type": "String"}));
    let name = key.get("Name").cloned().unwrap_or_else(|| json!("id"));
    let attr_type = match key.get("Type").and_then(Value::as_str).unwrap_or("String") {
        "String" => "S",
        "Number" => "N",
        "Binary" => "B",
        other => {
            return Err(t.error(
                &format!("{}/Properties/PrimaryKey/Type", resource_path(id)),
                format!("PrimaryKey Type {other} must be String, Number or Binary"),
            ));
        }
    };
    let mut table = json!({
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": attr_type}],
        "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}],
    });
    match props.get("ProvisionedThroughput") {
        Some(pt) => table["ProvisionedThroughput"] = pt.clone(),
        None => table["BillingMode"] = json!("PAY_PER_REQUEST"),
    }
    for key in ["TableName", "Tags", "SSESpecification", "PointInTimeRecoverySpecification"] {
        if let Some(v) = props.get(key) {
            table[key] = if key == "Tags" { tags_list(v) } else { v.clone() };
        }
    }
    let resource = t.carry(resource, "AWS::DynamoDB::Table", table);
    t.resources.insert(id.to_owned(), resource);
    Ok(())
}

/// SAM's `Tags: {k: v}` as CloudFormation's `[{Key, Value}]`.
pub fn tags_list(tags: &Value) -> Value {
    match tags {
        Value::Object(map) => Value::Array(map.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
