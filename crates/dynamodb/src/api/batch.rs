//! BatchGetItem and BatchWriteItem.

use std::collections::BTreeMap;
use std::sync::Arc;

use nimbus_store::{transact, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::items::{collection_metrics_by_table, parse_projection};
use super::{check_placeholders_used, check_scalar_keys, CapacityMode, Consumed, Req, Validator};
use crate::engine::{apply, validate_put, Action, Failure, WriteOp};
use crate::error::{internal, resource_not_found, serialization, validation, Result};
use crate::expr::eval::project;
use crate::expr::{Attrs, Path};
use crate::metrics::Capacity;
use crate::model::items::{read, read_units};
use crate::model::Table;
use crate::types::{item_from_json_in, item_size, unexpected, Item};
use crate::DynamoDb;

const MAX_GET_KEYS: usize = 100;
const MAX_WRITES: usize = 25;
/// Most data one BatchGetItem returns; the keys past it come back as
/// UnprocessedKeys.
const MAX_GET_BYTES: usize = 16 * 1024 * 1024;

fn entries<'a>(r: &Req<'a>, operation: &str) -> Result<&'a Map<String, Value>> {
    let map = match r.object("RequestItems")? {
        Some(map) if !map.is_empty() => map,
        // BatchGetItem has moved to the new validation wording; BatchWriteItem not yet.
        _ if operation == "BatchGetItem" => {
            return Err(validation(
                "1 validation error detected: Value at 'RequestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ))
        }
        _ => return Err(validation(format!("The requestItems parameter is required for {operation}"))),
    };
    Ok(map)
}

const MAP_KEYS: &str = "Map keys must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]";

/// A table name in RequestItems that fails the name constraints: reported as
/// a constraint on the map's keys, echoing the whole map.
fn check_table_names(map: &Map<String, Value>, v: &mut Validator) {
    let bad = |n: &String| {
        n.len() < 3 || n.len() > 255 || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    if map.keys().any(bad) {
        v.check(false, Some(&Value::Object(map.clone()).to_string()), "requestItems", MAP_KEYS);
    }
}

impl DynamoDb {
    pub(crate) async fn batch_get_item(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let map = entries(&r, "BatchGetItem")?;
        // Table names and the enum are reported together.
        let mut v = Validator::default();
        check_table_names(map, &mut v);
        let capacity = CapacityMode::from_request(&r, &mut v)?;
        v.finish()?;
        struct Get<'a> {
            table: Arc<Table>,
            /// The request's KeysAndAttributes, to hand back keys not read.
            spec: &'a Map<String, Value>,
            /// Each key as requested, and encoded.
            keys: Vec<(&'a Value, Vec<u8>)>,
            projection: Option<Vec<Path>>,
            consistent: bool,
        }
        // Expression and legacy projections may not mix, even across tables.
        let uses = |member: &str| map.values().any(|spec| spec.get(member).is_some_and(|v| !v.is_null()));
        if uses("AttributesToGet") && uses("ProjectionExpression") {
            return Err(validation(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
            ));
        }
        let mut gets = vec![];
        let mut total = 0;
        for (name, spec) in map {
            let obj = spec.as_object().ok_or_else(|| serialization(unexpected(spec, "Structure")))?;
            let sr = r.child(obj);
            let keys = sr.array("Keys")?.map(Vec::as_slice).unwrap_or_default();
            let bound = match keys.len() {
                0 => Some("greater than or equal to 1"),
                n if n > MAX_GET_KEYS => Some("less than or equal to 100"),
                _ => None,
            };
            if let Some(bound) = bound {
                return Err(validation(format!(
                    "1 validation error detected: Value at 'RequestItems.{name}.member.Keys' failed to satisfy constraint: Member must have length {bound}"
                )));
            }
            total += keys.len();
            if total > MAX_GET_KEYS {
                return Err(validation("Too many items requested for the BatchGetItem call"));
            }
            let mut attrs = Attrs::from_request(&sr)?;
            let projection = parse_projection(&sr, &mut attrs)?;
            check_placeholders_used(&sr, &["ProjectionExpression"])?;
            attrs.check_unused()?;
            let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
            check_scalar_keys(&table, projection.iter().flatten())?;
            let mut encoded: Vec<(&Value, Vec<u8>)> = vec![];
            for k in keys {
                let key = table.key_of(&item_from_json_in(k, sr.layer)?)?;
                if encoded.iter().any(|(_, e)| *e == key) {
                    return Err(validation("Provided list of item keys contains duplicates"));
                }
                encoded.push((k, key));
            }
            gets.push(Get {
                table,
                spec: obj,
                keys: encoded,
                projection,
                consistent: sr.bool("ConsistentRead")?.unwrap_or(false),
            });
        }
        let snap = self.catalog.store().snapshot().map_err(internal)?;
        let mut responses = Map::new();
        let mut unprocessed = Map::new();
        let mut consumed = vec![];
        let mut returned_bytes = 0;
        let mut full = false;
        for get in gets {
            let mut found = vec![];
            let mut units = 0.0;
            for (i, (_, key)) in get.keys.iter().enumerate() {
                let item = read(snap.as_ref(), key)?;
                let shown = item.as_ref().map(|item| match &get.projection {
                    Some(p) => project(item, p),
                    None => item.clone(),
                });
                let size = shown.as_ref().map_or(0, item_size);
                full |= returned_bytes + size > MAX_GET_BYTES;
                if full {
                    // Hand back this key and every one after it, with the
                    // rest of their table's KeysAndAttributes.
                    let mut spec = get.spec.clone();
                    spec.insert("Keys".into(), get.keys[i..].iter().map(|(k, _)| (*k).clone()).collect());
                    unprocessed.insert(get.table.name.clone(), Value::Object(spec));
                    break;
                }
                returned_bytes += size;
                units += read_units(item.as_ref().map_or(0, item_size), get.consistent);
                if let Some(shown) = shown {
                    found.push(serde_json::to_value(&shown).map_err(internal)?);
                }
            }
            responses.insert(get.table.name.clone(), Value::Array(found));
            let used = Consumed::new(&get.table.name, units);
            self.metrics.consumed(Capacity::Read, &used);
            consumed.extend(used.to_json(capacity));
        }
        let mut out = json!({"Responses": responses, "UnprocessedKeys": unprocessed});
        if capacity != CapacityMode::None {
            out["ConsumedCapacity"] = Value::Array(consumed);
        }
        Ok(out)
    }

    pub(crate) async fn batch_write_item(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let map = entries(&r, "BatchWriteItem")?;
        // The enums first; a bad table name only when they pass.
        let mut v = Validator::default();
        let capacity = CapacityMode::from_request(&r, &mut v)?;
        let metrics =
            r.enum_value("ReturnItemCollectionMetrics", "returnItemCollectionMetrics", &["SIZE", "NONE"], &mut v)?;
        v.finish()?;
        let mut v = Validator::default();
        check_table_names(map, &mut v);
        v.finish()?;
        let mut v = Validator::default();
        let total: usize = map.values().map(|w| w.as_array().map_or(0, Vec::len)).sum();
        for (name, writes) in map {
            let n = writes.as_array().map_or(0, Vec::len);
            if n == 0 || total > MAX_WRITES {
                v.check(
                    false,
                    Some(&format!("{{{name}={}}}", writes)),
                    "requestItems",
                    "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
                );
                break;
            }
        }
        v.finish()?;
        let mut ops = vec![];
        for (name, writes) in map {
            let list = writes.as_array().ok_or_else(|| serialization(unexpected(writes, "List")))?;
            let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
            let mut seen: Vec<Vec<u8>> = vec![];
            for w in list {
                let obj = w.as_object().ok_or_else(|| serialization(unexpected(w, "Structure")))?;
                let wr = r.child(obj);
                let (put, delete) = (wr.object("PutRequest")?, wr.object("DeleteRequest")?);
                let op = match (put, delete) {
                    (Some(p), None) => {
                        let item = r.child(p).item("Item")?.ok_or_else(|| {
                            validation("1 validation error detected: Value null at 'requestItems.member.putRequest.item' failed to satisfy constraint: Member must not be null")
                        })?;
                        // BatchWriteItem words every key-shape error as a schema mismatch.
                        let key = validate_put(&table, &item).map_err(|e| {
                            let shape = e.message.contains("Type mismatch for key") || e.message.contains("Missing the key");
                            if shape { validation("The provided key element does not match the schema") } else { e }
                        })?;
                        WriteOp {
                            table: table.clone(),
                            key,
                            key_item: Item::new(),
                            action: Action::Put(item),
                            condition: None,
                            wants_old: capacity != CapacityMode::None,
                            statement_sized: false,
                        }
                    }
                    (None, Some(d)) => {
                        let key_item = r.child(d).item("Key")?.unwrap_or_default();
                        let key = table.key_of(&key_item)?;
                        WriteOp { table: table.clone(), key, key_item, action: Action::Delete, condition: None, wants_old: true, statement_sized: false }
                    }
                    _ => {
                        return Err(validation(
                            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                        ))
                    }
                };
                if seen.contains(&op.key) {
                    return Err(validation("Provided list of item keys contains duplicates"));
                }
                seen.push(op.key.clone());
                ops.push(op);
            }
        }
        let collections = match metrics {
            Some("SIZE") => collection_metrics_by_table(ops.iter()),
            _ => Map::new(),
        };
        let results = transact(self.catalog.store().as_ref(), move |view: &dyn ReadView| {
            let mut batch = WriteBatch::new();
            let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
            for op in &ops {
                let applied = apply(view, op, &mut batch).map_err(|f| match f {
                    Failure::Error(e) => TxnError::Aborted(e),
                    Failure::Condition(_) => TxnError::Aborted(crate::error::conditional_check_failed()),
                })?;
                consumed
                    .entry(op.table.name.clone())
                    .or_insert_with(|| Consumed::new(&op.table.name, 0.0))
                    .absorb(applied.consumed);
            }
            Ok((batch, consumed))
        })
        .await
        .map_err(crate::model::txn_error)?;
        results.values().for_each(|c| self.metrics.consumed(Capacity::Write, c));
        let mut out = json!({"UnprocessedItems": {}});
        if capacity != CapacityMode::None {
            out["ConsumedCapacity"] = results.values().filter_map(|c| c.to_json(capacity)).collect();
        }
        if !collections.is_empty() {
            out["ItemCollectionMetrics"] = Value::Object(collections);
        }
        Ok(out)
    }
}
