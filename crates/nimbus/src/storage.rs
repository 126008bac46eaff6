//! Which storage engine a server runs on: `--store` / `NIMBUS_STORE`.

use std::path::Path;
use std::sync::Arc;

use nimbus_store::Store;
use nimbus_store_postgres::PgStore;
use nimbus_store_redb::RedbStore;

/// The embedded store's file inside the data dir.
pub const STORE_FILE: &str = "store.redb";

/// Open the store `spec` names (a `postgres://` URL), or by default the
/// embedded store in `data_dir`. Returns it with a line for the start-up
/// banner (passwords hidden).
pub fn open(spec: Option<&str>, data_dir: &Path) -> Result<(Arc<dyn Store>, String), String> {
    match spec {
        None => {
            let path = data_dir.join(STORE_FILE);
            let store =
                RedbStore::open(&path).map_err(|e| format!("cannot open the store at {}: {e}", path.display()))?;
            Ok((store, format!("redb at {}", path.display())))
        }
        Some(url) if nimbus_store_postgres::is_postgres_url(url) => {
            let shown = nimbus_store_postgres::redact(url);
            // Opening blocks this start-up thread on the network, within the URL's
            // connect_timeout (5 s by default).
            let store =
                PgStore::open(url).map_err(|e| format!("cannot open the PostgreSQL store at {shown}: {}", e.0))?;
            Ok((store, format!("postgres at {shown}")))
        }
        Some(other) => Err(format!(
            "unsupported --store {:?}: give a postgres://user:password@host:port/database URL, \
             or leave it unset for the embedded store in the data dir",
            nimbus_store_postgres::redact(other)
        )),
    }
}
