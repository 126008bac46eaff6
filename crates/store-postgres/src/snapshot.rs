//! Snapshots: a pooled connection holding a REPEATABLE READ, READ ONLY
//! transaction, so every read sees the database as of `snapshot()`.

use std::ops::Bound;
use std::sync::Arc;

use nimbus_store::{Direction, Keyspace, ReadView, Result, Snapshot, Visitor};

use crate::conn::{Conn, Link, Pool};
use crate::sql;

pub(crate) struct PgSnapshot {
    link: Arc<Link>,
    pool: Arc<Pool>,
    conn: Conn,
}

impl PgSnapshot {
    pub fn take(link: &Arc<Link>, pool: &Arc<Pool>) -> Result<Self> {
        let conn = pool.take(link)?;
        let begin = conn.clone();
        link.block(
            async move { begin.client().batch_execute(sql::BEGIN_SNAPSHOT).await.map_err(crate::conn::db_err) },
        )??;
        Ok(PgSnapshot { link: link.clone(), pool: pool.clone(), conn })
    }
}

impl ReadView for PgSnapshot {
    fn get(&self, ks: Keyspace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        sql::get(&self.link, &self.conn, ks, key)
    }

    fn scan(
        &self,
        ks: Keyspace,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()> {
        sql::scan(&self.link, &self.conn, ks, range, direction, visit)
    }
}

impl Snapshot for PgSnapshot {}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        // End the transaction off the caller's path; the connection goes
        // back to the pool only once it is out of it.
        let conn = self.conn.clone();
        let pool = self.pool.clone();
        self.link.runtime.spawn(async move {
            if conn.client().batch_execute("ROLLBACK").await.is_ok() {
                pool.give_back(conn);
            }
        });
    }
}
