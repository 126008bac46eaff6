//! The schema and the SQL the engine speaks: plain statements that
//! PostgreSQL, CockroachDB and YugabyteDB all accept (no PL/pgSQL, no
//! advisory locks, no LISTEN).
//!
//! Every keyspace lives in one table, keyed by (keyspace, key); `bytea`
//! compares bytewise (then by length), which is exactly the store's key order.

use std::future::Future;
use std::ops::{Bound, ControlFlow};
use std::pin::Pin;
use std::task::Poll;

use nimbus_store::{Direction, Keyspace, Result, Visitor, WriteBatch, WriteOp};
use tokio_postgres::types::ToSql;

use crate::conn::{db_err, Conn, Link};

/// Creates what the engine needs; safe to run again and by several nodes.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nimbus_kv (
    ks TEXT NOT NULL,
    k BYTEA NOT NULL,
    v BYTEA NOT NULL,
    PRIMARY KEY (ks, k)
);
CREATE TABLE IF NOT EXISTS nimbus_writer_lock (id INT PRIMARY KEY);
INSERT INTO nimbus_writer_lock (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
";

/// Starts a write group: every write of every node takes the one lock row,
/// so writes (and transaction bodies, which read after taking it) run one
/// group at a time across the cluster. READ COMMITTED makes each later
/// statement see everything committed before the lock was granted.
pub(crate) const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT id FROM nimbus_writer_lock WHERE id = 1 FOR UPDATE;";

/// Starts a snapshot; the SELECT fixes its point in time now rather than at
/// its first read.
pub(crate) const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1;";

const GET: &str = "SELECT v FROM nimbus_kv WHERE ks = $1 AND k = $2";
const PUT: &str =
    "INSERT INTO nimbus_kv (ks, k, v) VALUES ($1, $2, $3) ON CONFLICT (ks, k) DO UPDATE SET v = excluded.v";
const DELETE: &str = "DELETE FROM nimbus_kv WHERE ks = $1 AND k = $2";
const DELETE_FROM: &str = "DELETE FROM nimbus_kv WHERE ks = $1 AND k >= $2";
const DELETE_RANGE: &str = "DELETE FROM nimbus_kv WHERE ks = $1 AND k >= $2 AND k < $3";

/// Scan pages start small (most scans stop early) and grow to this.
const FIRST_PAGE: i64 = 16;
const MAX_PAGE: i64 = 4096;

type Param = Box<dyn ToSql + Send + Sync>;

/// `key` in `ks` as seen by `conn`'s current transaction (or latest state).
pub(crate) fn get(link: &Link, conn: &Conn, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let conn = conn.clone();
    let key = key.to_vec();
    link.block(async move {
        let statement = conn.statement(GET).await?;
        let row = conn.client().query_opt(&statement, &[&ks, &key]).await.map_err(db_err)?;
        Ok(row.map(|row| row.get::<_, Vec<u8>>(0)))
    })?
}

/// Visit `range` page by page; each page resumes after the last key seen.
pub(crate) fn scan(
    link: &Link,
    conn: &Conn,
    ks: Keyspace,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    direction: Direction,
    visit: &mut Visitor<'_>,
) -> Result<()> {
    let mut start = range.0.map(<[u8]>::to_vec);
    let mut end = range.1.map(<[u8]>::to_vec);
    let mut page = FIRST_PAGE;
    loop {
        let (sql, params) = scan_query(ks, &start, &end, direction, page);
        let conn = conn.clone();
        let rows = link.block(async move {
            let statement = conn.statement(&sql).await?;
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            conn.client().query(&statement, &params).await.map_err(db_err)
        })??;
        let full = rows.len() as i64 == page;
        let mut last = None;
        for row in &rows {
            let (k, v): (&[u8], &[u8]) = (row.get(0), row.get(1));
            if visit(k, v) == ControlFlow::Break(()) {
                return Ok(());
            }
            last = Some(k);
        }
        match (full, last) {
            (true, Some(last)) => match direction {
                Direction::Forward => start = Bound::Excluded(last.to_vec()),
                Direction::Backward => end = Bound::Excluded(last.to_vec()),
            },
            _ => return Ok(()),
        }
        page = (page * 4).min(MAX_PAGE);
    }
}

/// The SELECT for one page of a scan, with only the bounds it has.
fn scan_query(
    ks: Keyspace,
    start: &Bound<Vec<u8>>,
    end: &Bound<Vec<u8>>,
    direction: Direction,
    limit: i64,
) -> (String, Vec<Param>) {
    let mut sql = String::from("SELECT k, v FROM nimbus_kv WHERE ks = $1");
    let mut params: Vec<Param> = vec![Box::new(ks)];
    let mut bound = |op: &str, key: &Vec<u8>, sql: &mut String| {
        params.push(Box::new(key.clone()));
        sql.push_str(&format!(" AND k {op} ${}", params.len()));
    };
    match start {
        Bound::Included(key) => bound(">=", key, &mut sql),
        Bound::Excluded(key) => bound(">", key, &mut sql),
        Bound::Unbounded => {}
    }
    match end {
        Bound::Included(key) => bound("<=", key, &mut sql),
        Bound::Excluded(key) => bound("<", key, &mut sql),
        Bound::Unbounded => {}
    }
    sql.push_str(match direction {
        Direction::Forward => " ORDER BY k ASC",
        Direction::Backward => " ORDER BY k DESC",
    });
    params.push(Box::new(limit));
    sql.push_str(&format!(" LIMIT ${}", params.len()));
    (sql, params)
}

/// Send `before` (simple statements, e.g. BEGIN), the writes of `batch` and
/// `after` (e.g. COMMIT) as one pipeline: all go out without waiting for an
/// answer, and the server runs them in this order. The first error wins.
pub(crate) async fn apply(
    conn: &Conn,
    before: Option<&'static str>,
    batch: WriteBatch,
    after: Option<&'static str>,
) -> Result<()> {
    let mut statements = Vec::with_capacity(batch.ops.len());
    for op in &batch.ops {
        let sql = match op {
            WriteOp::Put { .. } => PUT,
            WriteOp::Delete { .. } => DELETE,
            WriteOp::DeleteRange { end: None, .. } => DELETE_FROM,
            WriteOp::DeleteRange { end: Some(_), .. } => DELETE_RANGE,
        };
        statements.push(conn.statement(sql).await?);
    }
    let client = conn.client();
    let simple = |sql: &'static str| -> Step<'_> { Box::pin(client.batch_execute(sql)) };
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(batch.ops.len() + 2);
    steps.extend(before.map(simple));
    for (op, statement) in batch.ops.iter().zip(&statements) {
        steps.push(Box::pin(async move {
            let done = match op {
                WriteOp::Put { ks, key, value } => client.execute(statement, &[ks, key, value]).await,
                WriteOp::Delete { ks, key } | WriteOp::DeleteRange { ks, start: key, end: None } => {
                    client.execute(statement, &[ks, key]).await
                }
                WriteOp::DeleteRange { ks, start, end: Some(end) } => {
                    client.execute(statement, &[ks, start, end]).await
                }
            };
            done.map(drop)
        }));
    }
    steps.extend(after.map(simple));
    in_order(steps).await.map_err(db_err)
}

type Step<'a> = Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// Await every step, first polling each in order: tokio-postgres sends a
/// request when its future is first polled, so the server sees them in this
/// order while none waits for the previous answer.
async fn in_order(mut steps: Vec<Step<'_>>) -> std::result::Result<(), tokio_postgres::Error> {
    let mut done = vec![false; steps.len()];
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (step, done) in steps.iter_mut().zip(done.iter_mut()) {
            if *done {
                continue;
            }
            match step.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => *done = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => waiting = true,
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    })
    .await
}
