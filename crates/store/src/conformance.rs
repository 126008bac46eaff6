//! The conformance suite every storage engine runs.
//!
//! An engine's test calls [`run_all`] with a fresh, empty store (and a way to
//! reopen it, for the durability check). Each check panics with a message
//! naming what the engine got wrong.

use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

use crate::{transact, Direction, ReadView, ReadViewExt, Store, TxnError, WriteBatch};

const KS: &str = "conformance";
const OTHER: &str = "conformance.other";

fn kv(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Run every check against `store`, which must start empty. `reopen` closes
/// the given store and opens the same data again.
pub async fn run_all<F>(store: Arc<dyn Store>, reopen: F)
where
    F: FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
{
    empty_store_reads_nothing(&*store).await;
    put_get_delete(&*store).await;
    keyspaces_are_independent(&*store).await;
    scans_respect_bounds_direction_and_limit(&*store).await;
    batches_are_atomic_and_ordered(&*store).await;
    delete_range_removes_exactly_the_range(&*store).await;
    snapshots_do_not_see_later_writes(&*store).await;
    transactions_read_then_write(&*store).await;
    aborted_transactions_write_nothing(&*store).await;
    concurrent_increments_lose_no_update(store.clone()).await;
    let store = reopen(store);
    writes_survive_reopen(&*store).await;
}

async fn empty_store_reads_nothing(store: &dyn Store) {
    assert_eq!(store.get(KS, b"missing").unwrap(), None, "get on an empty store");
    let all = store.scan_collect(KS, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 10).unwrap();
    assert!(all.is_empty(), "scan of an empty keyspace returned {all:?}");
}

async fn put_get_delete(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(KS, b"k1".to_vec(), b"v1".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"k1").unwrap().as_deref(), Some(&b"v1"[..]), "a put is readable");

    let mut batch = WriteBatch::new();
    batch.put(KS, b"k1".to_vec(), b"v2".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"k1").unwrap().as_deref(), Some(&b"v2"[..]), "a put overwrites");

    let mut batch = WriteBatch::new();
    batch.delete(KS, b"k1".to_vec()).delete(KS, b"never-existed".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"k1").unwrap(), None, "a delete removes");

    let mut batch = WriteBatch::new();
    batch.put(KS, Vec::new(), b"empty key".to_vec()).put(KS, b"bin\x00\xff".to_vec(), Vec::new());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"").unwrap().as_deref(), Some(&b"empty key"[..]), "the empty key is a key");
    assert_eq!(store.get(KS, b"bin\x00\xff").unwrap().as_deref(), Some(&b""[..]), "empty values and binary keys");
    let mut batch = WriteBatch::new();
    batch.delete(KS, Vec::new()).delete(KS, b"bin\x00\xff".to_vec());
    store.write(batch).await.unwrap();
}

async fn keyspaces_are_independent(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(KS, b"shared".to_vec(), b"a".to_vec()).put(OTHER, b"shared".to_vec(), b"b".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"shared").unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(store.get(OTHER, b"shared").unwrap().as_deref(), Some(&b"b"[..]), "keyspaces must not share keys");
    let mut batch = WriteBatch::new();
    batch.delete(KS, b"shared".to_vec()).delete(OTHER, b"shared".to_vec());
    store.write(batch).await.unwrap();
}

async fn scans_respect_bounds_direction_and_limit(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    for k in ["a", "b", "c", "d", "e"] {
        batch.put(KS, k.as_bytes().to_vec(), k.to_uppercase().into_bytes());
    }
    store.write(batch).await.unwrap();

    let all = store.scan_collect(KS, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 100).unwrap();
    assert_eq!(kv(&all), pairs(&[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D"), ("e", "E")]), "full forward scan");

    let range = (Bound::Included(&b"b"[..]), Bound::Excluded(&b"e"[..]));
    let fwd = store.scan_collect(KS, range, Direction::Forward, 100).unwrap();
    assert_eq!(kv(&fwd), pairs(&[("b", "B"), ("c", "C"), ("d", "D")]), "[b, e) forward");
    let back = store.scan_collect(KS, range, Direction::Backward, 100).unwrap();
    assert_eq!(kv(&back), pairs(&[("d", "D"), ("c", "C"), ("b", "B")]), "[b, e) backward");

    let range = (Bound::Excluded(&b"b"[..]), Bound::Included(&b"e"[..]));
    let limited = store.scan_collect(KS, range, Direction::Backward, 2).unwrap();
    assert_eq!(kv(&limited), pairs(&[("e", "E"), ("d", "D")]), "(b, e] backward, limit 2");

    let mut seen = Vec::new();
    store
        .scan(KS, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, &mut |k, _| {
            seen.push(k.to_vec());
            if k == b"c" {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], "a visitor's Break stops the scan");

    let mut batch = WriteBatch::new();
    batch.delete_prefix(KS, b"");
    store.write(batch).await.unwrap();
}

async fn batches_are_atomic_and_ordered(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(KS, b"x".to_vec(), b"1".to_vec()).put(KS, b"x".to_vec(), b"2".to_vec()).put(
        KS,
        b"y".to_vec(),
        b"1".to_vec(),
    );
    batch.delete(KS, b"y".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get(KS, b"x").unwrap().as_deref(), Some(&b"2"[..]), "later ops in a batch win");
    assert_eq!(store.get(KS, b"y").unwrap(), None, "ops apply in batch order");
    let mut batch = WriteBatch::new();
    batch.delete(KS, b"x".to_vec());
    store.write(batch).await.unwrap();
}

async fn delete_range_removes_exactly_the_range(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    for k in ["p", "pa", "pb", "pz\u{7f}", "q", "o"] {
        batch.put(KS, k.as_bytes().to_vec(), b"v".to_vec());
    }
    store.write(batch).await.unwrap();
    let mut batch = WriteBatch::new();
    batch.delete_prefix(KS, b"p");
    store.write(batch).await.unwrap();
    let left = store.scan_collect(KS, (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 100).unwrap();
    assert_eq!(kv(&left), pairs(&[("o", "v"), ("q", "v")]), "delete_prefix(p) leaves exactly o and q");
    let mut batch = WriteBatch::new();
    batch.delete_prefix(KS, b"");
    store.write(batch).await.unwrap();
}

async fn snapshots_do_not_see_later_writes(store: &dyn Store) {
    let mut batch = WriteBatch::new();
    batch.put(KS, b"snap".to_vec(), b"before".to_vec());
    store.write(batch).await.unwrap();
    let snapshot = store.snapshot().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(KS, b"snap".to_vec(), b"after".to_vec()).put(KS, b"snap2".to_vec(), b"new".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(snapshot.get(KS, b"snap").unwrap().as_deref(), Some(&b"before"[..]), "snapshot isolation");
    assert_eq!(snapshot.get(KS, b"snap2").unwrap(), None, "snapshot must not see later inserts");
    let seen = snapshot.scan_prefix(KS, b"snap", 10).unwrap();
    assert_eq!(kv(&seen), pairs(&[("snap", "before")]), "snapshot scans are isolated too");
    assert_eq!(store.get(KS, b"snap").unwrap().as_deref(), Some(&b"after"[..]), "the store sees the latest");
    drop(snapshot);
    let mut batch = WriteBatch::new();
    batch.delete_prefix(KS, b"snap");
    store.write(batch).await.unwrap();
}

async fn transactions_read_then_write(store: &dyn Store) {
    let result = transact::<u32, (), _>(store, |view: &dyn ReadView| {
        assert_eq!(view.get(KS, b"counter")?, None);
        let mut batch = WriteBatch::new();
        batch.put(KS, b"counter".to_vec(), b"1".to_vec());
        Ok((batch, 41))
    })
    .await;
    assert_eq!(result.unwrap(), 41, "a transaction returns its body's value");
    assert_eq!(store.get(KS, b"counter").unwrap().as_deref(), Some(&b"1"[..]), "a committed transaction's write");
}

async fn aborted_transactions_write_nothing(store: &dyn Store) {
    let result =
        transact::<(), &'static str, _>(store, |_view: &dyn ReadView| Err(TxnError::Aborted("condition failed"))).await;
    assert!(matches!(result, Err(TxnError::Aborted("condition failed"))), "the abort reason comes back");
    assert_eq!(store.get(KS, b"counter").unwrap().as_deref(), Some(&b"1"[..]), "an abort writes nothing");
    let mut batch = WriteBatch::new();
    batch.delete(KS, b"counter".to_vec());
    store.write(batch).await.unwrap();
}

async fn concurrent_increments_lose_no_update(store: Arc<dyn Store>) {
    const TASKS: u64 = 16;
    const EACH: u64 = 20;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        handles.push(async move {
            for _ in 0..EACH {
                transact::<(), (), _>(&*store, |view: &dyn ReadView| {
                    let current =
                        view.get(KS, b"n")?.map(|v| u64::from_be_bytes(v.try_into().unwrap_or([0; 8]))).unwrap_or(0);
                    let mut batch = WriteBatch::new();
                    batch.put(KS, b"n".to_vec(), (current + 1).to_be_bytes().to_vec());
                    Ok((batch, ()))
                })
                .await
                .unwrap();
            }
        });
    }
    join_all(handles).await;
    let n = store.get(KS, b"n").unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(n.try_into().unwrap()), TASKS * EACH, "read-modify-write must be serializable");
}

async fn writes_survive_reopen(store: &dyn Store) {
    let n = store.get(KS, b"n").unwrap().expect("data written before close must survive reopen");
    assert_eq!(u64::from_be_bytes(n.try_into().unwrap()), 320);
}

/// Drive futures concurrently on the current task (no runtime dependency).
async fn join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    use std::pin::Pin;
    use std::task::Poll;
    let mut futures: Vec<Option<Pin<Box<F>>>> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futures.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}
