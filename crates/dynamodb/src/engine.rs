//! The write engine between the API and the model: one conditional write
//! (put, update, delete or bare condition check) applied against a
//! transaction's view. Single-item operations, batches and transactions all
//! go through `apply`, so they share every rule.

use std::sync::Arc;

use nimbus_core::AwsError;
use nimbus_store::{ReadView, TxnError, WriteBatch};

use crate::api::Consumed;
use crate::error::{resource_not_found, validation, Result};
use crate::expr::eval::eval;
use crate::expr::update::{self, Update};
use crate::expr::Cond;
use crate::model::items::{read_in_txn, stage, write_units};
use crate::model::Table;
use crate::streams::capture::{capture, Origin};
use crate::types::{item_size, too_deep, Item, MAX_ITEM_SIZE, NESTING_TOO_DEEP};

#[derive(Clone, Debug)]
pub enum Action {
    Put(Item),
    Update(Update),
    Delete,
    Check,
}

/// One write on one item, fully parsed and validated outside the transaction.
#[derive(Clone, Debug)]
pub struct WriteOp {
    pub table: Arc<Table>,
    /// Encoded primary key.
    pub key: Vec<u8>,
    /// The key attributes (to start an item an update creates).
    pub key_item: Item,
    pub action: Action,
    pub condition: Option<Cond>,
    /// Whether the caller needs the item as it was (ReturnValues, consumed
    /// capacity). A blind put on an unindexed table can skip reading it,
    /// which keeps the single writer's work per put small.
    pub wants_old: bool,
    /// Standalone UpdateItem also measures the statement (see
    /// `Update::statement_cost`); transactions measure only the item.
    pub statement_sized: bool,
}

pub struct Applied {
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub consumed: Consumed,
}

/// Why a write did not happen.
#[derive(Debug)]
pub enum Failure {
    /// The condition was false; carries the item as it was.
    Condition(Option<Item>),
    Error(AwsError),
}

impl From<TxnError<AwsError>> for Failure {
    fn from(e: TxnError<AwsError>) -> Self {
        Failure::Error(crate::model::txn_error(e))
    }
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Error(e)
    }
}

/// Evaluate `op` against `view` and stage its writes into `batch`.
pub fn apply(view: &dyn ReadView, op: &WriteOp, batch: &mut WriteBatch) -> std::result::Result<Applied, Failure> {
    apply_as(view, op, batch, Origin::Caller)
}

/// As `apply`, for a change made by `origin` (Time to Live deletions say so
/// in their stream records).
pub fn apply_as(
    view: &dyn ReadView,
    op: &WriteOp,
    batch: &mut WriteBatch,
    origin: Origin,
) -> std::result::Result<Applied, Failure> {
    // The table may have changed (a GSI added) or gone since the request
    // resolved it: write against the metadata in force in this transaction.
    let table = op.table.current().ok_or_else(resource_not_found)?;
    if let (true, Action::Put(item)) = (op.table.is_retired(), &op.action) {
        // Checked against the old version: check the new indexes' key types.
        table.item_key(item)?;
    }
    let blind = matches!(op.action, Action::Put(_))
        && op.condition.is_none()
        && !op.wants_old
        && table.gsis.is_empty()
        && table.lsis.is_empty()
        // A stream record says whether the put inserted or modified.
        && crate::streams::model::enabled_label(table).is_none();
    let old = if blind { None } else { read_in_txn(view, &op.key)? };
    if let Some(cond) = &op.condition {
        let empty = Item::new();
        if !eval(cond, old.as_ref().unwrap_or(&empty)) {
            return Err(Failure::Condition(old));
        }
    }
    let new = match &op.action {
        Action::Put(item) => Some(item.clone()),
        Action::Delete => None,
        Action::Check => {
            let consumed = Consumed::new(&table.name, 1.0);
            return Ok(Applied { old, new: None, consumed });
        }
        // An update that only removes attributes or set members has nothing
        // to remove from a missing item, and does not create it.
        Action::Update(u) if old.is_none() && only_removes(u) => {
            return Ok(Applied { old, new: None, consumed: Consumed::new(&table.name, write_units(0)) });
        }
        Action::Update(u) => {
            let mut item = old.clone().unwrap_or_else(|| op.key_item.clone());
            update::apply(u, &mut item)?;
            let mut too_big = item_size(&item) > MAX_ITEM_SIZE;
            if op.statement_sized && !too_big {
                let cost = u.statement_cost();
                let written: usize = cost.written.iter().filter_map(|n| item.get(n).map(|v| n.len() + v.size())).sum();
                too_big = written + cost.fixed > MAX_ITEM_SIZE;
            }
            if too_big {
                return Err(validation("Item size to update has exceeded the maximum allowed size").into());
            }
            if too_deep(&item) {
                return Err(validation(NESTING_TOO_DEEP).into());
            }
            // Index key attributes must keep their schema types.
            table.item_key(&item)?;
            Some(item)
        }
    };
    let size = old.as_ref().map_or(0, item_size).max(new.as_ref().map_or(0, item_size));
    let mut consumed = Consumed::new(&table.name, write_units(size));
    if old.is_some() || new.is_some() {
        let units = stage(batch, table, &op.key, old.as_ref(), new.as_ref());
        consumed.add_indexes(&units);
        capture(batch, table, old.as_ref(), new.as_ref(), origin);
    }
    Ok(Applied { old, new, consumed })
}

/// Check a full item for PutItem-style writes and return its encoded key.
pub fn validate_put(table: &Table, item: &Item) -> Result<Vec<u8>> {
    let key = table.item_key(item)?;
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(validation("Item size has exceeded the maximum allowed size"));
    }
    Ok(key)
}

/// Whether `u` has actions and all of them remove (REMOVE, DELETE).
fn only_removes(u: &Update) -> bool {
    u.set.is_empty() && u.add.is_empty() && !(u.remove.is_empty() && u.delete.is_empty())
}
