//! The view a transaction body reads through (the writer's open write
//! transaction), and the range scan that it and the snapshots (`reads`) share.

use std::cell::RefCell;
use std::ops::Bound;

use nimbus_store::{Direction, Keyspace, ReadView, Result, StoreError, Visitor};
use redb::{ReadableTable, TableHandle};

use crate::files::err;
use crate::tables::table;

/// One item of a redb range iterator.
type Entry<'a> = std::result::Result<
    (redb::AccessGuard<'a, &'static [u8]>, redb::AccessGuard<'a, &'static [u8]>),
    redb::StorageError,
>;

pub(crate) fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    direction: Direction,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let iter = t.range::<&[u8]>(range).map_err(err)?;
    let mut step = |entry: Entry<'_>| {
        let (k, v) = entry.map_err(err)?;
        Ok::<_, StoreError>(visit(k.value(), v.value()))
    };
    match direction {
        Direction::Forward => {
            for entry in iter {
                if step(entry)?.is_break() {
                    break;
                }
            }
        }
        Direction::Backward => {
            for entry in iter.rev() {
                if step(entry)?.is_break() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A range whose start lies after its end is empty (redb would panic on it).
pub(crate) fn is_empty_range(range: &(Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match (range.0, range.1) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s), Bound::Excluded(e)) | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        _ => false,
    }
}

/// What a transaction body reads: the writer's own transaction, so it sees
/// every write applied before it, including earlier ones in its group.
pub struct WriteView<'a> {
    pub txn: &'a redb::WriteTransaction,
    pub tables: &'a KnownTables,
}

/// Keyspaces whose redb table exists: the store never drops a table, so
/// once seen, a table need not be looked up again (listing a transaction's
/// tables decodes every table's definition: about as much as the read).
/// One that a failed group created and took back with it would be created
/// again, empty, by the next read of it: the same as none.
#[derive(Default)]
pub struct KnownTables(RefCell<Vec<String>>);

impl ReadView for WriteView<'_> {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.table_exists(ks)? {
            return Ok(None);
        }
        let t = self.txn.open_table(table(ks)).map_err(err)?;
        let value = t.get(key).map_err(err)?.map(|v| v.value().to_vec());
        Ok(value)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        if is_empty_range(&range) || !self.table_exists(ks)? {
            return Ok(());
        }
        let t = self.txn.open_table(table(ks)).map_err(err)?;
        scan_table(&t, range, direction, visit)
    }
}

impl WriteView<'_> {
    /// Opening a table in a write transaction creates it; reads must not.
    fn table_exists(&self, ks: Keyspace) -> Result<bool> {
        if self.tables.0.borrow().iter().any(|known| known == ks) {
            return Ok(true);
        }
        let exists = self.txn.list_tables().map_err(err)?.any(|t| t.name() == ks);
        if exists {
            self.tables.0.borrow_mut().push(ks.to_owned());
        }
        Ok(exists)
    }
}
