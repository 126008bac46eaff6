//! How ops land in redb tables, and where redb records how far it is.

use std::ops::Bound;

use nimbus_store::Result;
use redb::{ReadableDatabase, TableDefinition, WriteTransaction};

use crate::files::err;
use crate::log_format::Op;

/// Each keyspace is one redb table of byte keys and values.
pub fn table(ks: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(ks)
}

/// Where redb records how far it is: the sequence number of the last log
/// record applied (committed in the same transaction as that record's ops)
/// and the epoch that the log's current lap writes (set by checkpoints). So
/// redb's durable state always says which records it already holds and
/// which ones recovery may replay. Not of the form `service.name` that
/// keyspaces have, so no keyspace collides with it.
const LOG_STATE: TableDefinition<'static, &'static str, u64> = TableDefinition::new("__nimbus_store__");
const APPLIED_SEQ: &str = "applied_seq";
const LOG_EPOCH: &str = "log_epoch";

/// What redb holds about the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogState {
    pub applied_seq: u64,
    pub epoch: u64,
}

pub fn apply(txn: &WriteTransaction, op: Op<'_>) -> Result<()> {
    match op {
        Op::Put { ks, key, value } => {
            let mut t = txn.open_table(table(ks)).map_err(err)?;
            t.insert(key, value).map_err(err)?;
        }
        Op::Delete { ks, key } => {
            let mut t = txn.open_table(table(ks)).map_err(err)?;
            t.remove(key).map_err(err)?;
        }
        Op::DeleteRange { ks, start, end } => {
            let mut t = txn.open_table(table(ks)).map_err(err)?;
            let range = (Bound::Included(start), end.map_or(Bound::Unbounded, Bound::Excluded));
            t.retain_in::<&[u8], _>(range, |_, _| false).map_err(err)?;
        }
    }
    Ok(())
}

pub fn set_applied(txn: &WriteTransaction, seq: u64) -> Result<()> {
    let mut t = txn.open_table(LOG_STATE).map_err(err)?;
    t.insert(APPLIED_SEQ, seq).map_err(err)?;
    Ok(())
}

pub fn set_epoch(txn: &WriteTransaction, epoch: u64) -> Result<()> {
    let mut t = txn.open_table(LOG_STATE).map_err(err)?;
    t.insert(LOG_EPOCH, epoch).map_err(err)?;
    Ok(())
}

/// The log state redb holds; zeros for a new store (no record has epoch 0).
pub fn log_state(db: &redb::Database) -> Result<LogState> {
    let txn = db.begin_read().map_err(err)?;
    let t = match txn.open_table(LOG_STATE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(LogState { applied_seq: 0, epoch: 0 }),
        Err(e) => return Err(err(e)),
    };
    let read = |key| Ok::<_, nimbus_store::StoreError>(t.get(key).map_err(err)?.map_or(0, |v| v.value()));
    Ok(LogState { applied_seq: read(APPLIED_SEQ)?, epoch: read(LOG_EPOCH)? })
}
