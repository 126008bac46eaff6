//! Query and Scan: one ordered range scan over a table's or an index's
//! entries, with key conditions turned into range bounds, then filter,
//! projection, Limit and the 1 MB page limit.

use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

use nimbus_store::{prefix_end, Direction, Keyspace};
use serde_json::{json, Map, Value};

use super::items::parse_projection;
use super::{
    check_no_mixing, check_placeholders_used, check_scalar_keys, legacy, CapacityMode, Consumed, Req, Validator,
};
use crate::error::{internal, invalid_parameter, resource_not_found, validation, Result};
use crate::expr::eval::{eval, project};
use crate::expr::{key_shape, parser, Attrs, Cmp, Cond, Kind, Operand, Path, PathElem};
use crate::metrics::Capacity;
use crate::model::items::{read, read_units};
use crate::model::table::{check_key_not_empty, Index, KeyAttr, KeySchema};
use crate::model::{Table, INDEXES, ITEMS};
use crate::types::{item_from_json, item_from_stored, item_size, key, AttributeValue, Item};
use crate::DynamoDb;

/// A page never holds more than 1 MB of scanned items.
const PAGE_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    AllAttributes,
    AllProjected,
    Specific,
    Count,
}

/// A condition on the sort key, from the key condition.
enum RangeCond {
    Cmp(Cmp, AttributeValue),
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

/// Everything a Query or Scan page needs, parsed and validated.
struct Plan {
    table: Arc<Table>,
    index: Option<Index>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    forward: bool,
    limit: Option<usize>,
    filter: Option<Cond>,
    projection: Option<Vec<Path>>,
    select: Select,
    segment: Option<(u64, u64)>,
    consistent: bool,
    capacity: CapacityMode,
}

fn single_name(p: &Path) -> Option<&str> {
    match p.0.as_slice() {
        [PathElem::Name(n)] => Some(n),
        _ => None,
    }
}

/// Split a key condition into the partition value and the sort-key condition.
/// The partition value, the equalities on leading RANGE attributes of a
/// multi-attribute key, and the condition on the last RANGE attribute named.
type KeyCondition = (AttributeValue, Vec<AttributeValue>, Option<RangeCond>);

/// The partition value a key condition names (IAM's `dynamodb:LeadingKeys`).
pub(crate) fn partition_value(cond: Cond, schema: &KeySchema) -> Option<AttributeValue> {
    key_condition(cond, schema).ok().map(|(hash, _, _)| hash)
}

fn key_condition(cond: Cond, schema: &KeySchema) -> Result<KeyCondition> {
    fn flatten(c: Cond, out: &mut Vec<Cond>) -> Result<()> {
        match c {
            Cond::And(a, b) => {
                flatten(*a, out)?;
                flatten(*b, out)
            }
            Cond::Or(..) => Err(validation("Invalid operator used in KeyConditionExpression: OR")),
            Cond::Not(..) => Err(validation("Invalid operator used in KeyConditionExpression: NOT")),
            other => {
                out.push(other);
                Ok(())
            }
        }
    }
    let mut parts = vec![];
    flatten(cond, &mut parts)?;

    let unsupported = || validation("Query key condition not supported");
    let mut conditions = Vec::with_capacity(parts.len());
    for part in parts {
        let (name, rc) = match part {
            Cond::Compare(cmp, Operand::Path(p), Operand::Value(v)) => {
                (single_name(&p).map(str::to_owned), RangeCond::Cmp(cmp, v))
            }
            Cond::Compare(cmp, Operand::Value(v), Operand::Path(p)) => {
                let flipped = match cmp {
                    Cmp::Lt => Cmp::Gt,
                    Cmp::Le => Cmp::Ge,
                    Cmp::Gt => Cmp::Lt,
                    Cmp::Ge => Cmp::Le,
                    other => other,
                };
                (single_name(&p).map(str::to_owned), RangeCond::Cmp(flipped, v))
            }
            Cond::Between(Operand::Path(p), Operand::Value(a), Operand::Value(b)) => {
                (single_name(&p).map(str::to_owned), RangeCond::Between(a, b))
            }
            Cond::BeginsWith(Operand::Path(p), Operand::Value(v)) => {
                (single_name(&p).map(str::to_owned), RangeCond::BeginsWith(v))
            }
            Cond::In(..) => return Err(validation("Invalid operator used in KeyConditionExpression: IN")),
            Cond::Exists(_) => {
                return Err(validation("Invalid operator used in KeyConditionExpression: attribute_exists"))
            }
            Cond::NotExists(_) => {
                return Err(validation("Invalid operator used in KeyConditionExpression: attribute_not_exists"))
            }
            Cond::Type(..) => {
                return Err(validation("Invalid operator used in KeyConditionExpression: attribute_type"))
            }
            Cond::Contains(..) => return Err(validation("Invalid operator used in KeyConditionExpression: contains")),
            _ => return Err(unsupported()),
        };
        if let RangeCond::Cmp(Cmp::Ne, _) = rc {
            return Err(validation("Unsupported operator on KeyConditionExpression: operator: <>"));
        }
        conditions.push((name.ok_or_else(unsupported)?, rc));
    }
    // Two conditions on one attribute, then too many conditions for the key.
    for (i, (name, _)) in conditions.iter().enumerate() {
        if conditions[..i].iter().any(|(n, _)| n == name) {
            return Err(validation(
                "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key",
            ));
        }
    }
    let key_count = schema.attrs().count();
    if conditions.len() > key_count {
        return Err(validation(format!(
            "The number of query conditions ({}) exceeds the number of key attributes defined in the schema ({key_count})",
            conditions.len()
        )));
    }
    // A condition on a non-key attribute reports the key element left out.
    let has_hash = conditions.iter().any(|(n, _)| *n == schema.hash.name);
    let missed = || {
        let missing = match &schema.range {
            Some(r) if has_hash => &r.name,
            _ => &schema.hash.name,
        };
        validation(format!("Query condition missed key schema element: {missing}"))
    };
    let ranges: Vec<&KeyAttr> = schema.ranges().collect();
    let mut hash: Option<AttributeValue> = None;
    // The condition on each RANGE attribute, by position in the key.
    let mut on_range: Vec<Option<RangeCond>> = ranges.iter().map(|_| None).collect();
    for (name, rc) in conditions {
        let position = ranges.iter().position(|r| r.name == name);
        let attr = if name == schema.hash.name {
            &schema.hash
        } else if let Some(i) = position {
            ranges[i]
        } else {
            return Err(missed());
        };
        let values: Vec<&AttributeValue> = match &rc {
            RangeCond::Cmp(_, v) | RangeCond::BeginsWith(v) => vec![v],
            RangeCond::Between(a, b) => vec![a, b],
        };
        if values.iter().any(|v| !attr.kind.matches(v)) {
            return Err(invalid_parameter("Condition parameter type does not match schema type"));
        }
        values.iter().try_for_each(|v| check_key_not_empty(v, &attr.name))?;
        match position {
            None => {
                let RangeCond::Cmp(Cmp::Eq, v) = rc else {
                    return Err(unsupported());
                };
                hash = Some(v);
            }
            Some(i) => {
                if matches!(rc, RangeCond::BeginsWith(_)) && attr.kind == crate::model::table::ScalarType::N {
                    return Err(unsupported());
                }
                on_range[i] = Some(rc);
            }
        }
    }
    let hash =
        hash.ok_or_else(|| validation(format!("Query condition missed key schema element: {}", schema.hash.name)))?;
    // A multi-attribute key needs equalities on every RANGE attribute before
    // the last one conditioned.
    let Some(last) = on_range.iter().rposition(Option::is_some) else {
        return Ok((hash, vec![], None));
    };
    let lacking: Vec<&str> = (0..last)
        .filter(|&i| !matches!(on_range[i], Some(RangeCond::Cmp(Cmp::Eq, _))))
        .map(|i| ranges[i].name.as_str())
        .collect();
    if !lacking.is_empty() {
        return Err(validation(format!(
            "RANGE key attributes {} must have equality conditions specified in the query because a condition is present on key attribute {}",
            lacking.join(", "),
            ranges[last].name
        )));
    }
    let mut conds = on_range.into_iter().take(last + 1).flatten();
    let equalities = conds
        .by_ref()
        .take(last)
        .filter_map(|c| match c {
            RangeCond::Cmp(Cmp::Eq, v) => Some(v),
            _ => None,
        })
        .collect();
    Ok((hash, equalities, conds.next()))
}

fn encoded(prefix: &[u8], v: &AttributeValue) -> Vec<u8> {
    let mut k = prefix.to_vec();
    key::encode(v, &mut k);
    k
}

fn after(prefix: &[u8]) -> Bound<Vec<u8>> {
    prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// Range bounds of a partition `p` under a sort-key condition.
fn range_bounds(p: &[u8], rc: Option<&RangeCond>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let whole = (Bound::Included(p.to_vec()), after(p));
    let Some(rc) = rc else { return whole };
    match rc {
        RangeCond::Cmp(Cmp::Eq, v) => {
            let k = encoded(p, v);
            (Bound::Included(k.clone()), after(&k))
        }
        RangeCond::Cmp(Cmp::Lt, v) => (whole.0, Bound::Excluded(encoded(p, v))),
        RangeCond::Cmp(Cmp::Le, v) => (whole.0, after(&encoded(p, v))),
        RangeCond::Cmp(Cmp::Gt, v) => (after(&encoded(p, v)), whole.1),
        RangeCond::Cmp(_, v) => (Bound::Included(encoded(p, v)), whole.1),
        RangeCond::Between(a, b) => (Bound::Included(encoded(p, a)), after(&encoded(p, b))),
        RangeCond::BeginsWith(v) => {
            // The escaped bytes without the terminator prefix every longer value.
            let mut k = encoded(p, v);
            k.truncate(k.len() - 2);
            (Bound::Included(k.clone()), after(&k))
        }
    }
}

/// Narrow the scan to start after ExclusiveStartKey, which must lie in the
/// queried partition and inside the range the sort-key condition selects.
fn apply_start(plan: &mut Plan, partition: Option<&[u8]>, start: Vec<u8>) -> Result<()> {
    if partition.is_some_and(|p| !start.starts_with(p)) {
        return Err(validation("The provided starting key is outside query boundaries based on provided conditions"));
    }
    let above_lower = match &plan.lower {
        Bound::Included(l) | Bound::Excluded(l) => start >= *l,
        Bound::Unbounded => true,
    };
    let below_upper = match &plan.upper {
        Bound::Included(u) | Bound::Excluded(u) => start <= *u,
        Bound::Unbounded => true,
    };
    if !above_lower || !below_upper {
        return Err(validation("The provided starting key does not match the range key predicate"));
    }
    if plan.forward {
        plan.lower = Bound::Excluded(start);
    } else {
        plan.upper = Bound::Excluded(start);
    }
    Ok(())
}

fn segment_of(value: Option<&AttributeValue>, total: u64) -> u64 {
    // FNV-1a over the encoded partition key: stable across restarts.
    let mut bytes = vec![];
    if let Some(v) = value {
        key::encode(v, &mut bytes);
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h % total
}

impl DynamoDb {
    /// Parse what Query and Scan share; `query` adds the key condition.
    fn plan(&self, region: &str, r: &Req<'_>, query: bool) -> Result<Plan> {
        let mut v = Validator::default();
        let name = r.item_table_name(&mut v)?;
        let capacity = CapacityMode::from_request(r, &mut v)?;
        let select = r.enum_value(
            "Select",
            "select",
            &["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
            &mut v,
        )?;
        v.non_empty_list(r.array("AttributesToGet")?, "attributesToGet");
        let limit = r.int("Limit")?;
        if limit.is_some_and(|l| l < 1) {
            // Reported on its own, in the new validation wording.
            return Err(validation(
                "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ));
        }
        let index_name = r.str("IndexName")?;
        if index_name.is_some() {
            v.table_name(index_name, "indexName");
        }
        let (segment, total) = (r.int("Segment")?, r.int("TotalSegments")?);
        if let Some(s) = segment {
            v.check(s >= 0, Some(&s.to_string()), "segment", "Member must have value greater than or equal to 0");
            v.check(
                s <= 999999,
                Some(&s.to_string()),
                "segment",
                "Member must have value less than or equal to 999999",
            );
        }
        if let Some(t) = total {
            v.check(t >= 1, Some(&t.to_string()), "totalSegments", "Member must have value greater than or equal to 1");
            v.check(
                t <= 1000000,
                Some(&t.to_string()),
                "totalSegments",
                "Member must have value less than or equal to 1000000",
            );
        }
        v.finish()?;
        let segment = match (segment, total) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(validation(
                    "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
                ))
            }
            (None, Some(_)) => {
                return Err(validation(
                    "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
                ))
            }
            (Some(s), Some(t)) if s >= t => {
                return Err(validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )))
            }
            (Some(s), Some(t)) => Some((s as u64, t as u64)),
        };
        // Any legacy parameter rules out every expression, whichever pair.
        let filter_member = if query { "QueryFilter" } else { "ScanFilter" };
        check_no_mixing(
            r,
            &["AttributesToGet", "ConditionalOperator", "KeyConditions", filter_member],
            &["FilterExpression", "KeyConditionExpression", "ProjectionExpression"],
        )?;
        let mut attrs = Attrs::from_request(r)?;
        let key_cond = if !query {
            None
        } else if let Some(src) = r.str("KeyConditionExpression")? {
            let cond = parser::condition(src, Kind::KeyCondition, &mut attrs)?;
            key_shape::check(&cond)?;
            Some(cond)
        } else if r.has("KeyConditions") {
            legacy::filter(r, "KeyConditions", false)?
        } else {
            return Err(validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        };
        let filter = match r.str("FilterExpression")? {
            Some(src) => Some(parser::condition(src, Kind::Filter, &mut attrs)?),
            None => {
                let or = legacy::filter_operator(r)?;
                legacy::filter(r, filter_member, or)?
            }
        };
        let projection = parse_projection(r, &mut attrs)?;
        let exprs: &[&str] = if query {
            &["KeyConditionExpression", "FilterExpression", "ProjectionExpression"]
        } else {
            &["FilterExpression", "ProjectionExpression"]
        };
        check_placeholders_used(r, exprs)?;
        attrs.check_unused()?;
        let select = match select {
            Some("COUNT") => Select::Count,
            Some("ALL_ATTRIBUTES") => Select::AllAttributes,
            Some("ALL_PROJECTED_ATTRIBUTES") => Select::AllProjected,
            Some(_) => Select::Specific,
            None if projection.is_some() => Select::Specific,
            None if index_name.is_some() => Select::AllProjected,
            None => Select::AllAttributes,
        };
        if projection.is_some() && select != Select::Specific {
            let which = if r.has("ProjectionExpression") { "ProjectionExpression" } else { "AttributesToGet" };
            let chosen = r.str("Select")?.unwrap_or_default();
            return Err(validation(format!("Cannot specify the {which} when choosing to get {chosen}")));
        }
        if select == Select::Specific && projection.is_none() {
            return Err(validation(
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
            ));
        }
        if select == Select::AllProjected && index_name.is_none() {
            return Err(validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"));
        }
        let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
        let index = match index_name {
            Some(n) => Some(
                table
                    .index(n)
                    .cloned()
                    .ok_or_else(|| validation(format!("The table does not have the specified index: {n}")))?,
            ),
            None => None,
        };
        let consistent = r.bool("ConsistentRead")?.unwrap_or(false);
        if let Some(i) = &index {
            if i.global && consistent {
                return Err(validation("Consistent reads are not supported on global secondary indexes"));
            }
            if i.global && select == Select::AllAttributes && !i.projects_all() {
                return Err(invalid_parameter(format!(
                    "Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    i.name
                )));
            }
        }
        check_scalar_keys(&table, filter.iter().flat_map(Cond::paths).chain(projection.iter().flatten()))?;
        let schema = index.as_ref().map_or(&table.key, |i| &i.key);
        let id = index.as_ref().map_or(table.id, |i| i.id).to_be_bytes();
        if query && !r.has("KeyConditionExpression") {
            legacy::check_key_conditions(r, schema)?;
        }
        // The encoded partition a Query reads (hash key and leading equalities).
        let mut partition = None;
        let (lower, upper) = match key_cond {
            Some(kc) => {
                let (hash, equalities, range) = key_condition(kc, schema)?;
                if let Some(f) = &filter {
                    if let Some(p) = f.paths().into_iter().find(|p| schema.is_key(p.head())) {
                        let source = if r.has("QueryFilter") { "QueryFilter" } else { "Filter Expression" };
                        return Err(validation(format!(
                            "{source} can only contain non-primary key attributes: Primary key attribute: {}",
                            p.head()
                        )));
                    }
                }
                let mut prefix = encoded(&id, &hash);
                for v in &equalities {
                    key::encode(v, &mut prefix);
                }
                let bounds = range_bounds(&prefix, range.as_ref());
                partition = Some(prefix);
                bounds
            }
            // An empty KeyConditions map names no partition.
            None if query => {
                return Err(validation(format!("Query condition missed key schema element: {}", schema.hash.name)))
            }
            None => (Bound::Included(id.to_vec()), after(&id)),
        };
        let mut plan = Plan {
            table: table.clone(),
            index,
            lower,
            upper,
            forward: r.bool("ScanIndexForward")?.unwrap_or(true),
            limit: limit.map(|l| l as usize),
            filter,
            projection,
            select,
            segment,
            consistent,
            capacity,
        };
        if let Some(esk) = r.get("ExclusiveStartKey") {
            let esk = item_from_json(esk)?;
            // Only a Scan of a base table says why the key is invalid.
            let invalid = || match query || plan.index.is_some() {
                true => validation("The provided starting key is invalid"),
                false => validation(
                    "The provided starting key is invalid: The provided key element does not match the schema",
                ),
            };
            let start = match &plan.index {
                None => table.key_of(&esk).map_err(|_| invalid())?,
                Some(i) => {
                    let expected = table
                        .key
                        .attrs()
                        .chain(i.key.attrs())
                        .map(|a| &a.name)
                        .collect::<std::collections::BTreeSet<_>>();
                    if esk.len() != expected.len() || esk.keys().any(|k| !expected.contains(k)) {
                        return Err(invalid());
                    }
                    table.index_entry_key(i, &esk).ok_or_else(invalid)?
                }
            };
            if let Some((seg, total)) = plan.segment {
                if segment_of(esk.get(&table.key.hash.name), total) != seg {
                    return Err(validation(format!(
                        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {total} Segment: {seg}"
                    )));
                }
            }
            apply_start(&mut plan, partition.as_deref(), start)?;
        }
        Ok(plan)
    }

    fn run_plan(&self, plan: Plan) -> Result<Value> {
        let snap = self.catalog.store().snapshot().map_err(internal)?;
        let ks: Keyspace = if plan.index.is_some() { INDEXES } else { ITEMS };
        let direction = if plan.forward { Direction::Forward } else { Direction::Backward };
        let range = (as_ref(&plan.lower), as_ref(&plan.upper));
        let mut items: Vec<Item> = vec![];
        let (mut scanned, mut count, mut bytes) = (0usize, 0usize, 0usize);
        let mut last: Option<Item> = None;
        let mut failure = None;
        let needs_base = plan.index.as_ref().is_some_and(|i| {
            !i.global && !i.projects_all() && (plan.select == Select::AllAttributes || plan.projection.is_some())
        });
        snap.scan(ks, range, direction, &mut |_, raw| {
            let mut item = match item_from_stored(raw) {
                Ok(i) => i,
                Err(e) => {
                    failure = Some(e);
                    return ControlFlow::Break(());
                }
            };
            if let Some((seg, total)) = plan.segment {
                if segment_of(item.get(&plan.table.key.hash.name), total) != seg {
                    return ControlFlow::Continue(());
                }
            }
            if needs_base {
                match plan.table.key_of(&plan.table.key_attributes(&item, None)).and_then(|k| read(snap.as_ref(), &k)) {
                    Ok(Some(base)) => item = base,
                    Ok(None) => return ControlFlow::Continue(()),
                    Err(e) => {
                        failure = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            scanned += 1;
            bytes += item_size(&item);
            let limit_hit = plan.limit.is_some_and(|l| scanned >= l);
            if limit_hit || bytes >= PAGE_BYTES {
                last = Some(plan.table.key_attributes(&item, plan.index.as_ref()));
            }
            if plan.filter.as_ref().is_none_or(|f| eval(f, &item)) {
                count += 1;
                if plan.select != Select::Count {
                    items.push(match &plan.projection {
                        Some(paths) => project(&item, paths),
                        None => item,
                    });
                }
            }
            if last.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(internal)?;
        if let Some(e) = failure {
            return Err(e);
        }
        let mut out = Map::new();
        if plan.select != Select::Count {
            out.insert("Items".into(), serde_json::to_value(&items).map_err(internal)?);
        }
        out.insert("Count".into(), json!(count));
        out.insert("ScannedCount".into(), json!(scanned));
        if let Some(k) = last {
            out.insert("LastEvaluatedKey".into(), serde_json::to_value(&k).map_err(internal)?);
        }
        let units = read_units(bytes, plan.consistent);
        let consumed = match &plan.index {
            None => Consumed::new(&plan.table.name, units),
            Some(i) => {
                let mut c = Consumed::new(&plan.table.name, 0.0);
                if i.global {
                    c.gsi.push((i.name.clone(), units));
                } else {
                    c.lsi.push((i.name.clone(), units));
                }
                c
            }
        };
        self.metrics.consumed(Capacity::Read, &consumed);
        if let Some(c) = consumed.to_json(plan.capacity) {
            out.insert("ConsumedCapacity".into(), c);
        }
        Ok(Value::Object(out))
    }

    pub(crate) async fn query(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let plan = self.plan(region, &r, true)?;
        self.run_plan(plan)
    }

    pub(crate) async fn scan(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let plan = self.plan(region, &r, false)?;
        self.run_plan(plan)
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
