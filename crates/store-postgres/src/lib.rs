//! A storage engine on the PostgreSQL wire protocol, for when one machine is
//! not enough: several Nimbus processes share one PostgreSQL (or
//! CockroachDB, or YugabyteDB) database.
//!
//! All keyspaces live in one table `nimbus_kv (ks, k bytea, v bytea)`,
//! primary key `(ks, k)`; `bytea` orders bytewise, the store's key order.
//!
//! Design, and why it is serializable without retries:
//!
//! - **Writes** (batches and transactions) queue to one writer thread per
//!   process, which commits whatever is queued in one database transaction
//!   (group commit) and acknowledges after `COMMIT` returns. The writer sets
//!   `synchronous_commit = on`, so an acknowledged write is durable. A group
//!   of plain writes is one pipeline (BEGIN, lock, writes, COMMIT): one
//!   round trip.
//! - **Serializability across processes**: each write transaction first
//!   locks the single row of `nimbus_writer_lock` (`SELECT … FOR UPDATE`),
//!   so write groups of all processes run one after another. Transaction
//!   bodies (`TxnFn`, which is `FnOnce` and cannot be re-run) read inside
//!   that transaction at READ COMMITTED after the lock is granted: they see
//!   every write committed before, and nobody else can write until they
//!   commit. No serialization failure can occur on PostgreSQL, so nothing
//!   needs retrying. (CockroachDB runs READ COMMITTED as SERIALIZABLE unless
//!   enabled; a retry error there reaches the caller as a failed write with
//!   nothing applied, never as a lost update.)
//! - **Snapshots** hold a pooled connection with a `REPEATABLE READ READ
//!   ONLY` transaction whose point in time is fixed when it is taken.
//!   Readers never take the write lock. Plain reads on the store see the
//!   latest committed state (multi-page scans go through a snapshot so they
//!   are consistent).
//!
//! The cost of the global write lock is that write groups do not overlap
//! across processes; group commit keeps each one large. No TLS yet.

mod conn;
pub mod scratch;
mod snapshot;
mod sql;
mod writer;

use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::thread;

use nimbus_core::BoxFuture;
use nimbus_store::{Direction, Keyspace, ReadView, Result, Snapshot, Store, TxnFn, Visitor, WriteBatch, WriterThread};

use crate::conn::{db_err, Conn, Link, Pool};
use crate::snapshot::PgSnapshot;

/// Whether `spec` (a `--store` value) names this engine.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// `url` with its password hidden, for logs and start-up output.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

pub struct PgStore {
    link: Arc<Link>,
    pool: Arc<Pool>,
    /// Autocommit connection for single-key reads of the latest state.
    reader: Mutex<Conn>,
    writer: WriterThread,
    /// Declared last: dropped after the writer has stopped.
    _runtime: EngineRuntime,
}

impl PgStore {
    /// Connect to the database at `url` (`postgres://user:pass@host:port/db`),
    /// create the schema if missing and start the writer.
    pub fn open(url: &str) -> Result<Arc<Self>> {
        let runtime = EngineRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("nimbus-postgres")
                .enable_all()
                .build()
                .map_err(conn::err)?,
        ));
        let link = Arc::new(Link::new(url, runtime.handle())?);
        let reader = link.connect_blocking()?;
        create_schema(&link, &reader)?;
        let writer = writer::start(link.clone())?;
        Ok(Arc::new(PgStore {
            link,
            pool: Arc::new(Pool::new()),
            reader: Mutex::new(reader),
            writer,
            _runtime: runtime,
        }))
    }

    /// The shared autocommit connection, reconnected if the server dropped it.
    fn reader(&self) -> Result<Conn> {
        let mut reader = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        if reader.is_closed() {
            *reader = self.link.connect_blocking()?;
        }
        Ok(reader.clone())
    }
}

/// Several nodes may start at once; PostgreSQL's `CREATE TABLE IF NOT
/// EXISTS` can then fail for the loser of the race, which simply tries again.
fn create_schema(link: &Link, conn: &Conn) -> Result<()> {
    let mut attempt = 0;
    loop {
        let conn = conn.clone();
        match link.block(async move { conn.client().batch_execute(sql::SCHEMA).await.map_err(db_err) })? {
            Ok(()) => return Ok(()),
            Err(_) if attempt < 3 => attempt += 1,
            Err(e) => return Err(e),
        }
        thread::sleep(std::time::Duration::from_millis(50));
    }
}

impl ReadView for PgStore {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        sql::get(&self.link, &self.reader()?, ks, key)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        PgSnapshot::take(&self.link, &self.pool)?.scan(ks, range, direction, visit)
    }
}

impl Store for PgStore {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(PgSnapshot::take(&self.link, &self.pool)?))
    }

    fn write(&self, batch: WriteBatch) -> BoxFuture<'_, Result<()>> {
        self.writer.write(batch)
    }

    fn transact_raw(&self, txn: TxnFn) -> BoxFuture<'_, Result<()>> {
        self.writer.transact(txn)
    }

    fn close(&self) -> Result<()> {
        self.writer.stop();
        Ok(())
    }

    fn engine(&self) -> &'static str {
        "postgres"
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The runtime driving the engine's connections. Dropping a tokio runtime
/// inside a caller's async context panics (and a failed `open` drops it
/// there), so it is shut down in the background instead.
struct EngineRuntime(Option<tokio::runtime::Runtime>);

impl EngineRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle().clone()
    }
}

impl Drop for EngineRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgresql://u:p%40ss@h/db?sslmode=disable"), "postgresql://u:***@h/db?sslmode=disable");
    }
}
