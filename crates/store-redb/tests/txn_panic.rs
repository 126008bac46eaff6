//! A transaction body that panics fails its own caller only: the store's
//! writer thread survives and later writes still commit.

use nimbus_store::{transact, ReadView, Store, TxnError, WriteBatch};
use nimbus_store_redb::RedbStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_transaction_body_does_not_stop_the_writer() {
    let dir = std::env::temp_dir().join(format!("nimbus-txn-panic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir.join("store.redb")).unwrap();

    let mut batch = WriteBatch::new();
    batch.put("t", b"before".to_vec(), b"1".to_vec());
    store.write(batch).await.unwrap();

    let outcome = transact::<(), (), _>(&*store, |_view: &dyn ReadView| panic!("a bug in a transaction body")).await;
    assert!(matches!(outcome, Err(TxnError::Store(_))), "the panicking transaction must fail");

    let mut batch = WriteBatch::new();
    batch.put("t", b"after".to_vec(), b"2".to_vec());
    store.write(batch).await.expect("writes after a panicking transaction body still commit");
    assert_eq!(store.get("t", b"before").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(store.get("t", b"after").unwrap().as_deref(), Some(&b"2"[..]));
    store.close().unwrap();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
