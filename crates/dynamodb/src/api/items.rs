//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem.

use nimbus_store::{transact, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::{
    check_no_mixing, check_placeholders_used, check_scalar_keys, check_write_expressions, envelope, legacy,
    CapacityMode, Consumed, Req, Validator,
};
use crate::engine::{apply_as, validate_put, Action, Applied, Failure, WriteOp};
use crate::error::{conditional_check_failed, internal, invalid_parameter, resource_not_found, validation, Result};
use crate::expr::eval::project;
use crate::expr::{parser, update, Attrs, Cond, Kind, Path};
use crate::metrics::Capacity;
use crate::model::items::{read, read_raw, read_units};
use crate::model::Table;
use crate::streams::Origin;
use crate::types::{item_size, Item};
use crate::DynamoDb;

/// In the order AWS lists them in validation messages.
pub const RETURN_VALUES: [&str; 5] = ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];

/// The options every single-item write shares.
pub struct WriteOptions {
    pub return_values: String,
    pub capacity: CapacityMode,
    pub metrics: bool,
    pub old_on_failure: bool,
}

impl WriteOptions {
    /// Validate the members every single-item write shares, with the table
    /// name and the required `item_member` (Item or Key), in the member order
    /// AWS reports them in.
    pub fn parse<'a>(r: &Req<'a>, item_member: &str, v: &mut Validator) -> Result<(&'a str, Self)> {
        let field = if item_member == "Item" { "item" } else { "key" };
        // PutItem reports ReturnValues before the table name; UpdateItem and
        // DeleteItem report ReturnConsumedCapacity first.
        let (name, rv, capacity) = if item_member == "Item" {
            let rv = r.enum_value("ReturnValues", "returnValues", &RETURN_VALUES, v)?;
            let name = r.item_table_name(v)?;
            (name, rv, CapacityMode::from_request(r, v)?)
        } else {
            let capacity = CapacityMode::from_request(r, v)?;
            let name = r.item_table_name(v)?;
            (name, r.enum_value("ReturnValues", "returnValues", &RETURN_VALUES, v)?, capacity)
        };
        v.not_null(r.has(item_member), field);
        let metrics =
            r.enum_value("ReturnItemCollectionMetrics", "returnItemCollectionMetrics", &["SIZE", "NONE"], v)?;
        let on_fail = r.enum_value(
            "ReturnValuesOnConditionCheckFailure",
            "returnValuesOnConditionCheckFailure",
            &["ALL_OLD", "NONE"],
            v,
        )?;
        let opts = WriteOptions {
            return_values: rv.unwrap_or("NONE").to_owned(),
            capacity,
            metrics: metrics == Some("SIZE"),
            old_on_failure: on_fail == Some("ALL_OLD"),
        };
        Ok((name, opts))
    }
}

/// ConditionExpression or the legacy Expected/ConditionalOperator.
pub fn parse_condition(r: &Req<'_>, attrs: &mut Attrs) -> Result<Option<Cond>> {
    check_no_mixing(r, &["Expected", "ConditionalOperator"], &["ConditionExpression"])?;
    if let Some(src) = r.str("ConditionExpression")? {
        return parser::condition(src, Kind::Condition, attrs).map(Some);
    }
    legacy::expected(r)
}

pub fn parse_key(r: &Req<'_>, table: &Table) -> Result<(Item, Vec<u8>)> {
    let key_item = r.item("Key")?.unwrap_or_default();
    let key = table.key_of(&key_item)?;
    Ok((key_item, key))
}

/// ItemCollectionMetrics of a write touching `item` (or its key): only
/// tables with local secondary indexes have item collections to report.
/// The size estimate is the lowest range AWS reports, 0 to 1 GB.
pub fn item_collection_metrics(table: &Table, item: &Item) -> Option<Value> {
    if table.lsis.is_empty() {
        return None;
    }
    let hash = item.get(&table.key.hash.name)?;
    Some(json!({"ItemCollectionKey": {table.key.hash.name.clone(): hash}, "SizeEstimateRangeGB": [0.0, 1.0]}))
}

/// ItemCollectionMetrics of a batch or transaction: per table, one entry for
/// each item collection its writes touch (condition checks write nothing).
pub fn collection_metrics_by_table<'a>(ops: impl Iterator<Item = &'a WriteOp>) -> Map<String, Value> {
    let mut out = Map::new();
    for op in ops {
        let item = match &op.action {
            Action::Put(item) => item,
            Action::Check => continue,
            _ => &op.key_item,
        };
        let Some(metrics) = item_collection_metrics(&op.table, item) else { continue };
        if let Value::Array(list) = out.entry(op.table.name.clone()).or_insert_with(|| Value::Array(vec![])) {
            if !list.contains(&metrics) {
                list.push(metrics);
            }
        }
    }
    out
}

/// The condition failure as the client sees it, with the old item if asked.
pub fn condition_failed(old: Option<Item>, with_item: bool) -> nimbus_core::AwsError {
    let err = conditional_check_failed();
    match old {
        Some(item) if with_item => err.with_extra("Item", serde_json::to_value(&item).unwrap_or_default()),
        _ => err,
    }
}

impl DynamoDb {
    /// Run one conditional write serializably.
    pub(crate) async fn run_write(&self, op: WriteOp, old_on_failure: bool) -> Result<Applied> {
        self.run_write_as(op, old_on_failure, Origin::Caller).await
    }

    /// As `run_write`, for a change made by `origin` (see `engine::apply_as`).
    pub(crate) async fn run_write_as(&self, op: WriteOp, old_on_failure: bool, origin: Origin) -> Result<Applied> {
        transact(self.catalog.store().as_ref(), move |view: &dyn ReadView| {
            let mut batch = WriteBatch::new();
            match apply_as(view, &op, &mut batch, origin) {
                Ok(applied) => Ok((batch, applied)),
                Err(Failure::Condition(old)) => Err(TxnError::Aborted(condition_failed(old, old_on_failure))),
                Err(Failure::Error(e)) => Err(TxnError::Aborted(e)),
            }
        })
        .await
        .map_err(crate::model::txn_error)
    }

    fn write_response(&self, table: &Table, applied: Applied, opts: &WriteOptions, updated: Option<&[Path]>) -> Value {
        let mut out = Map::new();
        let attributes = match opts.return_values.as_str() {
            "ALL_OLD" => applied.old.clone(),
            "ALL_NEW" => applied.new.clone(),
            "UPDATED_OLD" => applied.old.as_ref().map(|o| project(o, updated.unwrap_or_default())),
            "UPDATED_NEW" => applied.new.as_ref().map(|n| project(n, updated.unwrap_or_default())),
            _ => None,
        };
        if let Some(a) = attributes.filter(|a| !a.is_empty()) {
            out.insert("Attributes".into(), serde_json::to_value(&a).unwrap_or_default());
        }
        self.metrics.consumed(Capacity::Write, &applied.consumed);
        if let Some(c) = applied.consumed.to_json(opts.capacity) {
            out.insert("ConsumedCapacity".into(), c);
        }
        if opts.metrics {
            let item = applied.new.as_ref().or(applied.old.as_ref());
            if let Some(metrics) = item.and_then(|i| item_collection_metrics(table, i)) {
                out.insert("ItemCollectionMetrics".into(), metrics);
            }
        }
        Value::Object(out)
    }

    pub(crate) async fn put_item(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let parse = || -> Result<_> {
            let mut v = Validator::modern();
            let (name, opts) = WriteOptions::parse(&r, "Item", &mut v)?;
            v.finish()?;
            if !matches!(opts.return_values.as_str(), "NONE" | "ALL_OLD") {
                return Err(validation("ReturnValues can only be ALL_OLD or NONE"));
            }
            let item = r.item("Item")?.unwrap_or_default();
            let mut attrs = Attrs::from_request(&r)?;
            let condition = parse_condition(&r, &mut attrs)?;
            check_placeholders_used(&r, &["ConditionExpression"])?;
            attrs.check_unused()?;
            Ok((name, opts, item, condition))
        };
        let (name, opts, item, condition) = parse().map_err(envelope)?;
        let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
        check_write_expressions(&table, None, condition.as_ref())?;
        let key = validate_put(&table, &item)?;
        let wants_old = opts.return_values != "NONE" || opts.capacity != CapacityMode::None || opts.metrics;
        let op = WriteOp {
            table: table.clone(),
            key,
            key_item: Item::new(),
            action: Action::Put(item),
            condition,
            wants_old,
            statement_sized: false,
        };
        let applied = self.run_write(op, opts.old_on_failure).await?;
        Ok(self.write_response(&table, applied, &opts, None))
    }

    pub(crate) async fn delete_item(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let parse = || -> Result<_> {
            let mut v = Validator::modern();
            let (name, opts) = WriteOptions::parse(&r, "Key", &mut v)?;
            v.finish()?;
            if !matches!(opts.return_values.as_str(), "NONE" | "ALL_OLD") {
                return Err(validation("ReturnValues can only be ALL_OLD or NONE"));
            }
            let key_item = r.item("Key")?.unwrap_or_default();
            let mut attrs = Attrs::from_request(&r)?;
            let condition = parse_condition(&r, &mut attrs)?;
            check_placeholders_used(&r, &["ConditionExpression"])?;
            attrs.check_unused()?;
            Ok((name, opts, key_item, condition))
        };
        let (name, opts, key_item, condition) = parse().map_err(envelope)?;
        let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
        check_write_expressions(&table, None, condition.as_ref())?;
        let key = table.key_of(&key_item)?;
        let op = WriteOp {
            table: table.clone(),
            key,
            key_item,
            action: Action::Delete,
            condition,
            wants_old: true,
            statement_sized: false,
        };
        let applied = self.run_write(op, opts.old_on_failure).await?;
        Ok(self.write_response(&table, applied, &opts, None))
    }

    pub(crate) async fn update_item(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let parse = || -> Result<_> {
            let mut v = Validator::modern();
            let (name, opts) = WriteOptions::parse(&r, "Key", &mut v)?;
            v.finish()?;
            let key_item = r.item("Key")?.unwrap_or_default();
            check_no_mixing(&r, &["AttributeUpdates", "Expected"], &["UpdateExpression", "ConditionExpression"])?;
            let mut attrs = Attrs::from_request(&r)?;
            let legacy_update = !r.has("UpdateExpression");
            let update = match r.str("UpdateExpression")? {
                Some(src) => update::parse(src, &mut attrs)?,
                None => legacy::attribute_updates(&r)?.unwrap_or_default(),
            };
            let condition = parse_condition(&r, &mut attrs)?;
            check_placeholders_used(&r, &["UpdateExpression", "ConditionExpression"])?;
            attrs.check_unused()?;
            Ok((name, opts, key_item, update, condition, legacy_update))
        };
        let (name, opts, key_item, update, condition, legacy_update) = parse().map_err(envelope)?;
        let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
        let key = table.key_of(&key_item)?;
        if let Some(target) = update.targets().find(|t| table.key.is_key(t.head())) {
            return Err(invalid_parameter(format!(
                "Cannot update attribute {}. This attribute is part of the key",
                target.head()
            )));
        }
        check_write_expressions(&table, Some(&update), condition.as_ref())?;
        let updated: Vec<Path> = update.targets().cloned().collect();
        let op = WriteOp {
            table: table.clone(),
            key,
            key_item,
            action: Action::Update(update),
            condition,
            wants_old: true,
            statement_sized: true,
        };
        let applied = self.run_write(op, opts.old_on_failure).await.map_err(|e| match legacy_update {
            true => legacy_type_mismatch(e),
            false => expression_index_mismatch(e),
        })?;
        Ok(self.write_response(&table, applied, &opts, Some(&updated)))
    }

    pub(crate) async fn get_item(&self, region: &str, r: Req<'_>) -> Result<Vec<u8>> {
        let mut v = Validator::default();
        let name = r.item_table_name(&mut v)?;
        let capacity = CapacityMode::from_request(&r, &mut v)?;
        v.not_null(r.has("Key"), "key");
        v.non_empty_list(r.array("AttributesToGet")?, "attributesToGet");
        v.finish()?;
        let consistent = r.bool("ConsistentRead")?.unwrap_or(false);
        let mut attrs = Attrs::from_request(&r)?;
        let projection = parse_projection(&r, &mut attrs)?;
        check_placeholders_used(&r, &["ProjectionExpression"])?;
        attrs.check_unused()?;
        let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
        let (_, key) = parse_key(&r, &table)?;
        check_scalar_keys(&table, projection.iter().flatten())?;
        let store = self.catalog.store();
        // Fast path: hand back the stored JSON as it is.
        if projection.is_none() && capacity == CapacityMode::None {
            let raw = read_raw(store.as_ref(), &key)?;
            if self.metrics.enabled() {
                self.metrics.consumed_reads(&table.name, raw_read_units(raw.as_deref(), consistent)?);
            }
            return Ok(match raw {
                Some(raw) => {
                    let mut out = Vec::with_capacity(raw.len() + 10);
                    out.extend_from_slice(b"{\"Item\":");
                    out.extend_from_slice(&raw);
                    out.push(b'}');
                    out
                }
                None => b"{}".to_vec(),
            });
        }
        let item = read(store.as_ref(), &key)?;
        let mut out = Map::new();
        let size = item.as_ref().map_or(0, item_size);
        if let Some(item) = item {
            let shown = match &projection {
                Some(paths) => project(&item, paths),
                None => item,
            };
            out.insert("Item".into(), serde_json::to_value(&shown).map_err(internal)?);
        }
        let consumed = Consumed::new(&table.name, read_units(size, consistent));
        self.metrics.consumed(Capacity::Read, &consumed);
        if let Some(c) = consumed.to_json(capacity) {
            out.insert("ConsumedCapacity".into(), c);
        }
        serde_json::to_vec(&out).map_err(internal)
    }
}

/// AttributeUpdates words a value that does not fit the attribute's type
/// (ADD a number to a set, DELETE members from a string) as a type mismatch.
fn legacy_type_mismatch(mut err: nimbus_core::AwsError) -> nimbus_core::AwsError {
    if err.message == update::BAD_TYPE {
        err.message = "One or more parameter values were invalid: Type mismatch for attribute to update".into();
    }
    err
}

/// An index key given the wrong type by a value read from the item (`SET
/// k = other`): the types the expression alone shows were checked earlier.
fn expression_index_mismatch(mut err: nimbus_core::AwsError) -> nimbus_core::AwsError {
    if err.message.starts_with("One or more parameter values were invalid: Type mismatch for Index Key ") {
        err = validation("The update expression attempted to update the secondary index key to unsupported type");
    }
    err
}

/// Read units of a stored item without decoding it when it cannot exceed one
/// 4 KB unit: its size as DynamoDB counts it is never more than its stored
/// JSON's length.
fn raw_read_units(raw: Option<&[u8]>, consistent: bool) -> Result<f64> {
    let size = match raw {
        None => 0,
        Some(raw) if raw.len() <= 4096 => raw.len(),
        Some(raw) => item_size(&crate::types::item_from_stored(raw)?),
    };
    Ok(read_units(size, consistent))
}

/// ProjectionExpression or the legacy AttributesToGet.
pub fn parse_projection(r: &Req<'_>, attrs: &mut Attrs) -> Result<Option<Vec<Path>>> {
    check_no_mixing(r, &["AttributesToGet"], &["ProjectionExpression"])?;
    if let Some(src) = r.str("ProjectionExpression")? {
        return parser::projection(src, attrs).map(Some);
    }
    legacy::attributes_to_get(r)
}
