//! The store conformance suite against the redb engine.

use std::sync::Arc;

use nimbus_store::Store;
use nimbus_store_redb::RedbStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("nimbus-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("store.redb");
    let store: Arc<dyn Store> = RedbStore::open(&path).unwrap();
    let reopen_path = path.clone();
    nimbus_store::conformance::run_all(store, move |old| {
        old.close().unwrap();
        drop(old);
        RedbStore::open(&reopen_path).unwrap()
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
