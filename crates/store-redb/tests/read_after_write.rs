//! Reads share one redb read transaction until the next commit
//! (src/reads.rs). Whatever readers do meanwhile, a read that starts after
//! a write was acknowledged must see that write.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nimbus_store::{Direction, ReadView, ReadViewExt, Store, WriteBatch};
use nimbus_store_redb::RedbStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_seen_by_the_next_read_while_others_read() {
    let dir = std::env::temp_dir().join(format!("nimbus-read-after-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir.join("store.redb")).unwrap();

    // Readers on other threads keep the shared snapshot in use the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    store.get("raw", b"counter").unwrap();
                    store.scan_collect("raw", (Bound::Unbounded, Bound::Unbounded), Direction::Forward, 5).unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..200u32 {
                    let key = format!("w{w}");
                    let value = i.to_be_bytes().to_vec();
                    let mut batch = WriteBatch::new();
                    batch.put("raw", key.clone().into_bytes(), value.clone()).put(
                        "raw",
                        b"counter".to_vec(),
                        value.clone(),
                    );
                    store.write(batch).await.unwrap();
                    assert_eq!(
                        store.get("raw", key.as_bytes()).unwrap(),
                        Some(value.clone()),
                        "get after write {w}/{i}"
                    );
                    let snapshot = store.snapshot().unwrap();
                    assert_eq!(
                        snapshot.get("raw", key.as_bytes()).unwrap(),
                        Some(value),
                        "snapshot after write {w}/{i}"
                    );
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0, "the readers ran");

    // A keyspace that did not exist when a snapshot was shared appears once written.
    assert_eq!(store.get("later", b"k").unwrap(), None);
    let mut batch = WriteBatch::new();
    batch.put("later", b"k".to_vec(), b"v".to_vec());
    store.write(batch).await.unwrap();
    assert_eq!(store.get("later", b"k").unwrap().as_deref(), Some(&b"v"[..]));

    store.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
