//! Durable single-key write throughput of the storage engines: Nimbus's
//! group commit on redb and on PostgreSQL, against fsync-per-write, side by
//! side in one run. Driven by `bench/store/run`.
//!
//! Usage: `nimbus-store-bench [--dir DIR] [--secs S] [--rounds R] [--writers 1,16,64] [--value-bytes N]
//! [--modes M,...] [--postgres URL]`
//!
//! For each writer count, each mode (all by default; `postgres` only with
//! `--postgres`) runs for `S`
//! seconds in all (default 4), split into `R` rounds (default 4) taken in
//! turn — group, per-write, append, group, … — so a change in background load
//! hits every mode alike. Each mode starts on a fresh file in `DIR` and keeps
//! it across its rounds. Every write is one new key (17 bytes) and one value
//! (`N` bytes, default 100), durable before its writer issues the next:
//!
//! - `group`: `RedbStore::write` of a one-put batch from each of the writers,
//!   which are tokio tasks. The store's writer thread applies whatever is
//!   queued in one redb transaction, writes it as one record to the redo log
//!   (one `O_DIRECT | O_DSYNC` write) and acknowledges; it commits redb
//!   without fsync after one or more groups (crates/store-redb/src/writer.rs);
//!   the log's default 8 MiB fill up now and then, and that group commits
//!   redb with `Durability::Immediate` instead (a checkpoint).
//! - `postgres`: `PgStore::write` of a one-put batch from each of the
//!   writers, against the database at `URL` (its keyspace is emptied before
//!   each writer count). The store's writer thread commits whatever is queued
//!   in one PostgreSQL transaction with `synchronous_commit = on`.
//! - `redb-per-write`: the same redb, but each writer (an OS thread) takes a
//!   mutex, then runs `begin_write`, `insert`, `commit` with
//!   `Durability::Immediate` on its own: one redb commit, hence one
//!   `fdatasync`, per write.
//! - `log-write`: each writer (an OS thread) takes a mutex and writes a
//!   one-put record to the store's own log file type (`LogFile::append`:
//!   preallocated, one `O_DIRECT | O_DSYNC` block write), starting over at
//!   the log's end: the floor of the `group` engine, without redb or threads.
//! - `append-fdatasync`: each writer (an OS thread) takes a mutex, appends the
//!   record to a plain file and calls `fdatasync` (`File::sync_data`): the
//!   device's floor for one sync per write, without any storage engine.
//!
//! Latency is measured per write, from issuing it to its acknowledgement,
//! including time spent waiting for the mutex or the writer thread.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use nimbus_store::{Store, WriteBatch};
use nimbus_store_postgres::PgStore;
use nimbus_store_redb::log_file::LogFile;
use nimbus_store_redb::log_format::{Op, RecordBuilder};
use nimbus_store_redb::{Options, RedbStore};
use redb::{Database, Durability, TableDefinition};

const KS: &str = "bench";
const TABLE: TableDefinition<'static, &'static [u8], &'static [u8]> = TableDefinition::new(KS);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Group,
    Postgres,
    RedbPerWrite,
    LogWrite,
    AppendFdatasync,
}

impl Mode {
    const ALL: [Mode; 5] = [Mode::Group, Mode::Postgres, Mode::RedbPerWrite, Mode::LogWrite, Mode::AppendFdatasync];

    fn label(self) -> &'static str {
        match self {
            Mode::Group => "group commit (`RedbStore::write`, redo log + redb)",
            Mode::Postgres => "PostgreSQL group commit (`PgStore::write`)",
            Mode::RedbPerWrite => "redb commit per write (fsync per write)",
            Mode::LogWrite => "log record per write (O_DIRECT|O_DSYNC, no redb)",
            Mode::AppendFdatasync => "file append + fdatasync per write",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Group => "group",
            Mode::Postgres => "postgres",
            Mode::RedbPerWrite => "redb-per-write",
            Mode::LogWrite => "log-write",
            Mode::AppendFdatasync => "append-fdatasync",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Mode::Group => "group.redb",
            Mode::Postgres => "(postgres)",
            Mode::RedbPerWrite => "per-write.redb",
            Mode::LogWrite => "floor.log",
            Mode::AppendFdatasync => "append.log",
        }
    }
}

struct Config {
    dir: PathBuf,
    secs: f64,
    rounds: u32,
    writers: Vec<usize>,
    value_bytes: usize,
    modes: Vec<Mode>,
    postgres: Option<String>,
}

#[derive(Default)]
struct Outcome {
    writes: usize,
    elapsed: Duration,
    /// Per-write latencies in microseconds (sorted by `add` callers before percentiles).
    latencies: Vec<u32>,
}

impl Outcome {
    /// Fold in another round of the same mode.
    fn add(&mut self, round: Outcome) {
        self.writes += round.writes;
        self.elapsed += round.elapsed;
        self.latencies.extend(round.latencies);
    }

    fn per_sec(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: usize) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let at = (self.latencies.len() * p / 100).min(self.latencies.len() - 1);
        f64::from(self.latencies[at]) / 1000.0
    }
}

fn key(writer: usize, i: u64) -> Vec<u8> {
    format!("{writer:04}/{i:012}").into_bytes()
}

fn value(writer: usize, i: u64, len: usize) -> Vec<u8> {
    let seed = (writer as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i;
    (0..len).map(|k| (seed >> (k % 8 * 8)) as u8 ^ k as u8).collect()
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn finish(started: Instant, per_writer: Vec<Vec<u32>>) -> Outcome {
    let elapsed = started.elapsed();
    let latencies: Vec<u32> = per_writer.into_iter().flatten().collect();
    Outcome { writes: latencies.len(), elapsed, latencies }
}

/// `writers` tokio tasks each writing through `store` until the deadline.
fn run_group(store: Arc<dyn Store>, writers: usize, secs: f64, value_bytes: usize, first: u64) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let per_writer = rt.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    for i in first.. {
                        let issued = Instant::now();
                        if issued >= deadline {
                            break;
                        }
                        let mut batch = WriteBatch::new();
                        batch.put(KS, key(w, i), value(w, i, value_bytes));
                        store.write(batch).await.expect("group write");
                        lat.push(micros(issued.elapsed()));
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::with_capacity(writers);
        for task in tasks {
            all.push(task.await.expect("writer task"));
        }
        all
    });
    let outcome = finish(started, per_writer);
    store.close().expect("close");
    outcome
}

/// Run `writers` OS threads, each calling `write(writer, i)` until the deadline.
fn run_threads(writers: usize, secs: f64, first: u64, write: impl Fn(usize, u64) + Sync) -> Outcome {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let per_writer = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let write = &write;
                scope.spawn(move || {
                    let mut lat = Vec::new();
                    for i in first.. {
                        let issued = Instant::now();
                        if issued >= deadline {
                            break;
                        }
                        write(w, i);
                        lat.push(micros(issued.elapsed()));
                    }
                    lat
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("writer thread")).collect()
    });
    finish(started, per_writer)
}

fn run_redb_per_write(path: &Path, writers: usize, secs: f64, value_bytes: usize, first: u64) -> Outcome {
    let db = Database::create(path).expect("create redb");
    let lock = Mutex::new(());
    run_threads(writers, secs, first, |w, i| {
        let (k, v) = (key(w, i), value(w, i, value_bytes));
        let _serial = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut txn = db.begin_write().expect("begin_write");
        txn.set_durability(Durability::Immediate).unwrap();
        {
            let mut table = txn.open_table(TABLE).expect("open_table");
            table.insert(k.as_slice(), v.as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    })
}

fn run_log_write(path: &Path, writers: usize, secs: f64, value_bytes: usize, first: u64) -> Outcome {
    let capacity = Options::default().log_capacity;
    let log = Mutex::new((LogFile::open(path, capacity).expect("open log file"), RecordBuilder::default()));
    run_threads(writers, secs, first, |w, i| {
        let (k, v) = (key(w, i), value(w, i, value_bytes));
        let mut guard = log.lock().unwrap_or_else(|e| e.into_inner());
        let (log, record) = &mut *guard;
        record.start(1, i);
        record.push(Op::Put { ks: KS, key: &k, value: &v });
        let bytes = record.finish();
        if !log.fits(bytes.len()) {
            log.restart();
        }
        log.append(bytes).expect("log append");
    })
}

fn run_append(path: &Path, writers: usize, secs: f64, value_bytes: usize, first: u64) -> Outcome {
    let file: Mutex<File> =
        Mutex::new(OpenOptions::new().create(true).append(true).open(path).expect("open append file"));
    run_threads(writers, secs, first, |w, i| {
        let (k, v) = (key(w, i), value(w, i, value_bytes));
        let mut record = Vec::with_capacity(8 + k.len() + v.len());
        record.extend_from_slice(&(k.len() as u32).to_le_bytes());
        record.extend_from_slice(&(v.len() as u32).to_le_bytes());
        record.extend_from_slice(&k);
        record.extend_from_slice(&v);
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&record).expect("append");
        file.sync_data().expect("fdatasync");
    })
}

/// A mode's file, and the redo log beside it for the `group` engine.
fn remove_store_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(nimbus_store_redb::log_path(path));
}

fn parse_args() -> Config {
    let mut config = Config {
        dir: std::env::temp_dir().join("nimbus-store-bench"),
        secs: 4.0,
        rounds: 4,
        writers: vec![1, 16, 64],
        value_bytes: 100,
        modes: Mode::ALL.to_vec(),
        postgres: None,
    };
    let mut args = std::env::args().skip(1);
    let usage = "usage: nimbus-store-bench [--dir DIR] [--secs S] [--rounds R] [--writers 1,16,64] \
                 [--value-bytes N] \
                 [--modes group,postgres,redb-per-write,log-write,append-fdatasync] [--postgres URL]";
    while let Some(arg) = args.next() {
        let mut next = || args.next().unwrap_or_else(|| panic!("{arg} needs a value\n{usage}"));
        match arg.as_str() {
            "--dir" => config.dir = PathBuf::from(next()),
            "--secs" => config.secs = next().parse().expect("--secs: a number of seconds"),
            "--rounds" => config.rounds = next().parse::<u32>().expect("--rounds: a count").max(1),
            "--writers" => {
                config.writers =
                    next().split(',').map(|n| n.trim().parse().expect("--writers: comma-separated counts")).collect()
            }
            "--postgres" => config.postgres = Some(next()),
            "--value-bytes" => config.value_bytes = next().parse().expect("--value-bytes: a byte count"),
            "--modes" => {
                config.modes = next()
                    .split(',')
                    .map(|name| {
                        let name = name.trim();
                        *Mode::ALL.iter().find(|m| m.name() == name).unwrap_or_else(|| panic!("unknown mode {name}"))
                    })
                    .collect()
            }
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}\n{usage}"),
        }
    }
    if config.postgres.is_none() {
        config.modes.retain(|&m| m != Mode::Postgres);
    }
    config
}

fn open_postgres(url: &str) -> Arc<dyn Store> {
    PgStore::open(url).unwrap_or_else(|e| panic!("open PgStore: {e}"))
}

/// Start each writer count on an empty PostgreSQL keyspace, as redb starts on a fresh file.
fn empty_postgres(url: &str) {
    let store = open_postgres(url);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime");
    let mut batch = WriteBatch::new();
    batch.delete_prefix(KS, b"");
    rt.block_on(store.write(batch)).expect("empty the bench keyspace");
    store.close().expect("close");
}

fn main() {
    let config = parse_args();
    std::fs::create_dir_all(&config.dir).expect("create the bench directory");
    println!(
        "{} s per mode in {} interleaved rounds, single-key writes (17-byte key, {}-byte value), files in {}\n",
        config.secs,
        config.rounds,
        config.value_bytes,
        config.dir.display()
    );
    println!("| writers | mode | writes/s | p50 (ms) | p99 (ms) | vs redb commit per write |");
    println!("|---:|---|---:|---:|---:|---:|");
    let slice = config.secs / f64::from(config.rounds);
    for &writers in &config.writers {
        let mut rows: Vec<(Mode, Outcome)> = config.modes.iter().map(|&m| (m, Outcome::default())).collect();
        for (mode, _) in &rows {
            remove_store_files(&config.dir.join(mode.file()));
        }
        if let Some(url) = &config.postgres {
            empty_postgres(url);
        }
        // Modes take turns, so a change in background load hits all of them.
        for round in 0..config.rounds {
            let first = u64::from(round) * 10_000_000_000;
            for (mode, total) in &mut rows {
                let path = config.dir.join(mode.file());
                total.add(match mode {
                    Mode::Group => {
                        let store = RedbStore::open(&path).expect("open RedbStore");
                        run_group(store, writers, slice, config.value_bytes, first)
                    }
                    Mode::Postgres => {
                        let url = config.postgres.as_deref().expect("--postgres");
                        run_group(open_postgres(url), writers, slice, config.value_bytes, first)
                    }
                    Mode::RedbPerWrite => run_redb_per_write(&path, writers, slice, config.value_bytes, first),
                    Mode::LogWrite => run_log_write(&path, writers, slice, config.value_bytes, first),
                    Mode::AppendFdatasync => run_append(&path, writers, slice, config.value_bytes, first),
                });
            }
        }
        for (mode, total) in &mut rows {
            remove_store_files(&config.dir.join(mode.file()));
            total.latencies.sort_unstable();
        }
        let baseline =
            rows.iter().find(|(m, _)| *m == Mode::RedbPerWrite).map(|(_, o)| o.per_sec()).unwrap_or(f64::NAN);
        for (mode, o) in &rows {
            println!(
                "| {writers} | {} | {:.0} | {:.2} | {:.2} | {:.2}x |",
                mode.label(),
                o.per_sec(),
                o.percentile_ms(50),
                o.percentile_ms(99),
                o.per_sec() / baseline
            );
        }
    }
}
