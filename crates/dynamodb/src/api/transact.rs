//! TransactWriteItems and TransactGetItems: all-or-nothing, serializable,
//! with ClientRequestToken idempotency for ten minutes.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use nimbus_core::time::now_epoch_millis;
use nimbus_store::{transact, ReadView, TxnError, WriteBatch};
use serde_json::{json, Map, Value};

use super::items::{collection_metrics_by_table, parse_condition, parse_projection};
use super::{
    check_placeholders_used, check_scalar_keys, check_write_expressions, CapacityMode, Consumed, Req, Validator,
};
use crate::engine::{apply, validate_put, Action, Failure, WriteOp};
use crate::error::{dynamodb, internal, invalid_parameter, resource_not_found, serialization, validation, Result};
use crate::expr::eval::project;
use crate::expr::update::{self, Update};
use crate::expr::{Attrs, Cond};
use crate::metrics::Capacity;
use crate::model::items::{read, read_units};
use crate::types::{item_size, unexpected, Item};
use crate::DynamoDb;

const MAX_ACTIONS: usize = 100;
/// Most data one TransactWriteItems may carry: what its actions send (the
/// items it puts, the keys of the others), not the size of the items it
/// touches, so deleting 5 MB of items in one transaction is fine.
const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
const TOKEN_LIFETIME_MS: u64 = 10 * 60 * 1000;

/// A remembered transaction: which request it was and what it answered.
pub struct TokenEntry {
    request_hash: u64,
    expires_ms: u64,
    response: Value,
}

struct TxnOp {
    write: WriteOp,
    old_on_failure: bool,
    /// A key of the wrong type does not fail the request: AWS cancels the
    /// transaction with this as the action's ValidationError reason.
    invalid_key: Option<String>,
}

/// Whether a key error cancels the transaction (type mismatches) rather than
/// failing the request up front (empty or oversized values).
fn cancels(err: &nimbus_core::AwsError) -> bool {
    err.message.starts_with("One or more parameter values were invalid: Type mismatch for key")
        || err.message == "The provided key element does not match the schema"
}

fn items_list<'a>(r: &Req<'a>) -> Result<&'a Vec<Value>> {
    let mut v = Validator::default();
    v.not_null(r.has("TransactItems"), "transactItems");
    v.finish()?;
    let list = r.array("TransactItems")?.ok_or_else(|| serialization("TransactItems"))?;
    let mut v = Validator::default();
    let shown = Value::Array(list.clone()).to_string();
    v.check(!list.is_empty(), Some(&shown), "transactItems", "Member must have length greater than or equal to 1");
    v.check(
        list.len() <= MAX_ACTIONS,
        Some(&shown),
        "transactItems",
        "Member must have length less than or equal to 100",
    );
    v.finish()?;
    Ok(list)
}

/// The one action in a TransactItems element: its name and body.
fn single_action<'a>(element: &'a Value, names: &[&'static str]) -> Result<(&'static str, &'a Map<String, Value>)> {
    let obj = element.as_object().ok_or_else(|| serialization(unexpected(element, "Structure")))?;
    let present: Vec<(&'static str, &Value)> =
        names.iter().filter_map(|n| obj.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v))).collect();
    match present.as_slice() {
        [(name, body)] => Ok((name, body.as_object().ok_or_else(|| serialization(unexpected(body, "Structure")))?)),
        [] => Err(validation("TransactItems can only contain one of Check, Put, Update or Delete")),
        _ => Err(validation("TransactItems can only contain one of Check, Put, Update or Delete")),
    }
}

/// One TransactItems action as written, before any table is looked up.
struct ParsedAction {
    action: &'static str,
    name: String,
    old_on_failure: bool,
    item: Item,
    key_item: Item,
    update: Option<Update>,
    condition: Option<Cond>,
}

/// Everything about an action that needs no table: its values, expressions
/// and placeholders. AWS checks these for every action, in request order,
/// before it looks up any table.
fn parse_action(action: &'static str, body: &Map<String, Value>) -> Result<ParsedAction> {
    let r = Req::new(body).older();
    let mut v = Validator::default();
    let name = r.item_table_name(&mut v)?;
    let on_fail = r.enum_value(
        "ReturnValuesOnConditionCheckFailure",
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
        &mut v,
    )?;
    v.finish()?;
    let mut attrs = Attrs::from_request(&r)?;
    let update = match action {
        "Update" => {
            let src = r.str("UpdateExpression")?.ok_or_else(|| {
                validation("1 validation error detected: Value null at 'transactItems.member.update.updateExpression' failed to satisfy constraint: Member must not be null")
            })?;
            Some(update::parse(src, &mut attrs)?)
        }
        _ => None,
    };
    if action == "ConditionCheck" && !r.has("ConditionExpression") {
        return Err(validation("1 validation error detected: Value null at 'transactItems.member.conditionCheck.conditionExpression' failed to satisfy constraint: Member must not be null"));
    }
    let condition = parse_condition(&r, &mut attrs)?;
    let exprs: &[&str] =
        if action == "Update" { &["UpdateExpression", "ConditionExpression"] } else { &["ConditionExpression"] };
    check_placeholders_used(&r, exprs)?;
    attrs.check_unused()?;
    // The item or key is read after the action's expressions.
    let item = if action == "Put" { r.item("Item")?.unwrap_or_default() } else { Item::new() };
    let key_item = if action == "Put" { Item::new() } else { r.item("Key")?.unwrap_or_default() };
    Ok(ParsedAction {
        action,
        name: name.to_owned(),
        old_on_failure: on_fail == Some("ALL_OLD"),
        item,
        key_item,
        update,
        condition,
    })
}

fn canceled(reasons: &[Value]) -> nimbus_core::AwsError {
    let codes: Vec<&str> = reasons.iter().map(|r| r["Code"].as_str().unwrap_or("None")).collect();
    dynamodb(
        "TransactionCanceledException",
        format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
    )
    .with_extra("CancellationReasons", Value::Array(reasons.to_vec()))
}

impl DynamoDb {
    /// Resolve a parsed action against its table: keys, schema checks.
    fn resolve_txn_op(&self, region: &str, parsed: ParsedAction) -> Result<TxnOp> {
        let ParsedAction { action, name, old_on_failure, item, key_item, update, condition } = parsed;
        let table = self.catalog.get(region, &name)?.ok_or_else(resource_not_found)?;
        let mut invalid_key = None;
        let mut checked = |result: Result<Vec<u8>>| match result {
            Ok(key) => Ok(key),
            Err(e) if cancels(&e) => {
                invalid_key = Some(e.message);
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        };
        let (key_item, key, action) = match action {
            "Put" => {
                let key = checked(validate_put(&table, &item))?;
                check_write_expressions(&table, None, condition.as_ref())?;
                (Item::new(), key, Action::Put(item))
            }
            _ => {
                let key = checked(table.key_of(&key_item))?;
                let action = match update {
                    Some(u) => {
                        if let Some(t) = u.targets().find(|t| table.key.is_key(t.head())) {
                            return Err(invalid_parameter(format!(
                                "Cannot update attribute {}. This attribute is part of the key",
                                t.head()
                            )));
                        }
                        check_write_expressions(&table, Some(&u), condition.as_ref())?;
                        Action::Update(u)
                    }
                    None => {
                        check_write_expressions(&table, None, condition.as_ref())?;
                        if action == "Delete" {
                            Action::Delete
                        } else {
                            Action::Check
                        }
                    }
                };
                (key_item, key, action)
            }
        };
        Ok(TxnOp {
            write: WriteOp { table, key, key_item, action, condition, wants_old: true, statement_sized: false },
            old_on_failure,
            invalid_key,
        })
    }

    pub(crate) async fn transact_write_items(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let list = items_list(&r)?;
        // Member constraints first, all in one message: the token, then the enums.
        let mut v = Validator::default();
        let token = r.str("ClientRequestToken")?;
        if let Some(t) = token {
            v.check(t.len() <= 36, Some(t), "clientRequestToken", "Member must have length less than or equal to 36");
            v.check(!t.is_empty(), Some(t), "clientRequestToken", "Member must have length greater than or equal to 1");
        }
        let capacity = CapacityMode::from_request(&r, &mut v)?;
        let metrics =
            r.enum_value("ReturnItemCollectionMetrics", "returnItemCollectionMetrics", &["SIZE", "NONE"], &mut v)?;
        v.finish()?;
        let request_hash = {
            let mut h = DefaultHasher::new();
            Value::Array(list.clone()).to_string().hash(&mut h);
            h.finish()
        };
        let now = now_epoch_millis();
        if let Some(t) = token {
            let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            tokens.retain(|_, e| e.expires_ms > now);
            if let Some(entry) = tokens.get(t) {
                if entry.request_hash != request_hash {
                    return Err(dynamodb(
                        "IdempotentParameterMismatchException",
                        "Request parameters do not match with the parameters of the original request with the same client request token",
                    ));
                }
                return Ok(entry.response.clone());
            }
        }
        let parsed = list
            .iter()
            .map(|element| {
                let (action, body) = single_action(element, &["ConditionCheck", "Put", "Delete", "Update"])?;
                parse_action(action, body)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut ops: Vec<TxnOp> = Vec::with_capacity(parsed.len());
        for action in parsed {
            let op = self.resolve_txn_op(region, action)?;
            let same_item = |o: &TxnOp| o.invalid_key.is_none() && o.write.key == op.write.key;
            if op.invalid_key.is_none() && ops.iter().any(same_item) {
                return Err(validation("Transaction request cannot include multiple operations on one item"));
            }
            ops.push(op);
        }
        let payload: usize = ops
            .iter()
            .map(|op| match &op.write.action {
                Action::Put(item) => item_size(item),
                _ => item_size(&op.write.key_item),
            })
            .sum();
        if payload > MAX_PAYLOAD_BYTES {
            return Err(validation("The transaction payload size cannot exceed 4 MB"));
        }
        // Actions are validated before any runs: the first invalid one
        // cancels the transaction and the others report no reason.
        if let Some(first) = ops.iter().position(|op| op.invalid_key.is_some()) {
            let reasons: Vec<Value> = ops
                .iter()
                .enumerate()
                .map(|(i, op)| match (&op.invalid_key, i == first) {
                    (Some(message), true) => json!({"Code": "ValidationError", "Message": message}),
                    _ => json!({"Code": "None"}),
                })
                .collect();
            return Err(canceled(&reasons));
        }
        let collections = match metrics {
            Some("SIZE") => collection_metrics_by_table(ops.iter().map(|op| &op.write)),
            _ => Map::new(),
        };
        let consumed = transact(self.catalog.store().as_ref(), move |view: &dyn ReadView| {
            let mut batch = WriteBatch::new();
            let mut reasons = Vec::with_capacity(ops.len());
            let mut failed = false;
            let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
            for op in &ops {
                match apply(view, &op.write, &mut batch) {
                    Ok(applied) => {
                        reasons.push(json!({"Code": "None"}));
                        let name = &op.write.table.name;
                        consumed
                            .entry(name.clone())
                            .or_insert_with(|| Consumed::new(name, 0.0))
                            .absorb(applied.consumed);
                    }
                    Err(Failure::Condition(old)) => {
                        failed = true;
                        let mut reason =
                            json!({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"});
                        if let Some(item) = old.filter(|_| op.old_on_failure) {
                            reason["Item"] = serde_json::to_value(&item).unwrap_or_default();
                        }
                        reasons.push(reason);
                    }
                    Err(Failure::Error(e)) if e.status.is_server_error() => return Err(TxnError::Aborted(e)),
                    Err(Failure::Error(e)) => {
                        failed = true;
                        reasons.push(json!({"Code": "ValidationError", "Message": e.message}));
                    }
                }
            }
            if failed {
                return Err(TxnError::Aborted(canceled(&reasons)));
            }
            Ok((batch, consumed))
        })
        .await
        .map_err(crate::model::txn_error)?;
        let consumed: Vec<Consumed> = consumed.into_values().map(Consumed::doubled).collect();
        consumed.iter().for_each(|c| self.metrics.consumed(Capacity::Write, c));
        let mut out = json!({});
        if capacity != CapacityMode::None {
            out["ConsumedCapacity"] = consumed.iter().filter_map(|c| c.to_json(capacity)).collect();
        }
        if !collections.is_empty() {
            out["ItemCollectionMetrics"] = Value::Object(collections);
        }
        if let Some(t) = token {
            let entry = TokenEntry { request_hash, expires_ms: now + TOKEN_LIFETIME_MS, response: out.clone() };
            self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(t.to_owned(), entry);
        }
        Ok(out)
    }

    pub(crate) async fn transact_get_items(&self, region: &str, r: Req<'_>) -> Result<Value> {
        let list = items_list(&r)?;
        let mut v = Validator::default();
        let capacity = CapacityMode::from_request(&r, &mut v)?;
        v.finish()?;
        let mut gets = vec![];
        for element in list {
            let (_, body) = single_action(element, &["Get"])?;
            let gr = Req::new(body).older();
            let mut v = Validator::default();
            let name = gr.item_table_name(&mut v)?;
            v.finish()?;
            let mut attrs = Attrs::from_request(&gr)?;
            let projection = parse_projection(&gr, &mut attrs)?;
            check_placeholders_used(&gr, &["ProjectionExpression"])?;
            attrs.check_unused()?;
            let table = self.catalog.get(region, name)?.ok_or_else(resource_not_found)?;
            check_scalar_keys(&table, projection.iter().flatten())?;
            // A key that does not fit the schema cancels the transaction.
            let key = match table.key_of(&gr.item("Key")?.unwrap_or_default()) {
                Ok(key) => Ok(key),
                Err(e) if cancels(&e) => Err(e.message),
                Err(e) => return Err(e),
            };
            gets.push((table, key, projection));
        }
        if gets.iter().any(|(_, key, _)| key.is_err()) {
            let reasons: Vec<Value> = gets
                .iter()
                .map(|(_, key, _)| match key {
                    Ok(_) => json!({"Code": "None"}),
                    Err(message) => json!({"Code": "ValidationError", "Message": message}),
                })
                .collect();
            return Err(canceled(&reasons));
        }
        let gets: Vec<_> = gets.into_iter().filter_map(|(t, k, p)| k.ok().map(|k| (t, k, p))).collect();
        // One snapshot: every item as of the same instant.
        let snap = self.catalog.store().snapshot().map_err(internal)?;
        let mut responses = vec![];
        let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
        for (table, key, projection) in &gets {
            let item = read(snap.as_ref(), key)?;
            let entry = consumed.entry(table.name.clone()).or_insert_with(|| Consumed::new(&table.name, 0.0));
            entry.table_units += 2.0 * read_units(item.as_ref().map_or(0, item_size), true);
            responses.push(match item {
                Some(item) => {
                    let shown = match projection {
                        Some(p) => project(&item, p),
                        None => item,
                    };
                    json!({"Item": shown})
                }
                None => json!({}),
            });
        }
        consumed.values().for_each(|c| self.metrics.consumed(Capacity::Read, c));
        let mut out = json!({"Responses": responses});
        if capacity != CapacityMode::None {
            out["ConsumedCapacity"] = consumed.values().filter_map(|c| c.to_json(capacity)).collect();
        }
        Ok(out)
    }
}
