//! The pre-expression parameters (Expected, AttributeUpdates,
//! AttributesToGet, KeyConditions, QueryFilter, ScanFilter), translated into
//! the same expression trees the expression parameters produce.

use serde_json::Value;

use super::Req;
use crate::error::{internal, invalid_parameter, serialization, validation, Result};
use crate::expr::update::{SetValue, Update};
use crate::expr::{Cmp, Cond, Operand, Path, PathElem};
use crate::model::table::{KeyAttr, KeySchema};
use crate::types::{check_attribute_name, unexpected, AttributeValue};

fn path(name: &str) -> Path {
    Path(vec![PathElem::Name(name.to_owned())])
}

fn values(r: &Req<'_>) -> Result<Vec<AttributeValue>> {
    match r.get("AttributeValueList") {
        None => Ok(vec![]),
        Some(Value::Array(list)) => list.iter().map(|v| AttributeValue::from_json_in(v, r.layer)).collect(),
        Some(other) => Err(serialization(unexpected(other, "List"))),
    }
}

/// The AttributeValue types each operator takes, as AWS checks them
/// (EQ and NE take any type).
fn allowed_types(op: &str) -> &'static [&'static str] {
    match op {
        "EQ" | "NE" => &["S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL", "L", "M"],
        "CONTAINS" | "NOT_CONTAINS" => &["S", "N", "B", "BOOL", "NULL"],
        "LE" | "LT" | "GE" | "GT" | "IN" | "BETWEEN" => &["S", "N", "B"],
        "BEGINS_WITH" => &["S", "B"],
        _ => &[],
    }
}

/// AWS's checks of a condition's values, in its order: how many, all of
/// one type, a type the operator takes, and BETWEEN's bounds in order.
fn check_arguments(op: &str, args: &[AttributeValue]) -> Result<()> {
    let count_ok = match op {
        "NULL" | "NOT_NULL" => args.is_empty(),
        "IN" => !args.is_empty(),
        "BETWEEN" => args.len() == 2,
        _ => args.len() == 1,
    };
    if !count_ok {
        return Err(invalid_parameter(format!("Invalid number of argument(s) for the {op} ComparisonOperator")));
    }
    if let Some(first) = args.first() {
        if args.iter().any(|a| a.type_name() != first.type_name()) {
            return Err(invalid_parameter("AttributeValues inside AttributeValueList must be of same type"));
        }
        if let Some(bad) = args.iter().find(|a| !allowed_types(op).contains(&a.type_name())) {
            return Err(invalid_parameter(format!(
                "ComparisonOperator {op} is not valid for {} AttributeValue type",
                bad.type_name()
            )));
        }
    }
    if let [low, high] = args {
        if op == "BETWEEN" && crate::expr::eval::compare(low, high) == Some(std::cmp::Ordering::Greater) {
            return Err(validation(
                "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
            ));
        }
    }
    Ok(())
}

/// One `{ComparisonOperator, AttributeValueList}` condition on attribute `name`.
fn comparison(name: &str, op: &str, args: Vec<AttributeValue>) -> Result<Cond> {
    if !COMPARISON_OPERATORS.contains(&op) {
        return Err(validation(format!(
            "1 validation error detected: Value '{op}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
        )));
    }
    check_arguments(op, &args)?;
    let wrong = || invalid_parameter(format!("Invalid number of argument(s) for the {op} ComparisonOperator"));
    let p = || Operand::Path(path(name));
    let one = |args: Vec<AttributeValue>| -> Result<Operand> {
        match <[AttributeValue; 1]>::try_from(args) {
            Ok([v]) => Ok(Operand::Value(v)),
            Err(_) => Err(wrong()),
        }
    };
    let cmp = |c: Cmp, args| -> Result<Cond> { Ok(Cond::Compare(c, p(), one(args)?)) };
    match op {
        "EQ" => cmp(Cmp::Eq, args),
        "NE" => cmp(Cmp::Ne, args),
        "LT" => cmp(Cmp::Lt, args),
        "LE" => cmp(Cmp::Le, args),
        "GT" => cmp(Cmp::Gt, args),
        "GE" => cmp(Cmp::Ge, args),
        "NULL" | "NOT_NULL" => {
            if !args.is_empty() {
                return Err(wrong());
            }
            Ok(if op == "NULL" { Cond::NotExists(path(name)) } else { Cond::Exists(path(name)) })
        }
        "CONTAINS" => Ok(Cond::Contains(p(), one(args)?)),
        "NOT_CONTAINS" => Ok(Cond::And(
            Box::new(Cond::Exists(path(name))),
            Box::new(Cond::Not(Box::new(Cond::Contains(p(), one(args)?)))),
        )),
        "BEGINS_WITH" => Ok(Cond::BeginsWith(p(), one(args)?)),
        "IN" => {
            if args.is_empty() {
                return Err(wrong());
            }
            Ok(Cond::In(p(), args.into_iter().map(Operand::Value).collect()))
        }
        "BETWEEN" => match <[AttributeValue; 2]>::try_from(args) {
            Ok([low, high]) => Ok(Cond::Between(p(), Operand::Value(low), Operand::Value(high))),
            Err(_) => Err(wrong()),
        },
        _ => Err(internal("unreachable: operator checked")),
    }
}

const COMPARISON_OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

/// KeyConditions against the key schema being queried, with the checks
/// (and wording) AWS applies to them rather than to expressions.
pub fn check_key_conditions(r: &Req<'_>, schema: &KeySchema) -> Result<()> {
    let Some(map) = r.object("KeyConditions")? else { return Ok(()) };
    let attrs: Vec<&KeyAttr> = schema.attrs().collect();
    if attrs.len() == 1 && map.len() > 1 {
        return Err(validation("Query key condition not supported"));
    }
    for (i, attr) in attrs.iter().enumerate() {
        let is_hash = i == 0;
        let Some(spec) = map.get(&attr.name).and_then(Value::as_object) else {
            if is_hash || map.len() > 1 {
                return Err(validation(format!("Query condition missed key schema element: {}", attr.name)));
            }
            continue;
        };
        let cr = r.child(spec);
        let op = cr.str("ComparisonOperator")?.unwrap_or_default();
        if ["NULL", "NOT_NULL", "NE", "CONTAINS", "NOT_CONTAINS", "IN"].contains(&op) {
            return Err(validation("Attempted conditional constraint is not an indexable operation"));
        }
        if values(&cr)?.iter().any(|v| !attr.kind.matches(v)) {
            return Err(invalid_parameter("Condition parameter type does not match schema type"));
        }
        if is_hash && op != "EQ" {
            return Err(validation("Query key condition not supported"));
        }
    }
    Ok(())
}

fn combine(conds: Vec<Cond>, or: bool) -> Option<Cond> {
    conds
        .into_iter()
        .reduce(|a, b| if or { Cond::Or(Box::new(a), Box::new(b)) } else { Cond::And(Box::new(a), Box::new(b)) })
}

fn conditional_operator(r: &Req<'_>) -> Result<bool> {
    match r.str("ConditionalOperator")? {
        None | Some("AND") => Ok(false),
        Some("OR") => Ok(true),
        // AWS's new validation names the set [ALL, OR] here, sic.
        Some(_) => Err(validation("Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]")),
    }
}

/// `Expected` (with `ConditionalOperator`) as a condition.
pub fn expected(r: &Req<'_>) -> Result<Option<Cond>> {
    let or = conditional_operator(r)?;
    let Some(map) = r.object("Expected")? else {
        if r.has("ConditionalOperator") {
            return Err(validation(
                "ConditionalOperator can only be used when Filter or Expected conditions are specified",
            ));
        }
        return Ok(None);
    };
    check_operator_use(r, map)?;
    let mut conds = vec![];
    for (name, spec) in map {
        check_attribute_name(name)?;
        let obj = spec.as_object().ok_or_else(|| serialization(unexpected(spec, "Structure")))?;
        let sr = r.child(obj);
        let value = sr.get("Value").map(|v| AttributeValue::from_json_in(v, sr.layer)).transpose()?;
        let exists = sr.bool("Exists")?;
        if let Some(op) = sr.str("ComparisonOperator")? {
            if exists.is_some() {
                return Err(invalid_parameter(format!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                )));
            }
            if value.is_some() && sr.has("AttributeValueList") {
                return Err(invalid_parameter(format!(
                    "Value and AttributeValueList cannot be used together for Attribute: {name}"
                )));
            }
            let takes_values = !matches!(op, "NULL" | "NOT_NULL");
            if takes_values && value.is_none() && !sr.has("AttributeValueList") {
                return Err(invalid_parameter(format!(
                    "Value or AttributeValueList must be used with ComparisonOperator: {op} for Attribute: {name}"
                )));
            }
            let args = match value {
                Some(v) => vec![v],
                None => values(&sr)?,
            };
            conds.push(comparison(name, op, args)?);
            continue;
        }
        if sr.has("AttributeValueList") {
            return Err(invalid_parameter(format!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
            )));
        }
        conds.push(match (exists, value) {
            (Some(false), Some(_)) => {
                return Err(invalid_parameter(format!(
                    "Value cannot be used when Exists is false for Attribute: {name}"
                )))
            }
            (Some(false), None) => Cond::NotExists(path(name)),
            (e, None) => {
                let shown = e.map_or("null".to_owned(), |b| b.to_string());
                return Err(invalid_parameter(format!(
                    "Value must be provided when Exists is {shown} for Attribute: {name}"
                )));
            }
            (_, Some(v)) => Cond::Compare(Cmp::Eq, Operand::Path(path(name)), Operand::Value(v)),
        });
    }
    Ok(combine(conds, or))
}

/// `QueryFilter`/`ScanFilter`/`KeyConditions` maps of conditions.
/// ConditionalOperator joins conditions: it needs at least two.
fn check_operator_use(r: &Req<'_>, map: &serde_json::Map<String, Value>) -> Result<()> {
    if r.has("ConditionalOperator") && map.len() < 2 {
        return Err(validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ));
    }
    Ok(())
}

pub fn filter(r: &Req<'_>, member: &str, or: bool) -> Result<Option<Cond>> {
    let Some(map) = r.object(member)? else { return Ok(None) };
    if member != "KeyConditions" {
        check_operator_use(r, map)?;
    }
    let mut conds = vec![];
    for (name, spec) in map {
        let obj = spec.as_object().ok_or_else(|| serialization(unexpected(spec, "Structure")))?;
        let cr = r.child(obj);
        let op = cr.str("ComparisonOperator")?.ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value null at '{}.{name}.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
                lower_first(member)
            ))
        })?;
        conds.push(comparison(name, op, values(&cr)?)?);
    }
    Ok(combine(conds, or))
}

pub fn filter_operator(r: &Req<'_>) -> Result<bool> {
    conditional_operator(r)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// `AttributeUpdates` as an update.
pub fn attribute_updates(r: &Req<'_>) -> Result<Option<Update>> {
    let Some(map) = r.object("AttributeUpdates")? else { return Ok(None) };
    let mut u = Update::default();
    for (name, spec) in map {
        check_attribute_name(name)?;
        let obj = spec.as_object().ok_or_else(|| serialization(unexpected(spec, "Structure")))?;
        let sr = r.child(obj);
        let value = sr.get("Value").map(|v| AttributeValue::from_json_in(v, sr.layer)).transpose()?;
        match (sr.str("Action")?.unwrap_or("PUT"), value) {
            ("PUT", Some(v)) => u.set.push((path(name), SetValue::Value(v))),
            ("PUT", None) => {
                return Err(invalid_parameter(format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )))
            }
            ("DELETE", None) => u.remove.push(path(name)),
            ("DELETE", Some(v)) => {
                if !matches!(v, AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)) {
                    return Err(invalid_parameter(format!(
                        "DELETE action with value is not supported for the type {}",
                        v.type_name()
                    )));
                }
                u.delete.push((path(name), v))
            }
            ("ADD", Some(AttributeValue::L(list))) => u.set.push((
                path(name),
                SetValue::ListAppend(
                    Box::new(SetValue::IfNotExists(path(name), Box::new(SetValue::Value(AttributeValue::L(vec![]))))),
                    Box::new(SetValue::Value(AttributeValue::L(list))),
                ),
            )),
            ("ADD", Some(v)) => {
                if !matches!(v, AttributeValue::N(_) | AttributeValue::SS(_) | AttributeValue::NS(_) | AttributeValue::BS(_)) {
                    return Err(invalid_parameter(format!("ADD action is not supported for the type {}", v.type_name())));
                }
                u.add.push((path(name), v))
            }
            ("ADD", None) => {
                return Err(invalid_parameter(format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )))
            }
            (other, _) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'attributeUpdates.{name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"
                )))
            }
        }
    }
    Ok(Some(u))
}

/// `AttributesToGet` as a projection.
pub fn attributes_to_get(r: &Req<'_>) -> Result<Option<Vec<Path>>> {
    let Some(list) = r.array("AttributesToGet")? else { return Ok(None) };
    let mut paths: Vec<Path> = vec![];
    for v in list {
        let name = v.as_str().ok_or_else(|| serialization(unexpected(v, "String")))?;
        check_attribute_name(name)?;
        let p = path(name);
        if paths.contains(&p) {
            return Err(invalid_parameter(format!("Duplicate value in attribute name: {name}")));
        }
        paths.push(p);
    }
    Ok(Some(paths))
}
