//! The shape AWS demands of a KeyConditionExpression, checked before the
//! table is looked up: only `=`, `<`, `<=`, `>`, `>=`, BETWEEN and
//! begins_with, joined by AND, each naming one top-level attribute once.

use super::{Cmp, Cond, Operand};
use crate::error::{validation, Result};

/// Walk the condition in the order it is written; the first problem wins.
pub fn check(cond: &Cond) -> Result<()> {
    let mut named: Vec<&str> = Vec::new();
    walk(cond, &mut named)
}

fn walk<'a>(cond: &'a Cond, named: &mut Vec<&'a str>) -> Result<()> {
    let operator = |op: &str| Err(validation(format!("Invalid operator used in KeyConditionExpression: {op}")));
    let first_operand = |op: &str| {
        Err(validation(format!(
            "Invalid condition in KeyConditionExpression: {op} operator must have the key attribute as its first operand"
        )))
    };
    let operands: Vec<&Operand> = match cond {
        Cond::And(a, b) => {
            walk(a, named)?;
            return walk(b, named);
        }
        Cond::Or(..) => return operator("OR"),
        Cond::Not(..) => return operator("NOT"),
        Cond::In(..) => return operator("IN"),
        Cond::Compare(Cmp::Ne, ..) => return operator("<>"),
        Cond::Exists(_) => return operator("attribute_exists"),
        Cond::NotExists(_) => return operator("attribute_not_exists"),
        Cond::Type(..) => return operator("attribute_type"),
        Cond::Contains(..) => return operator("contains"),
        Cond::Between(a, ..) if !matches!(a, Operand::Path(_)) => return first_operand("BETWEEN"),
        Cond::BeginsWith(a, _) if !matches!(a, Operand::Path(_)) => return first_operand("begins_with"),
        Cond::Between(a, b, c) => vec![a, b, c],
        Cond::BeginsWith(a, b) | Cond::Compare(_, a, b) => vec![a, b],
    };
    let mut name = None;
    for op in operands {
        match op {
            Operand::Path(p) => {
                if name.is_some() {
                    return Err(validation(
                        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                    ));
                }
                if p.0.len() > 1 {
                    return Err(validation(
                        "Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes",
                    ));
                }
                name = Some(p.head());
            }
            Operand::Size(_) => {
                return Err(validation(
                    "Invalid KeyConditionExpression: KeyConditionExpressions cannot contain nested operations",
                ))
            }
            Operand::Value(_) => {}
        }
    }
    let Some(name) = name else {
        return Err(validation("Invalid condition in KeyConditionExpression: No key attribute specified"));
    };
    if named.contains(&name) {
        return Err(validation(
            "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key",
        ));
    }
    named.push(name);
    Ok(())
}
