//! Crash-test writer for the redb engine.
//!
//! Opens a [`RedbStore`] and writes to it forever from many concurrent tasks,
//! printing one line per write only after the store acknowledged it.
//! `tests/crash.rs` kills this process with SIGKILL at a random moment, then
//! reopens the store and checks it against the acknowledged lines.
//!
//! Usage: `nimbus-store-crash-writer <store-path> <run-id> [writers] [log-bytes]`
//! (16 writers and the default log size by default). `run-id` makes this
//! run's keys distinct from earlier runs'; a small `log-bytes` makes the
//! store checkpoint often.
//!
//! Data (every value in `crash.kv` is `value_for(key)`):
//! - `crash.kv` `p/{run}/{w}/{i}`: a single put.
//! - `crash.kv` `b/{id}/{j}` for `j < n`, `id = {run}/{w}/{i}/{n}`: one batch of `n` puts.
//! - `crash.kv` `x/{id}`: tombstone, put in the same batch that deletes every `b/{id}/` key.
//! - `crash.counter` `n`: u64 big-endian, incremented by read-modify-write transactions;
//!   each increment also puts `crash.txn` `t/{run}/{w}/{i}` = the new counter value.
//!
//! Output, one line per acknowledged write, flushed at once:
//! `opening` (about to open the store, which may have to recover), `ready` (store open), `P <key>`, `B <id>`, `D <id>` (batch `id` deleted), `T <key> <n>`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use nimbus_store::{transact, ReadView, Store, TxnError, WriteBatch};
use nimbus_store_redb::{Options, RedbStore};

const KV: &str = "crash.kv";
const COUNTER: &str = "crash.counter";
const TXN: &str = "crash.txn";

/// FNV-1a, so the verifier can recompute values without sharing code.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The value stored under `key`: the key, `=`, then the key's hash repeated to a length
/// derived from the key (mostly under 1 KiB, one key in 64 spills over 4 KiB pages).
fn value_for(key: &[u8]) -> Vec<u8> {
    let h = hash(key);
    let len = if h & 63 == 0 { 4096 + (h >> 8) % 16384 } else { (h >> 8) % 1024 } as usize;
    let mut value = Vec::with_capacity(key.len() + 1 + len);
    value.extend_from_slice(key);
    value.push(b'=');
    value.extend_from_slice(&h.to_le_bytes().repeat(len / 8 + 1)[..len]);
    value
}

/// Print one acknowledgement line and flush it; exit if the reader is gone.
fn ack(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("crash-writer: {what} failed: {e}");
    std::process::exit(2);
}

async fn writer(store: Arc<RedbStore>, run: u64, w: usize) {
    // Batches this task wrote and had acknowledged, candidates for deletion.
    let mut batches: Vec<String> = Vec::new();
    for i in 0u64.. {
        let roll = hash(format!("{run}/{w}/{i}").as_bytes());
        match roll % 16 {
            9..=11 => {
                let n = 2 + roll / 16 % 7;
                let id = format!("{run}/{w}/{i}/{n}");
                let mut batch = WriteBatch::new();
                for j in 0..n {
                    let key = format!("b/{id}/{j}").into_bytes();
                    let value = value_for(&key);
                    batch.put(KV, key, value);
                }
                store.write(batch).await.unwrap_or_else(|e| fail("batch write", e));
                ack(format_args!("B {id}"));
                batches.push(id);
            }
            12 | 13 => {
                let record = format!("t/{run}/{w}/{i}");
                let key = record.clone().into_bytes();
                let n = transact(&*store, move |view: &dyn ReadView| {
                    let n = match view.get(COUNTER, b"n")? {
                        Some(bytes) => u64::from_be_bytes(
                            bytes
                                .as_slice()
                                .try_into()
                                .map_err(|_| TxnError::Aborted(format!("counter holds {} bytes", bytes.len())))?,
                        ),
                        None => 0,
                    } + 1;
                    let mut batch = WriteBatch::new();
                    batch.put(COUNTER, b"n".to_vec(), n.to_be_bytes().to_vec());
                    batch.put(TXN, key, n.to_be_bytes().to_vec());
                    Ok((batch, n))
                })
                .await
                .unwrap_or_else(|e| match e {
                    TxnError::Store(e) => fail("increment", e),
                    TxnError::Aborted(why) => fail("increment", why),
                });
                ack(format_args!("T {record} {n}"));
            }
            14 | 15 if !batches.is_empty() => {
                let id = batches.swap_remove((roll / 16) as usize % batches.len());
                let mut batch = WriteBatch::new();
                batch.delete_prefix(KV, format!("b/{id}/").as_bytes());
                let tombstone = format!("x/{id}").into_bytes();
                let value = value_for(&tombstone);
                batch.put(KV, tombstone, value);
                store.write(batch).await.unwrap_or_else(|e| fail("batch delete", e));
                ack(format_args!("D {id}"));
            }
            _ => {
                let key = format!("p/{run}/{w}/{i}");
                let mut batch = WriteBatch::new();
                batch.put(KV, key.clone().into_bytes(), value_for(key.as_bytes()));
                store.write(batch).await.unwrap_or_else(|e| fail("put", e));
                ack(format_args!("P {key}"));
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: nimbus-store-crash-writer <store-path> <run-id> [writers] [log-bytes]";
    let path = PathBuf::from(args.next().unwrap_or_else(|| fail("arguments", usage)));
    let run: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| fail("arguments", usage));
    let writers: usize = match args.next() {
        Some(a) => a.parse().unwrap_or_else(|e| fail("writer count", e)),
        None => 16,
    };
    let mut options = Options::default();
    if let Some(bytes) = args.next() {
        options.log_capacity = bytes.parse().unwrap_or_else(|e| fail("log size", e));
    }
    ack(format_args!("opening"));
    let store = RedbStore::open_with(&path, &options).unwrap_or_else(|e| fail("open", e));
    ack(format_args!("ready"));
    let tasks: Vec<_> = (0..writers).map(|w| tokio::spawn(writer(store.clone(), run, w))).collect();
    for task in tasks {
        task.await.unwrap_or_else(|e| fail("writer task", e));
    }
}
