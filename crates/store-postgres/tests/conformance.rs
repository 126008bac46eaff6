//! The store conformance suite and multi-node checks against a real,
//! throwaway PostgreSQL.

use std::sync::Arc;

use nimbus_store::{transact, ReadView, Store, WriteBatch};
use nimbus_store_postgres::scratch::start_or_skip;
use nimbus_store_postgres::PgStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_store_conformance_suite() {
    let Some(cluster) = start_or_skip("passes_the_store_conformance_suite") else { return };
    let url = cluster.url().to_owned();
    let store: Arc<dyn Store> = PgStore::open(&url).unwrap();
    nimbus_store::conformance::run_all(store, move |store| {
        store.close().unwrap();
        drop(store);
        PgStore::open(&url).unwrap()
    })
    .await;
}

const KS: &str = "nodes";

fn counter(view: &dyn ReadView) -> u64 {
    view.get(KS, b"n").unwrap().map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()))
}

/// Two stores on one database are two Nimbus nodes: their read-modify-write
/// transactions interleave without losing an update, and a snapshot one
/// node took does not see what the other wrote after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_database_serializably() {
    let Some(cluster) = start_or_skip("two_nodes_share_one_database_serializably") else { return };
    let nodes: Vec<Arc<dyn Store>> = vec![PgStore::open(cluster.url()).unwrap(), PgStore::open(cluster.url()).unwrap()];
    let before = nodes[0].snapshot().unwrap();

    const TASKS_PER_NODE: u64 = 8;
    const EACH: u64 = 25;
    let mut tasks = Vec::new();
    for node in &nodes {
        for _ in 0..TASKS_PER_NODE {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..EACH {
                    transact::<(), (), _>(&*node, |view: &dyn ReadView| {
                        let mut batch = WriteBatch::new();
                        batch.put(KS, b"n".to_vec(), (counter(view) + 1).to_be_bytes().to_vec());
                        Ok((batch, ()))
                    })
                    .await
                    .unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = 2 * TASKS_PER_NODE * EACH;
    assert_eq!(counter(&*nodes[0]), total, "node 0 sees every increment of both nodes");
    assert_eq!(counter(&*nodes[1]), total, "node 1 sees every increment of both nodes");
    assert_eq!(counter(&*before), 0, "a snapshot taken before the writes sees none of them");

    let mut batch = WriteBatch::new();
    batch.put(KS, b"from-node-1".to_vec(), b"x".to_vec());
    let snapshot = nodes[0].snapshot().unwrap();
    nodes[1].write(batch).await.unwrap();
    assert_eq!(snapshot.get(KS, b"from-node-1").unwrap(), None, "node 0's snapshot predates node 1's write");
    assert_eq!(nodes[0].get(KS, b"from-node-1").unwrap().as_deref(), Some(&b"x"[..]), "node 0 reads node 1's write");

    let panicked = nodes[1].transact_raw(Box::new(|_view: &dyn ReadView| panic!("a buggy body"))).await;
    assert!(panicked.unwrap_err().0.contains("a buggy body"), "a panicking body fails its own caller");
    let mut batch = WriteBatch::new();
    batch.put(KS, b"after-panic".to_vec(), b"y".to_vec());
    nodes[1].write(batch).await.expect("the writer survives a panicking body");
    assert_eq!(nodes[0].get(KS, b"after-panic").unwrap().as_deref(), Some(&b"y"[..]));

    // PostgreSQL text cannot hold NUL: the database rejects this batch.
    let mut batch = WriteBatch::new();
    batch.put(KS, b"half".to_vec(), b"1".to_vec()).put("bad\0keyspace", b"k".to_vec(), b"v".to_vec());
    assert!(nodes[0].write(batch).await.is_err(), "a batch the database rejects fails");
    assert_eq!(nodes[0].get(KS, b"half").unwrap(), None, "and writes nothing of itself");
    let mut batch = WriteBatch::new();
    batch.put(KS, b"after-error".to_vec(), b"z".to_vec());
    nodes[0].write(batch).await.expect("the writer recovers from a failed group");
    assert_eq!(nodes[1].get(KS, b"after-error").unwrap().as_deref(), Some(&b"z"[..]));
}

/// Inside an async context, as `nimbus serve` opens it (a failed open must
/// not panic there either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_unreachable_database_is_a_clear_error() {
    let bad = PgStore::open("postgres://u@h:notaport/db").err().expect("a bad URL must fail");
    assert!(bad.0.contains("invalid PostgreSQL URL"), "{bad}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = PgStore::open(&format!("postgres://u@127.0.0.1:{port}/db")).err().expect("nothing listens there");
    assert!(down.0.contains("cannot connect to PostgreSQL"), "{down}");
}

/// A database restart or failover drops every connection: the store
/// reconnects instead of failing forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_drops_its_connections() {
    let Some(cluster) = start_or_skip("reconnects_after_the_server_drops_its_connections") else { return };
    let store: Arc<dyn Store> = PgStore::open(cluster.url()).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(KS, b"before".to_vec(), b"1".to_vec());
    store.write(batch).await.unwrap();
    drop(store.snapshot().unwrap()); // one pooled connection too

    let (admin, connection) = tokio_postgres::connect(cluster.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let dropped = admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'", &[])
        .await
        .unwrap();
    assert!(dropped >= 2, "the store's connections were dropped ({dropped})");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let mut batch = WriteBatch::new();
    batch.put(KS, b"after".to_vec(), b"2".to_vec());
    store.write(batch).await.expect("the writer reconnects");
    assert_eq!(store.get(KS, b"before").unwrap().as_deref(), Some(&b"1"[..]), "the reader reconnects");
    assert_eq!(store.snapshot().unwrap().get(KS, b"after").unwrap().as_deref(), Some(&b"2"[..]), "snapshots reconnect");
}
