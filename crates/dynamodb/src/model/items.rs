//! Items and their index entries: reads, and staging writes so that every
//! index changes in the same atomic batch as its base item.

use nimbus_store::{ReadView, StoreError, WriteBatch};

use super::table::{Index, Table};
use super::{INDEXES, ITEMS};
use crate::error::{internal, Result};
use crate::types::{item_from_stored, item_size, item_to_stored, Item};

pub fn read_raw(view: &dyn ReadView, key: &[u8]) -> Result<Option<Vec<u8>>> {
    view.get(ITEMS, key).map_err(internal)
}

pub fn read(view: &dyn ReadView, key: &[u8]) -> Result<Option<Item>> {
    read_raw(view, key)?.map(|b| item_from_stored(&b)).transpose()
}

/// Read inside a transaction body (store errors stay store errors).
pub fn read_in_txn(
    view: &dyn ReadView,
    key: &[u8],
) -> std::result::Result<Option<Item>, nimbus_store::TxnError<nimbus_core::AwsError>> {
    match view.get(ITEMS, key)? {
        Some(b) => item_from_stored(&b).map(Some).map_err(nimbus_store::TxnError::Aborted),
        None => Ok(None),
    }
}

/// Write units one index consumed for a change.
pub struct IndexUnits<'a> {
    pub index: &'a Index,
    pub units: f64,
}

/// Stage replacing `old` by `new` (either may be absent) at `key`, keeping
/// every index in step. Returns the index write units for capacity reports.
pub fn stage<'a>(
    batch: &mut WriteBatch,
    table: &'a Table,
    key: &[u8],
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<IndexUnits<'a>> {
    match new {
        Some(item) => batch.put(ITEMS, key.to_vec(), item_to_stored(item)),
        None => batch.delete(ITEMS, key.to_vec()),
    };
    let mut units = Vec::new();
    for index in table.indexes() {
        let old_key = old.and_then(|o| table.index_entry_key(index, o));
        let new_entry = new.and_then(|n| table.index_entry_key(index, n).map(|k| (k, index.project(table, n))));
        let mut used = 0.0;
        if let Some(ok) = &old_key {
            if new_entry.as_ref().is_none_or(|(nk, _)| nk != ok) {
                batch.delete(INDEXES, ok.clone());
                used += 1.0;
            }
        }
        if let Some((nk, projected)) = new_entry {
            used += write_units(item_size(&projected));
            batch.put(INDEXES, nk, item_to_stored(&projected));
        }
        if used > 0.0 {
            units.push(IndexUnits { index, units: used });
        }
    }
    units
}

/// 1 KB write units, at least one.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// 4 KB read units, at least one; eventually consistent reads cost half.
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// Item count and total size of a table or index (prefix `id`).
pub fn stats(view: &dyn ReadView, ks: nimbus_store::Keyspace, id: u64) -> std::result::Result<(u64, u64), StoreError> {
    let prefix = id.to_be_bytes();
    let end = nimbus_store::prefix_end(&prefix);
    let upper = match &end {
        Some(e) => std::ops::Bound::Excluded(e.as_slice()),
        None => std::ops::Bound::Unbounded,
    };
    let (mut count, mut size) = (0u64, 0u64);
    view.scan(ks, (std::ops::Bound::Included(&prefix[..]), upper), nimbus_store::Direction::Forward, &mut |_, v| {
        count += 1;
        // Stored JSON is larger than DynamoDB's accounting; parse for the real size.
        size += item_from_stored(v).map(|i| item_size(&i) as u64).unwrap_or(v.len() as u64);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok((count, size))
}
