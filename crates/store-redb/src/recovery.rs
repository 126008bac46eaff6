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

/// What recovery did.
pub struct Recovered {
    /// The state the log's next lap starts from.
    pub state: LogState,
    /// How many records it replayed.
    pub replayed: u64,
}

/// Replay the log into `db` and checkpoint.
pub fn recover(db: &Database, log_path: &Path) -> Result<Recovered> {
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
    Ok(Recovered { state: checkpoint(txn, last)?, replayed: last - durable.applied_seq })
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

#[cfg(test)]
mod tests {
    //! Recovery from the log states a crash can leave, built with the real
    //! log writer on real files.

    use std::path::PathBuf;

    use redb::ReadableDatabase;

    use super::*;
    use crate::log_file::LogFile;
    use crate::log_format::{Op, RecordBuilder, BLOCK};
    use crate::tables::table;

    const KS: &str = "t.kv";
    const CAPACITY: u64 = 1 << 20;

    struct Scratch {
        dir: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("nimbus-recovery-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch { dir }
        }

        fn db(&self) -> Database {
            Database::create(self.dir.join("store.redb")).unwrap()
        }

        fn log(&self) -> PathBuf {
            self.dir.join("store.redb.log")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn record(epoch: u64, seq: u64, ops: &[Op<'_>]) -> Vec<u8> {
        let mut builder = RecordBuilder::default();
        builder.start(epoch, seq);
        for op in ops {
            builder.push(*op);
        }
        builder.finish().to_vec()
    }

    fn put<'a>(key: &'a str, value: &'a str) -> Op<'a> {
        Op::Put { ks: KS, key: key.as_bytes(), value: value.as_bytes() }
    }

    fn get(db: &Database, key: &str) -> Option<String> {
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(table(KS)).ok()?;
        let value = t.get(key.as_bytes()).unwrap().map(|v| String::from_utf8(v.value().to_vec()).unwrap());
        value
    }

    /// A store just recovered (empty log), as every open leaves it.
    fn fresh(scratch: &Scratch) -> (Database, LogState) {
        let db = scratch.db();
        let state = recover(&db, &scratch.log()).unwrap().state;
        (db, state)
    }

    #[test]
    fn records_after_the_checkpoint_are_replayed_in_order_and_a_garbage_tail_is_ignored() {
        let scratch = Scratch::new("replay");
        let (db, state) = fresh(&scratch);
        let (e, s) = (state.epoch, state.applied_seq);
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        log.append(&record(e, s + 1, &[put("a", "1"), put("b", "1")])).unwrap();
        log.append(&record(e, s + 2, &[put("a", "2"), Op::Delete { ks: KS, key: b"b" }])).unwrap();
        log.append(&record(e, s + 3, &[Op::DeleteRange { ks: KS, start: b"a", end: Some(b"b") }, put("c", "3")]))
            .unwrap();
        // A tail of garbage, as a torn multi-block write or a bad sector leaves it.
        let garbage: Vec<u8> = (0..2 * BLOCK).map(|i| (i * 7 + 13) as u8).collect();
        log.append(&garbage).unwrap();
        drop(log);

        let recovered = recover(&db, &scratch.log()).unwrap();
        assert_eq!(recovered.replayed, 3);
        assert_eq!(recovered.state.applied_seq, s + 3);
        assert_ne!(recovered.state.epoch, e, "recovery checkpoints under a new epoch");
        assert_eq!((get(&db, "a"), get(&db, "b"), get(&db, "c")), (None, None, Some("3".into())));
        // Recovering again replays nothing: the old lap's epoch is stale now.
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 0);
        assert_eq!(get(&db, "c").as_deref(), Some("3"));
    }

    #[test]
    fn replay_stops_at_a_torn_record_even_if_a_valid_one_follows() {
        let scratch = Scratch::new("torn");
        let (db, state) = fresh(&scratch);
        let (e, s) = (state.epoch, state.applied_seq);
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        log.append(&record(e, s + 1, &[put("a", "1")])).unwrap();
        let mut torn = record(e, s + 2, &[put("b", "2")]);
        torn[40] ^= 1;
        log.append(&torn).unwrap();
        log.append(&record(e, s + 3, &[put("c", "3")])).unwrap();
        drop(log);

        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 1);
        assert_eq!((get(&db, "a"), get(&db, "b"), get(&db, "c")), (Some("1".into()), None, None));
    }

    #[test]
    fn records_of_another_epoch_or_out_of_sequence_are_not_replayed() {
        let scratch = Scratch::new("stale");
        let (db, state) = fresh(&scratch);
        let (e, s) = (state.epoch, state.applied_seq);
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        log.append(&record(e ^ 1, s + 1, &[put("a", "stale epoch")])).unwrap();
        drop(log);
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 0);
        assert_eq!(get(&db, "a"), None);

        let state = tables::log_state(&db).unwrap();
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        log.append(&record(state.epoch, state.applied_seq + 2, &[put("a", "gap")])).unwrap();
        drop(log);
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 0);
        assert_eq!(get(&db, "a"), None);
    }

    /// A crash during a checkpoint leaves redb either before it (the log
    /// still holds the lap: replay) or after it (the lap is stale: nothing
    /// replays twice), and a crash just after the log restarted leaves new
    /// records over the start of the old lap.
    #[test]
    fn a_crash_around_a_checkpoint_or_a_log_restart_recovers_exactly() {
        let scratch = Scratch::new("checkpoint");
        let (db, state) = fresh(&scratch);
        let (e, s) = (state.epoch, state.applied_seq);
        let lap = [
            record(e, s + 1, &[put("k", "1")]),
            record(e, s + 2, &[Op::Delete { ks: KS, key: b"k" }]),
            record(e, s + 3, &[put("j", "3")]),
        ];
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        for r in &lap {
            log.append(r).unwrap();
        }
        drop(log);

        // Checkpoint not durable: redb is still at `s`; the lap replays.
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 3);
        assert_eq!((get(&db, "k"), get(&db, "j")), (None, Some("3".into())));

        // Checkpoint durable, log not yet restarted: a later write (k = 9)
        // must not be undone by the old lap's delete.
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(table(KS)).unwrap();
            t.insert(&b"k"[..], &b"9"[..]).unwrap();
        }
        checkpoint(txn, s + 3).unwrap();
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 0);
        assert_eq!(get(&db, "k").as_deref(), Some("9"));

        // The log restarted and one record of the new lap overwrote the
        // start of the old one; the old lap's next record follows it.
        let state = tables::log_state(&db).unwrap();
        let mut log = LogFile::open(&scratch.log(), CAPACITY).unwrap();
        log.append(&record(state.epoch, state.applied_seq + 1, &[put("n", "new")])).unwrap();
        drop(log);
        assert_eq!(recover(&db, &scratch.log()).unwrap().replayed, 1);
        assert_eq!((get(&db, "n"), get(&db, "k")), (Some("new".into()), Some("9".into())));
    }
}
