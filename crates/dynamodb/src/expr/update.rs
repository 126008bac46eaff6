//! Update expressions: `SET`, `REMOVE`, `ADD` and `DELETE` clauses, parsed
//! with the shared parser and applied to an item.

use super::eval::resolve;
use super::lexer::Tok;
use super::parser::{path_problem, Parser, Slot};
use super::{Attrs, Kind, Path, PathElem};
use crate::error::{validation, Result};
use crate::types::{AttributeValue as AV, Item};

/// The right-hand side of a `SET` action.
#[derive(Clone, Debug, PartialEq)]
pub enum SetValue {
    Path(Path),
    Value(AV),
    IfNotExists(Path, Box<SetValue>),
    ListAppend(Box<SetValue>, Box<SetValue>),
    Plus(Box<SetValue>, Box<SetValue>),
    Minus(Box<SetValue>, Box<SetValue>),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(Path, SetValue)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, AV)>,
    pub delete: Vec<(Path, AV)>,
}

impl Update {
    /// The top-level attributes the update assigns, with the type each will
    /// surely have, as far as the expression alone tells (AWS checks these
    /// against index key types before it reads the item).
    pub fn assigned_types(&self) -> Vec<(&str, &'static str)> {
        let sets = self.set.iter().filter_map(|(p, v)| Some((p, v.known_type()?)));
        let adds = self.add.iter().map(|(p, v)| (p, v.type_name()));
        sets.chain(adds).filter(|(p, _)| p.0.len() == 1).map(|(p, t)| (p.head(), t)).collect()
    }

    /// Every path the update writes or reads.
    pub fn paths(&self) -> Vec<&Path> {
        fn read<'a>(value: &'a SetValue, out: &mut Vec<&'a Path>) {
            match value {
                SetValue::Value(_) => {}
                SetValue::Path(p) => out.push(p),
                SetValue::IfNotExists(p, v) => {
                    out.push(p);
                    read(v, out);
                }
                SetValue::ListAppend(a, b) | SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
                    read(a, out);
                    read(b, out);
                }
            }
        }
        let mut out: Vec<&Path> = self.targets().collect();
        for (_, value) in &self.set {
            read(value, &mut out);
        }
        out
    }

    /// Every path the update writes, in expression order.
    pub fn targets(&self) -> impl Iterator<Item = &Path> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(&self.remove)
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
    }
}

impl SetValue {
    /// The type this value has whatever the item holds, if that is known.
    fn known_type(&self) -> Option<&'static str> {
        match self {
            SetValue::Value(v) => Some(v.type_name()),
            SetValue::Plus(..) | SetValue::Minus(..) => Some("N"),
            SetValue::ListAppend(..) => Some("L"),
            // As AWS judges it: by the fallback.
            SetValue::IfNotExists(_, fallback) => fallback.known_type(),
            SetValue::Path(_) => None,
        }
    }
}

/// What standalone UpdateItem charges a statement against the 400 KB limit,
/// as measured against AWS: the attributes its plain `SET a = :v` clauses
/// write (sized in the finished item) plus a cost for the statement itself —
/// 3, then 19 per SET or ADD, plus what each clause carries from the request.
/// (The key and attributes the statement leaves alone are not counted.)
pub struct StatementCost {
    pub fixed: usize,
    /// Top-level attributes whose finished size counts.
    pub written: Vec<String>,
}

/// A path as a clause target: its first name, then 4 plus each later step.
fn target_cost(path: &Path) -> usize {
    path.0
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let bytes = match e {
                PathElem::Name(n) => n.len(),
                PathElem::Index(x) => x.to_string().len(),
            };
            if i == 0 {
                bytes
            } else {
                4 + bytes
            }
        })
        .sum()
}

/// An operand read by a SET: a path costs 1 plus 14 and the step for each
/// step; a value its size.
fn operand_cost(value: &SetValue) -> usize {
    match value {
        SetValue::Value(v) => v.size(),
        SetValue::Path(p) => {
            1 + p
                .0
                .iter()
                .map(|e| {
                    14 + match e {
                        PathElem::Name(n) => n.len(),
                        PathElem::Index(x) => x.to_string().len(),
                    }
                })
                .sum::<usize>()
        }
        SetValue::Plus(a, b) => 34 + operand_cost(a) + operand_cost(b),
        SetValue::Minus(a, b) => 37 + operand_cost(a) + operand_cost(b),
        SetValue::IfNotExists(p, v) => 39 + operand_cost(&SetValue::Path(p.clone())) + operand_cost(v),
        SetValue::ListAppend(a, b) => 37 + operand_cost(a) + operand_cost(b),
    }
}

impl Update {
    pub fn statement_cost(&self) -> StatementCost {
        let mut fixed = 3;
        let mut written: Vec<String> = Vec::new();
        for (path, value) in &self.set {
            fixed += 19;
            if path.0.iter().any(|e| matches!(e, PathElem::Index(_))) {
                fixed += 1;
            }
            match value {
                SetValue::Value(_) => {
                    if !written.iter().any(|w| w == path.head()) {
                        written.push(path.head().to_owned());
                    }
                }
                other => fixed += operand_cost(other),
            }
        }
        for path in &self.remove {
            fixed += 1 + target_cost(path);
        }
        for (path, value) in &self.add {
            fixed += 19 + target_cost(path) + value.size();
        }
        for (path, _) in &self.delete {
            fixed += 1 + target_cost(path);
        }
        StatementCost { fixed, written }
    }
}

/// AWS's long type names, used in ADD/DELETE operand errors.
fn long_type(v: &AV) -> &'static str {
    match v {
        AV::S(_) => "STRING",
        AV::N(_) => "NUMBER",
        AV::B(_) => "BINARY",
        AV::Bool(_) => "BOOLEAN",
        AV::Null => "NULL",
        AV::M(_) => "MAP",
        AV::L(_) => "LIST",
        AV::SS(_) => "STRING_SET",
        AV::NS(_) => "NUMBER_SET",
        AV::BS(_) => "BINARY_SET",
    }
}

pub fn parse(src: &str, attrs: &mut Attrs) -> Result<Update> {
    let mut p = Parser::new(src, Kind::Update, attrs)?;
    let mut update = Update::default();
    let mut seen: Vec<&'static str> = Vec::new();
    // Targets in the order written, as AWS names them in path errors.
    let mut written: Vec<Path> = Vec::new();
    if p.at_eof() {
        return Err(p.syntax_error());
    }
    while !p.at_eof() {
        let clause = ["SET", "REMOVE", "ADD", "DELETE"].into_iter().find(|k| p.peek().is_keyword(k));
        let Some(clause) = clause else {
            return Err(p.syntax_error());
        };
        p.advance();
        if seen.contains(&clause) {
            p.defer(Slot::Section, || {
                format!("The \"{clause}\" section can only be used once in an update expression;")
            });
        }
        seen.push(clause);
        loop {
            let path = p.path()?;
            written.push(path.clone());
            match clause {
                "SET" => {
                    p.expect_punct("=")?;
                    let value = set_value(&mut p)?;
                    update.set.push((path, value));
                }
                "REMOVE" => update.remove.push(path),
                _ => {
                    let Tok::Value(key) = p.peek().tok.clone() else {
                        return Err(p.syntax_error());
                    };
                    p.advance();
                    // An undefined placeholder reads as NULL here, but its own
                    // error outranks the type error this would raise.
                    let v = p.value(&key);
                    let ok = match clause {
                        "ADD" => matches!(v, AV::N(_) | AV::SS(_) | AV::NS(_) | AV::BS(_)),
                        _ => matches!(v, AV::SS(_) | AV::NS(_) | AV::BS(_)),
                    };
                    if !ok {
                        let t = long_type(&v);
                        p.defer(Slot::UpdateOperand, || {
                            format!("Incorrect operand type for operator or function; operator: {clause}, operand type: {t}")
                        });
                    }
                    if clause == "ADD" {
                        update.add.push((path, v));
                    } else {
                        update.delete.push((path, v));
                    }
                }
            }
            if p.at_punct(",") {
                p.advance();
            } else {
                break;
            }
        }
    }
    if let Some(problem) = path_problem(&written) {
        p.defer(Slot::Paths, || problem);
    }
    p.finish()?;
    Ok(update)
}

fn set_value(p: &mut Parser<'_>) -> Result<SetValue> {
    let left = set_operand(p)?;
    let op = match p.peek().tok {
        Tok::Punct("+") => "+",
        Tok::Punct("-") => "-",
        _ => return Ok(left),
    };
    p.advance();
    p.operator();
    let right = set_operand(p)?;
    for side in [&left, &right] {
        if let SetValue::Value(v) = side {
            if !matches!(v, AV::N(_)) {
                let t = v.type_name();
                p.defer(Slot::Function, || {
                    format!("Incorrect operand type for operator or function; operator or function: {op}, operand type: {t}")
                });
            }
        }
    }
    Ok(if op == "+" {
        SetValue::Plus(Box::new(left), Box::new(right))
    } else {
        SetValue::Minus(Box::new(left), Box::new(right))
    })
}

fn set_operand(p: &mut Parser<'_>) -> Result<SetValue> {
    if let Some(name) = p.at_function() {
        p.advance();
        p.advance();
        p.operator();
        p.enter()?;
        let mut args = vec![set_operand(p)?];
        while p.at_punct(",") {
            p.advance();
            args.push(set_operand(p)?);
        }
        p.leave();
        p.expect_punct(")")?;
        let arity = match name.as_str() {
            "if_not_exists" | "list_append" => 2,
            "attribute_exists" | "attribute_not_exists" | "attribute_type" | "begins_with" | "contains" | "size" => {
                p.defer(Slot::MisusedFunction, || {
                    format!("The function is not allowed in an update expression; function: {name}")
                });
                return Ok(SetValue::Value(AV::Null));
            }
            _ => {
                p.defer(Slot::UnknownFunction, || format!("Invalid function name; function: {name}"));
                return Ok(SetValue::Value(AV::Null));
            }
        };
        if args.len() != arity {
            let n = args.len();
            p.defer(Slot::Operands, || {
                format!("Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {n}")
            });
            return Ok(SetValue::Value(AV::Null));
        }
        let second = args.pop().unwrap_or(SetValue::Value(AV::Null));
        let first = args.pop().unwrap_or(SetValue::Value(AV::Null));
        return Ok(if name == "if_not_exists" {
            let SetValue::Path(path) = first else {
                p.defer(Slot::Function, || {
                    "Operator or function requires a document path; operator or function: if_not_exists".into()
                });
                return Ok(SetValue::Value(AV::Null));
            };
            SetValue::IfNotExists(path, Box::new(second))
        } else {
            for side in [&first, &second] {
                // AWS refuses list_append(list_append(…), …).
                if let SetValue::ListAppend(..) = side {
                    p.defer(Slot::MisusedFunction, || {
                        "The function is not allowed to be used this way in an expression; function: list_append".into()
                    });
                }
                if let SetValue::Value(v) = side {
                    if !matches!(v, AV::L(_)) {
                        let t = v.type_name();
                        p.defer(Slot::Function, || {
                            format!("Incorrect operand type for operator or function; operator or function: list_append, operand type: {t}")
                        });
                    }
                }
            }
            SetValue::ListAppend(Box::new(first), Box::new(second))
        });
    }
    if let Tok::Value(key) = p.peek().tok.clone() {
        p.advance();
        return Ok(SetValue::Value(p.value(&key)));
    }
    if p.at_punct("(") {
        // Parentheses group a value: `SET a = (b + :c)` is not allowed, but
        // `SET a = (:c)` is; keep it simple and accept both.
        p.advance();
        p.enter()?;
        let inner = set_value(p)?;
        p.leave();
        p.expect_punct(")")?;
        return Ok(inner);
    }
    Ok(SetValue::Path(p.path()?))
}

const BAD_PATH: &str = "The document path provided in the update expression is invalid for update";
pub const BAD_TYPE: &str = "An operand in the update expression has an incorrect data type";
const MISSING: &str = "The provided expression refers to an attribute that does not exist in the item";

fn eval_set(item: &Item, value: &SetValue) -> Result<AV> {
    Ok(match value {
        SetValue::Value(v) => v.clone(),
        SetValue::Path(p) => resolve(item, p).cloned().ok_or_else(|| validation(MISSING))?,
        SetValue::IfNotExists(p, fallback) => match resolve(item, p) {
            Some(v) => v.clone(),
            None => eval_set(item, fallback)?,
        },
        SetValue::ListAppend(a, b) => match (eval_set(item, a)?, eval_set(item, b)?) {
            (AV::L(mut x), AV::L(y)) => {
                x.extend(y);
                AV::L(x)
            }
            _ => return Err(validation(BAD_TYPE)),
        },
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => match (eval_set(item, a)?, eval_set(item, b)?) {
            (AV::N(x), AV::N(y)) => {
                let r = if matches!(value, SetValue::Plus(..)) { x.add(&y) } else { x.sub(&y) };
                AV::N(r.map_err(validation)?)
            }
            _ => return Err(validation(BAD_TYPE)),
        },
    })
}

/// The container holding the last step of `path`, created nowhere: every
/// parent must already exist.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Result<Option<&'a mut AV>> {
    let elems = &path.0;
    if elems.len() < 2 {
        return Ok(None);
    }
    let PathElem::Name(head) = &elems[0] else {
        return Err(validation(BAD_PATH));
    };
    let mut current = item.get_mut(head).ok_or_else(|| validation(BAD_PATH))?;
    for e in &elems[1..elems.len() - 1] {
        current = match (e, current) {
            (PathElem::Name(n), AV::M(m)) => m.get_mut(n).ok_or_else(|| validation(BAD_PATH))?,
            (PathElem::Index(i), AV::L(l)) => l.get_mut(*i).ok_or_else(|| validation(BAD_PATH))?,
            _ => return Err(validation(BAD_PATH)),
        };
    }
    Ok(Some(current))
}

/// That `path`'s last step could be taken: its parent exists and is a map
/// (for a name) or a list (for an index).
fn check_parent(item: &mut Item, path: &Path) -> Result<()> {
    match (parent_mut(item, path)?, path.0.last()) {
        (None, _) | (Some(AV::M(_)), Some(PathElem::Name(_))) | (Some(AV::L(_)), Some(PathElem::Index(_))) => Ok(()),
        _ => Err(validation(BAD_PATH)),
    }
}

fn put_at(item: &mut Item, path: &Path, value: AV) -> Result<()> {
    let last = path.0.last().ok_or_else(|| validation(BAD_PATH))?;
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Name(n)) => {
            item.insert(n.clone(), value);
        }
        (Some(AV::M(m)), PathElem::Name(n)) => {
            m.insert(n.clone(), value);
        }
        (Some(AV::L(l)), PathElem::Index(i)) => {
            // Setting past the end appends.
            if *i < l.len() {
                l[*i] = value;
            } else {
                l.push(value);
            }
        }
        _ => return Err(validation(BAD_PATH)),
    }
    Ok(())
}

/// Remove what `path` names. A missing last step is a no-op, but its parent
/// must exist and be a map (for a name) or a list (for an index).
fn remove_at(item: &mut Item, path: &Path) -> Result<()> {
    let Some(last) = path.0.last() else {
        return Ok(());
    };
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Name(n)) => {
            item.remove(n);
        }
        (Some(AV::M(m)), PathElem::Name(n)) => {
            m.remove(n);
        }
        (Some(AV::L(l)), PathElem::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(validation(BAD_PATH)),
    }
    Ok(())
}

/// Apply `update` to `item`: every SET value is computed from the item as it
/// was before the update, then the clauses are applied.
pub fn apply(update: &Update, item: &mut Item) -> Result<()> {
    let values = update.set.iter().map(|(_, v)| eval_set(item, v)).collect::<Result<Vec<_>>>()?;
    // In path order: elements set past a list's end are appended in index
    // order, whatever order the expression names them in.
    let mut sets: Vec<(&Path, AV)> = update.set.iter().map(|(p, _)| p).zip(values).collect();
    sets.sort_by(|a, b| a.0.cmp(b.0));
    for (path, value) in sets {
        put_at(item, path, value)?;
    }
    // Higher list indexes first, so each index refers to the original list.
    let mut removes: Vec<&Path> = update.remove.iter().collect();
    removes.sort_by(|a, b| b.cmp(a));
    for path in removes {
        remove_at(item, path)?;
    }
    // Like SET, ADD appends past a list's end in index order.
    let mut adds: Vec<&(Path, AV)> = update.add.iter().collect();
    adds.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, value) in adds {
        let merged = match (resolve(item, path), value) {
            (None, v) => v.clone(),
            (Some(AV::N(x)), AV::N(y)) => AV::N(x.add(y).map_err(validation)?),
            (Some(AV::SS(x)), AV::SS(y)) => AV::SS(union(x, y)),
            (Some(AV::NS(x)), AV::NS(y)) => AV::NS(union(x, y)),
            (Some(AV::BS(x)), AV::BS(y)) => AV::BS(union(x, y)),
            _ => return Err(validation(BAD_TYPE)),
        };
        put_at(item, path, merged)?;
    }
    for (path, value) in &update.delete {
        let remaining = match (resolve(item, path), value) {
            // Nothing to delete from, but the path must still fit the item.
            (None, _) => {
                check_parent(item, path)?;
                continue;
            }
            (Some(AV::SS(x)), AV::SS(y)) => difference(x, y).map(AV::SS),
            (Some(AV::NS(x)), AV::NS(y)) => difference(x, y).map(AV::NS),
            (Some(AV::BS(x)), AV::BS(y)) => difference(x, y).map(AV::BS),
            _ => return Err(validation(BAD_TYPE)),
        };
        match remaining {
            Some(v) => put_at(item, path, v)?,
            None => remove_at(item, path)?,
        }
    }
    Ok(())
}

/// `a ∪ b`, in DynamoDB's member order.
fn union<T: Clone + Ord>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
    out.sort();
    out
}

/// `a - b`, or `None` when nothing is left (the attribute is removed).
fn difference<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Option<Vec<T>> {
    let out: Vec<T> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (!out.is_empty()).then_some(out)
}
