//! Crash safety: SIGKILL a writer process mid-flight, many times over one
//! store file, and check after each kill that the store reopens, that every
//! acknowledged write survived, and that no batch or transaction is torn.
//!
//! The writer is `src/bin/crash_writer.rs`; its doc describes the data layout
//! and the lines it prints. A kill can land anywhere: while writers are
//! queued, mid-commit, between a commit and its acknowledgement, or (in one
//! iteration in five) while the store is still opening and recovering from
//! the previous kill.
//!
//! SIGKILL ends the process but not the machine: the kernel keeps what was
//! written to the page cache. This proves the engine never acknowledges early
//! and recovers a file left mid-commit, not that fsync reaches the platter.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::ops::Bound;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nimbus_store::{Direction, ReadView, ReadViewExt, Store, WriteBatch};
use nimbus_store_redb::RedbStore;

const ITERATIONS: u64 = 60;
const WRITERS: &str = "16";
const KV: &str = "crash.kv";
const COUNTER: &str = "crash.counter";
const TXN: &str = "crash.txn";

/// Same as the writer's: FNV-1a.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Same as the writer's: the value every `crash.kv` key must hold.
fn value_for(key: &[u8]) -> Vec<u8> {
    let h = hash(key);
    let len = if h & 63 == 0 { 4096 + (h >> 8) % 16384 } else { (h >> 8) % 1024 } as usize;
    let mut value = Vec::with_capacity(key.len() + 1 + len);
    value.extend_from_slice(key);
    value.push(b'=');
    value.extend_from_slice(&h.to_le_bytes().repeat(len / 8 + 1)[..len]);
    value
}

/// Everything acknowledged so far, over all runs.
#[derive(Default)]
struct Acked {
    puts: HashSet<String>,
    /// Batch id -> key count, for batches acknowledged and not (yet) deleted.
    batches: HashMap<String, usize>,
    deleted: HashSet<String>,
    /// Transaction record key -> counter value it set.
    increments: HashMap<String, u64>,
}

impl Acked {
    fn record(&mut self, line: &str) {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        match kind {
            "opening" | "ready" => {}
            "P" => assert!(self.puts.insert(rest.to_string()), "put {rest} acknowledged twice"),
            "B" => {
                let n = rest.rsplit('/').next().and_then(|n| n.parse().ok()).expect("batch id ends in its size");
                assert!(self.batches.insert(rest.to_string(), n).is_none(), "batch {rest} acknowledged twice");
            }
            "D" => {
                assert!(self.batches.remove(rest).is_some(), "deleted batch {rest} was never acknowledged");
                self.deleted.insert(rest.to_string());
            }
            "T" => {
                let (key, n) = rest.split_once(' ').expect("T <key> <n>");
                self.increments.insert(key.to_string(), n.parse().expect("counter value"));
            }
            _ => panic!("unexpected line from the writer: {line:?}"),
        }
    }
}

/// Check the reopened store against the acknowledgements and its own invariants.
fn verify(store: &dyn Store, acked: &Acked) -> usize {
    let snap = store.snapshot().unwrap();
    let all = |ks| snap.scan_collect(ks, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, usize::MAX).unwrap();

    // Every value is intact, acknowledged or not; batches are all or nothing.
    let kv = all(KV);
    let mut batch_keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut tombstones: HashSet<String> = HashSet::new();
    let mut puts: HashSet<&str> = HashSet::new();
    for (key, value) in &kv {
        assert!(value == &value_for(key), "value of {} is corrupt", String::from_utf8_lossy(key));
        let key = std::str::from_utf8(key).unwrap();
        if let Some(rest) = key.strip_prefix("b/") {
            let (id, _) = rest.rsplit_once('/').unwrap();
            *batch_keys.entry(id.to_string()).or_default() += 1;
        } else if let Some(id) = key.strip_prefix("x/") {
            tombstones.insert(id.to_string());
        } else {
            assert!(key.starts_with("p/"), "unexpected key {key}");
            puts.insert(key);
        }
    }
    for (id, count) in &batch_keys {
        let n: usize = id.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(*count, n, "batch {id} is torn: {count} of its {n} keys are present");
        assert!(!tombstones.contains(id), "batch {id} is present beside the tombstone of its deletion");
    }

    // Every acknowledged write is there.
    for key in &acked.puts {
        assert!(puts.contains(key.as_str()), "acknowledged put {key} is missing");
    }
    for id in acked.batches.keys() {
        // A deletion that committed but was killed before its acknowledgement is fine.
        if !tombstones.contains(id) {
            assert!(batch_keys.contains_key(id), "acknowledged batch {id} is missing");
        }
    }
    for id in &acked.deleted {
        assert!(tombstones.contains(id), "acknowledged deletion of batch {id} is missing its tombstone");
        assert!(!batch_keys.contains_key(id), "acknowledged deletion of batch {id} did not delete it");
    }

    // The counter equals the number of increments that committed, each
    // increment saw the one before it, and none acknowledged was lost.
    let counter = match snap.get(COUNTER, b"n").unwrap() {
        Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().unwrap()),
        None => 0,
    };
    let records = all(TXN);
    let mut seen: Vec<u64> =
        records.iter().map(|(_, v)| u64::from_be_bytes(v.as_slice().try_into().unwrap())).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=counter).collect::<Vec<_>>(), "increments are not exactly 1..={counter}");
    assert!(counter >= acked.increments.len() as u64, "counter {counter} < {} acknowledged", acked.increments.len());
    let records: HashMap<&[u8], &[u8]> = records.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    for (key, n) in &acked.increments {
        let got = records.get(key.as_bytes()).copied();
        assert_eq!(got, Some(&n.to_be_bytes()[..]), "acknowledged increment {key} (to {n})");
    }
    kv.len() + records.len()
}

/// The writer process; killed if the test fails while it runs.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn open_store(path: &Path) -> std::sync::Arc<RedbStore> {
    RedbStore::open(path).unwrap_or_else(|e| panic!("the store at {} does not reopen: {e}", path.display()))
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    sigkill_many_times("default", ITERATIONS, None);
}

/// With a 64 KiB log the writer checkpoints every few dozen groups (and a
/// group with a large value often does not fit in what is left), so kills
/// land during checkpoints and right after the log starts a new lap.
#[test]
fn acknowledged_writes_survive_sigkill_across_checkpoints() {
    sigkill_many_times("small-log", ITERATIONS / 2, Some(64 << 10));
}

/// Kill a writer `iterations` times over one store, verifying after most kills.
fn sigkill_many_times(name: &str, iterations: u64, log_capacity: Option<u64>) {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("nimbus-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.redb");
    println!("crash test store (kept if the test fails): {}", path.display());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut acked = Acked::default();
    let (mut lines_total, mut slowest_open, mut early_kills, mut while_opening) = (0usize, Duration::ZERO, 0, 0);
    let (mut writing, mut reopening, mut verifying) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut replayed = 0;

    for run in 1..=iterations {
        let spawned = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_nimbus-store-crash-writer"));
        command.arg(&path).arg(run.to_string()).arg(WRITERS);
        if let Some(capacity) = log_capacity {
            command.arg(capacity.to_string());
        }
        let mut child = Writer(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn the crash writer"),
        );
        // Forward complete lines only: a line cut by the kill was never acknowledged.
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            while stdout.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                if line.last() == Some(&b'\n') {
                    line.pop();
                    let _ = tx.send(String::from_utf8(std::mem::take(&mut line)).expect("utf-8 line"));
                }
            }
        });

        // In one run in five the writer opens a file nobody reopened since the
        // last kill and is killed early, often while still recovering it.
        let early = run % 5 == 0;
        let mut lines = Vec::new();
        let delay = if early {
            early_kills += 1;
            Duration::from_millis(fastrand::u64(0..150))
        } else {
            for expected in ["opening", "ready"] {
                let line = rx.recv_timeout(Duration::from_secs(30)).expect("the writer did not open the store in 30 s");
                assert_eq!(line, expected);
                lines.push(line);
            }
            Duration::from_millis(fastrand::u64(20..=200))
        };
        std::thread::sleep(delay);
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("the writer exited by itself ({status}) in run {run}");
        }
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        lines_total += lines.len();
        writing += spawned.elapsed();
        for line in &lines {
            acked.record(line);
        }
        if early && lines.iter().any(|l| l == "opening") && !lines.iter().any(|l| l == "ready") {
            while_opening += 1;
        }
        if run % 5 == 4 {
            continue; // leave the store as the kill left it, for the next (early) run
        }

        let opening = Instant::now();
        let store = open_store(&path);
        replayed += store.replayed_records();
        slowest_open = slowest_open.max(opening.elapsed());
        reopening += opening.elapsed();
        let verifying_since = Instant::now();
        verify(&*store, &acked);
        verifying += verifying_since.elapsed();
        // The recovered store takes writes again.
        let mut batch = WriteBatch::new();
        batch.put("crash.checks", format!("run/{run}").into_bytes(), b"ok".to_vec());
        rt.block_on(store.write(batch)).unwrap();
        store.close().unwrap();
        drop(store);
    }

    // One last clean reopen of a store killed `iterations` times.
    let store = open_store(&path);
    let keys = verify(&*store, &acked);
    assert_eq!(store.get("crash.checks", format!("run/{iterations}").as_bytes()).unwrap().as_deref(), Some(&b"ok"[..]));
    store.close().unwrap();
    drop(store);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "crash test ({name}): {iterations} SIGKILLs ({early_kills} early, {while_opening} while opening the store), \
         {lines_total} lines read, acknowledged: {} puts, {} live batches, {} batch deletions, {} increments; \
         {keys} keys, {} KiB on disk; {replayed} log records replayed on reopening; \
         reopen {reopening:?} in all (slowest {slowest_open:?}), writer processes {writing:?}, \
         verification {verifying:?}; {:?} in all",
        acked.puts.len(),
        acked.batches.len(),
        acked.deleted.len(),
        acked.increments.len(),
        size / 1024,
        started.elapsed(),
    );
    // Kills land between log writes and redb's next checkpoint, so reopening
    // must have had records to replay, or this test never exercised the log.
    assert!(replayed > 0, "no reopen replayed the log");
    let _ = std::fs::remove_dir_all(&dir);
}
