//! Connections, and the bridge from the store's synchronous reads to
//! tokio-postgres.
//!
//! All connections are driven by the engine's own small tokio runtime. A
//! synchronous read spawns its query there and waits on a plain channel, so
//! it works from any thread, inside a caller's runtime or not (the caller's
//! thread blocks for the round trip, as it would for a disk read).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nimbus_store::{Result, StoreError};
use tokio::runtime::Handle;
use tokio_postgres::{Client, Config, NoTls, Statement};

/// How long connecting may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// `e` and its causes: tokio-postgres keeps the useful part (connection
/// refused, invalid port…) in the source.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

/// The database error's own message (tokio-postgres's Display says only "db error").
pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!("PostgreSQL: {} ({})", db.message(), db.code().code())),
        None => StoreError(with_causes(&e)),
    }
}

/// Where to connect and the runtime that drives every connection.
pub(crate) struct Link {
    pub config: Config,
    pub runtime: Handle,
}

impl Link {
    pub fn new(url: &str, runtime: Handle) -> Result<Self> {
        let mut config: Config =
            url.parse().map_err(|e| StoreError(format!("invalid PostgreSQL URL: {}", with_causes(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        Ok(Link { config, runtime })
    }

    /// Run `fut` on the engine's runtime and wait for it on this thread.
    pub fn block<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Result<T> {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = done.send(fut.await);
        });
        wait.recv().map_err(|_| StoreError("the PostgreSQL store is closed".into()))
    }

    pub async fn connect(config: Config) -> Result<Conn> {
        let (client, connection) = config.connect(NoTls).await.map_err(|e| match e.as_db_error() {
            Some(_) => db_err(e),
            None => StoreError(format!("cannot connect to PostgreSQL: {}", with_causes(&e))),
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("PostgreSQL connection ended: {e}");
            }
        });
        Ok(Conn(Arc::new(ConnInner { client, statements: Mutex::new(HashMap::new()) })))
    }

    pub fn connect_blocking(&self) -> Result<Conn> {
        self.block(Self::connect(self.config.clone()))?
    }
}

/// One connection and the statements prepared on it (by SQL text).
#[derive(Clone)]
pub(crate) struct Conn(Arc<ConnInner>);

pub(crate) struct ConnInner {
    pub client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    pub fn client(&self) -> &Client {
        &self.0.client
    }

    pub fn is_closed(&self) -> bool {
        self.0.client.is_closed()
    }

    /// The prepared statement for `sql`, preparing it on first use.
    pub async fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.0.statements.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.0.client.prepare(sql).await.map_err(db_err)?;
        self.0.statements.lock().unwrap_or_else(|e| e.into_inner()).insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Idle connections for snapshots, which each hold one for their lifetime.
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
}

/// Idle connections kept beyond this are closed.
const MAX_IDLE: usize = 32;

impl Pool {
    pub fn new() -> Self {
        Pool { idle: Mutex::new(Vec::new()) }
    }

    pub fn take(&self, link: &Link) -> Result<Conn> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(conn) if conn.is_closed() => continue,
                Some(conn) => return Ok(conn),
                None => return link.connect_blocking(),
            }
        }
    }

    pub fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE && !conn.is_closed() {
            idle.push(conn);
        }
    }
}
