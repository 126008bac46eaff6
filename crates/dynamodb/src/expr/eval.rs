//! Evaluating conditions and projections against items.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Cmp, Cond, Operand, Path, PathElem};
use crate::types::{AttributeValue as AV, Item, Number};

/// Order of two values where DynamoDB defines one: same scalar type N, S or B.
pub fn compare(a: &AV, b: &AV) -> Option<Ordering> {
    match (a, b) {
        (AV::N(x), AV::N(y)) => Some(x.cmp(y)),
        (AV::S(x), AV::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AV::B(x), AV::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// The value at `path` in `item`, if there is one.
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a AV> {
    let mut elems = path.0.iter();
    let mut current = match elems.next()? {
        PathElem::Name(n) => item.get(n)?,
        PathElem::Index(_) => return None,
    };
    for e in elems {
        current = match (e, current) {
            (PathElem::Name(n), AV::M(m)) => m.get(n)?,
            (PathElem::Index(i), AV::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `size()` of a value; `None` for types without a size.
pub(crate) fn size_of(v: &AV) -> Option<usize> {
    Some(match v {
        AV::S(s) => s.chars().count(),
        AV::B(b) => b.len(),
        AV::SS(s) => s.len(),
        AV::NS(s) => s.len(),
        AV::BS(s) => s.len(),
        AV::L(l) => l.len(),
        AV::M(m) => m.len(),
        _ => return None,
    })
}

fn operand<'a>(item: &'a Item, op: &'a Operand) -> Option<Cow<'a, AV>> {
    match op {
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Path(p) => resolve(item, p).map(Cow::Borrowed),
        Operand::Size(p) => {
            let n = size_of(resolve(item, p)?)?;
            Some(Cow::Owned(AV::N(Number::from_i64(n as i64))))
        }
    }
}

/// Evaluate a condition; a missing attribute makes comparisons false.
pub fn eval(cond: &Cond, item: &Item) -> bool {
    match cond {
        Cond::Or(a, b) => eval(a, item) || eval(b, item),
        Cond::And(a, b) => eval(a, item) && eval(b, item),
        Cond::Not(a) => !eval(a, item),
        Cond::Compare(cmp, a, b) => {
            let (Some(a), Some(b)) = (operand(item, a), operand(item, b)) else {
                // A missing attribute equals nothing, so it differs from everything.
                return *cmp == Cmp::Ne;
            };
            match cmp {
                Cmp::Eq => a == b,
                Cmp::Ne => a != b,
                _ => compare(&a, &b).is_some_and(|o| match cmp {
                    Cmp::Lt => o.is_lt(),
                    Cmp::Le => o.is_le(),
                    Cmp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }),
            }
        }
        Cond::Between(a, low, high) => {
            let (Some(a), Some(l), Some(h)) = (operand(item, a), operand(item, low), operand(item, high)) else {
                return false;
            };
            compare(&a, &l).is_some_and(Ordering::is_ge) && compare(&a, &h).is_some_and(Ordering::is_le)
        }
        Cond::In(a, list) => {
            let Some(a) = operand(item, a) else {
                return false;
            };
            list.iter().any(|x| operand(item, x).is_some_and(|x| *x == *a))
        }
        Cond::Exists(p) => resolve(item, p).is_some(),
        Cond::NotExists(p) => resolve(item, p).is_none(),
        Cond::Type(v, t) => match (operand(item, v), operand(item, t)) {
            (Some(v), Some(t)) => matches!(&*t, AV::S(name) if name == v.type_name()),
            _ => false,
        },
        Cond::BeginsWith(a, prefix) => match (operand(item, a).as_deref(), operand(item, prefix).as_deref()) {
            (Some(AV::S(s)), Some(AV::S(p))) => s.starts_with(p.as_str()),
            (Some(AV::B(s)), Some(AV::B(p))) => s.starts_with(p),
            _ => false,
        },
        Cond::Contains(a, needle) => match (operand(item, a).as_deref(), operand(item, needle).as_deref()) {
            (Some(AV::S(s)), Some(AV::S(n))) => s.contains(n.as_str()),
            (Some(AV::B(s)), Some(AV::B(n))) => n.is_empty() || s.windows(n.len()).any(|w| w == n.as_slice()),
            (Some(AV::SS(s)), Some(AV::S(n))) => s.contains(n),
            (Some(AV::NS(s)), Some(AV::N(n))) => s.contains(n),
            (Some(AV::BS(s)), Some(AV::B(n))) => s.contains(n),
            (Some(AV::L(l)), Some(n)) => l.contains(n),
            _ => false,
        },
    }
}

/// A partial document being assembled by a projection.
enum Partial {
    Leaf(AV),
    Map(BTreeMap<String, Partial>),
    List(BTreeMap<usize, Partial>),
}

impl Partial {
    fn into_value(self) -> AV {
        match self {
            Partial::Leaf(v) => v,
            Partial::Map(m) => AV::M(m.into_iter().map(|(k, v)| (k, v.into_value())).collect()),
            // Projected list elements are compacted in index order.
            Partial::List(l) => AV::L(l.into_values().map(Partial::into_value).collect()),
        }
    }
}

/// The parts of `item` named by `paths` (ProjectionExpression semantics).
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut root: BTreeMap<String, Partial> = BTreeMap::new();
    for path in paths {
        let Some(value) = resolve(item, path) else {
            continue;
        };
        let Some((PathElem::Name(head), rest)) = path.0.split_first() else {
            continue;
        };
        if rest.is_empty() {
            root.insert(head.clone(), Partial::Leaf(value.clone()));
            continue;
        }
        let mut slot = root.entry(head.clone()).or_insert_with(|| empty_for(&rest[0]));
        for (i, e) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            let make = || if last { Partial::Leaf(value.clone()) } else { empty_for(&rest[i + 1]) };
            slot = match (e, slot) {
                (PathElem::Name(n), Partial::Map(m)) => m.entry(n.clone()).or_insert_with(make),
                (PathElem::Index(x), Partial::List(l)) => l.entry(*x).or_insert_with(make),
                // Overlapping paths are rejected at parse time.
                (_, other) => other,
            };
        }
    }
    root.into_iter().map(|(k, v)| (k, v.into_value())).collect()
}

fn empty_for(next: &PathElem) -> Partial {
    match next {
        PathElem::Name(_) => Partial::Map(BTreeMap::new()),
        PathElem::Index(_) => Partial::List(BTreeMap::new()),
    }
}
