//! The node's single writer: group commit under the cluster-wide write lock.
//!
//! Writes and transactions queue to one thread. It takes everything queued,
//! opens one PostgreSQL transaction, takes the lock row, applies the group
//! in order (running transaction bodies against that same transaction, so
//! they see everything committed before and everything earlier in the
//! group), commits, and only then acknowledges each caller.

use std::cell::Cell;
use std::ops::Bound;
use std::sync::{mpsc, Arc};

use nimbus_store::{
    fail_all, take_group, Ack, Direction, Job, Keyspace, ReadView, Result, StoreError, Visitor, WriteBatch,
    WriterThread,
};

use crate::conn::{db_err, Conn, Link};
use crate::sql;

/// Connect the writer and start its thread.
pub(crate) fn start(link: Arc<Link>) -> Result<WriterThread> {
    let conn = connect(&link)?;
    WriterThread::spawn("nimbus-pg-writer", move |jobs| run(link, conn, jobs))
}

/// A connection whose commits are durable when they return, whatever the
/// server's default (engines without the setting always are).
fn connect(link: &Link) -> Result<Conn> {
    let conn = link.connect_blocking()?;
    let session = conn.clone();
    link.block(async move {
        if let Err(e) = session.client().batch_execute("SET synchronous_commit = on").await {
            tracing::debug!("synchronous_commit not set: {e}");
        }
    })?;
    Ok(conn)
}

fn run(link: Arc<Link>, mut conn: Conn, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let (group, closing) = take_group(first, &jobs);
        if conn.is_closed() {
            // The server went away; a fresh connection serves this group.
            match connect(&link) {
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
    let mut acks: Vec<(Ack, Result<()>)> = Vec::with_capacity(group.len());
    // Writes not yet sent: consecutive batches go out together in one
    // pipeline, sent before a transaction body reads and with the COMMIT.
    // The BEGIN rides along with the first pipeline, so a group of plain
    // writes costs one round trip.
    let mut unsent = WriteBatch::new();
    let mut begun = false;
    for job in group {
        match job {
            Job::Write(batch, ack) => {
                unsent.ops.extend(batch.ops);
                acks.push((ack, Ok(())));
            }
            Job::Transact(body, ack) => {
                let begin = (!begun).then_some(sql::BEGIN_WRITE);
                begun = true;
                if let Err(e) = send(link, conn, begin, &mut unsent, None) {
                    return abort(link, conn, acks, Some(ack), e);
                }
                let view = TxnView { link, conn, failed: Cell::new(None) };
                // A body that panics fails its own caller, not the writer.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&view)))
                    .unwrap_or_else(|panic| Err(StoreError(format!("transaction body panicked: {}", message(&panic)))));
                // A failed read has aborted the database transaction, and
                // COMMIT would then roll back without an error: stop here.
                if let Some(e) = view.failed.take() {
                    return abort(link, conn, acks, Some(ack), e);
                }
                match outcome {
                    Ok(batch) => {
                        unsent.ops.extend(batch.ops);
                        acks.push((ack, Ok(())));
                    }
                    Err(e) => acks.push((ack, Err(e))),
                }
            }
            Job::Close => {}
        }
    }
    if acks.is_empty() {
        return;
    }
    let begin = (!begun).then_some(sql::BEGIN_WRITE);
    if let Err(e) = send(link, conn, begin, &mut unsent, Some("COMMIT")) {
        return abort(link, conn, acks, None, e);
    }
    for (ack, outcome) in acks {
        let _ = ack.send(outcome);
    }
}

fn send(
    link: &Link,
    conn: &Conn,
    before: Option<&'static str>,
    unsent: &mut WriteBatch,
    after: Option<&'static str>,
) -> Result<()> {
    if before.is_none() && after.is_none() && unsent.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(unsent);
    let conn = conn.clone();
    link.block(async move { sql::apply(&conn, before, batch, after).await })?
}

/// A statement (or COMMIT) failed: nothing of the group is written, and
/// every caller in it hears so. The ROLLBACK ends the transaction if the
/// failure came before COMMIT was sent (after it, it is a harmless no-op).
fn abort(link: &Link, conn: &Conn, acks: Vec<(Ack, Result<()>)>, current: Option<Ack>, cause: StoreError) {
    let _ = execute(link, conn, "ROLLBACK");
    for ack in acks.into_iter().map(|(ack, _)| ack).chain(current) {
        let _ = ack.send(Err(cause.clone()));
    }
}

fn execute(link: &Link, conn: &Conn, statements: &'static str) -> Result<()> {
    let conn = conn.clone();
    link.block(async move { conn.client().batch_execute(statements).await.map_err(db_err) })?
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
    /// The first read that failed, whatever the body made of it.
    failed: Cell<Option<StoreError>>,
}

impl TxnView<'_> {
    fn note<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            let first = self.failed.take().unwrap_or_else(|| e.clone());
            self.failed.set(Some(first));
        }
        result
    }
}

impl ReadView for TxnView<'_> {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.note(sql::get(self.link, self.conn, ks, key))
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        self.note(sql::scan(self.link, self.conn, ks, range, direction, visit))
    }
}
