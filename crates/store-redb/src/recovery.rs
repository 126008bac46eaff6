//! Recovery on open: bring redb up to the last record the log holds durably.
//!
//! redb reopens at its last durable (checkpoint) commit, which says which
//! log record it holds last (`applied_seq`) and which epoch the log's
//! current lap writes. Every record of that lap after `applied_seq` is
//! acknowledged-or-maybe work that redb lost with its non-durable commits,
//! and the lap starts at the log's beginning. So: read records from offset 0
//! while each is whole (checksum), of the current epoch and numbered one
//! past the one before (`applied_seq + 1` first), and stop at the first that
//! is not: that one is torn (never acknowledged: the writer acknowledges a
//! record only after it is durable, and writes the next only after that),
//! zeroed space, or left from an earlier lap. Re-applying the replayed ops
//! on top of the state at `applied_seq` reproduces exactly the state the
//! lost commits had, so a crash during recovery just recovers again from
//! the same durable state. Recovery ends with a checkpoint.

use std::path::Path;

use nimbus_store::Result;
use redb::{Database, Durability};

use crate::files::err;
use crate::log_file::LogReader;
use crate::log_format;
use crate::tables::{self, LogState};

/// Replay the log into `db` and checkpoint. Returns the state the log's next
/// lap starts from.
pub fn recover(db: &Database, log_path: &Path) -> Result<LogState> {
    let durable = tables::log_state(db)?;
    let mut last = durable.applied_seq;
    let txn = db.begin_write().map_err(err)?;
    if let Some(mut reader) = LogReader::open(log_path)? {
        while let Some((head, record)) = reader.next_record()? {
            if durable.epoch == 0 || head.epoch != durable.epoch || head.seq != last + 1 {
                break;
            }
            let Some(ops) = log_format::decode(&record) else { break };
            for op in ops? {
                tables::apply(&txn, op)?;
            }
            last = head.seq;
        }
    }
    if last > durable.applied_seq {
        tracing::info!(records = last - durable.applied_seq, "store: replayed the redo log");
    }
    checkpoint(txn, last)
}

/// Commit `txn` durably as holding everything up to record `seq`, under a
/// fresh epoch for the log lap that starts now.
pub fn checkpoint(mut txn: redb::WriteTransaction, seq: u64) -> Result<LogState> {
    let state = LogState { applied_seq: seq, epoch: new_epoch() };
    tables::set_applied(&txn, seq)?;
    tables::set_epoch(&txn, state.epoch)?;
    txn.set_durability(Durability::Immediate).map_err(err)?;
    txn.commit().map_err(err)?;
    Ok(state)
}

/// A random nonzero epoch: std's per-process random hash keys, stirred with
/// the time so that two checkpoints never repeat one.
fn new_epoch() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish().max(1)
}
