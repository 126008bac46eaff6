//! The node's single writer: group commit under the cluster-wide write lock.
//!
//! Writes and transactions queue to one thread. It takes everything queued,
//! opens one PostgreSQL transaction, takes the lock row, applies the group
//! in order (running transaction bodies against that same transaction, so
//! they see everything committed before and everything earlier in the
//! group), commits, and only then acknowledges each caller.

use std::ops::Bound;
use std::sync::{mpsc, Arc};

use nimbus_store::{Direction, Keyspace, ReadView, Result, StoreError, TxnFn, Visitor, WriteBatch};
use tokio::sync::oneshot;

use crate::conn::{db_err, Conn, Link};
use crate::sql;

/// How many queued writes one commit takes at most (bounds commit latency).
const MAX_GROUP: usize = 512;

pub(crate) type Ack = oneshot::Sender<Result<()>>;

pub(crate) enum Job {
    Write(WriteBatch, Ack),
    Transact(TxnFn, Ack),
    /// Commit what is queued before it, then stop.
    Close,
}

pub(crate) fn run(link: Arc<Link>, mut conn: Conn, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let closing = group.iter().any(|job| matches!(job, Job::Close));
        if conn.is_closed() {
            // The server went away; a fresh connection serves this group.
            match link.connect_blocking() {
                Ok(fresh) => conn = fresh,
                Err(e) => {
                    fail_all(group, e);
                    continue;
                }
            }
        }
        commit_group(&link, &conn, group);
        if closing {
            return;
        }
    }
}

fn commit_group(link: &Link, conn: &Conn, group: Vec<Job>) {
    if let Err(e) = execute(link, conn, sql::BEGIN_WRITE) {
        return fail_all(group, e);
    }
    let mut acks: Vec<(Ack, Result<()>)> = Vec::with_capacity(group.len());
    for job in group {
        let (batch, ack) = match job {
            Job::Write(batch, ack) => (batch, ack),
            Job::Transact(body, ack) => {
                let view = TxnView { link, conn };
                // A body that panics fails its own caller, not the writer.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&view)))
                    .unwrap_or_else(|panic| Err(StoreError(format!("transaction body panicked: {}", message(&panic)))));
                match outcome {
                    Ok(batch) => (batch, ack),
                    Err(e) => {
                        acks.push((ack, Err(e)));
                        continue;
                    }
                }
            }
            Job::Close => continue,
        };
        let applied = {
            let conn = conn.clone();
            link.block(async move { sql::apply(&conn, batch).await }).and_then(|r| r)
        };
        if let Err(e) = applied {
            // PostgreSQL has aborted the transaction: nothing of the group
            // is written, and every caller hears so.
            let _ = execute(link, conn, "ROLLBACK");
            let _ = ack.send(Err(e.clone()));
            return acks.into_iter().for_each(|(ack, _)| drop(ack.send(Err(e.clone()))));
        }
        acks.push((ack, Ok(())));
    }
    let committed = execute(link, conn, "COMMIT");
    for (ack, outcome) in acks {
        let _ = ack.send(match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(e), Ok(())) => Err(e.clone()),
            (Err(_), Err(own)) => Err(own),
        });
    }
}

fn execute(link: &Link, conn: &Conn, statements: &'static str) -> Result<()> {
    let conn = conn.clone();
    link.block(async move { conn.client().batch_execute(statements).await.map_err(db_err) })?
}

fn fail_all(group: Vec<Job>, cause: StoreError) {
    for job in group {
        if let Job::Write(_, ack) | Job::Transact(_, ack) = job {
            let _ = ack.send(Err(cause.clone()));
        }
    }
}

fn message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(msg), _) => msg,
        (_, Some(msg)) => msg,
        _ => "(no message)",
    }
}

/// What a transaction body reads: the writer's open transaction.
struct TxnView<'a> {
    link: &'a Link,
    conn: &'a Conn,
}

impl ReadView for TxnView<'_> {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        sql::get(self.link, self.conn, ks, key)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        sql::scan(self.link, self.conn, ks, range, direction, visit)
    }
}
