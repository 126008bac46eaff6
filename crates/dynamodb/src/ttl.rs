//! Time to Live: once UpdateTimeToLive enables it, items whose TTL
//! attribute holds an epoch time (in seconds) that has passed are deleted
//! in the background, as AWS does (there within a few days; here within a
//! sweep or two). As on AWS, only Number values count, and values more
//! than five years in the past are ignored.
//!
//! Each deletion goes through the write engine, so index entries go with
//! the item, and is conditional on the attribute still holding the value
//! the sweep saw: an update that pushes the expiry back wins. Its stream
//! record names DynamoDB itself as the user, as AWS's do.

use std::sync::Arc;
use std::time::Duration;

use nimbus_core::time::now_epoch_millis;
use nimbus_store::ReadViewExt;

use crate::engine::{Action, WriteOp};
use crate::error::{internal, Result};
use crate::expr::{Cmp, Cond, Operand, Path, PathElem};
use crate::model::{Table, ITEMS};
use crate::streams::Origin;
use crate::types::{item_from_stored, number::Number, AttributeValue};
use crate::DynamoDb;

/// How often the sweeper looks for expired items.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Expiry times further back than this are taken for something else.
const IGNORED_AFTER_SECS: i64 = 5 * 365 * 24 * 60 * 60;

impl DynamoDb {
    /// Run the TTL sweeper for as long as the process lives.
    pub fn start_ttl_sweeper(self: &Arc<Self>) {
        let ddb = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(ddb) = ddb.upgrade() else { return };
                if let Err(err) = ddb.sweep_expired(now_epoch_millis() as i64 / 1000).await {
                    eprintln!("nimbus: dynamodb TTL sweep failed: {err}");
                }
            }
        });
    }

    /// Delete the items of every TTL-enabled table that expired before
    /// `now` (epoch seconds); how many were deleted.
    pub async fn sweep_expired(&self, now: i64) -> Result<usize> {
        let mut deleted = 0;
        for table in self.catalog.all()? {
            let Some(attr) = table.ttl.as_ref().filter(|t| t.enabled).map(|t| t.attribute.clone()) else {
                continue;
            };
            for (key, expiry) in expired_items(&self.catalog, &table, &attr, now)? {
                let op = WriteOp {
                    key_item: key.1,
                    key: key.0,
                    table: table.clone(),
                    action: Action::Delete,
                    condition: Some(Cond::Compare(
                        Cmp::Eq,
                        Operand::Path(Path(vec![PathElem::Name(attr.clone())])),
                        Operand::Value(expiry),
                    )),
                    wants_old: false,
                    statement_sized: false,
                };
                // A failed condition means the item changed since: keep it.
                if self.run_write_as(op, false, Origin::TimeToLive).await.is_ok() {
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }
}

type EncodedKey = (Vec<u8>, crate::types::Item);

/// The keys of `table`'s items whose `attr` expired before `now`, with the
/// value that made them expire.
fn expired_items(
    catalog: &crate::model::Catalog,
    table: &Arc<Table>,
    attr: &str,
    now: i64,
) -> Result<Vec<(EncodedKey, AttributeValue)>> {
    let (oldest, now) = (Number::from_i64(now - IGNORED_AFTER_SECS), Number::from_i64(now));
    let snapshot = catalog.store().snapshot().map_err(internal)?;
    let rows = snapshot.scan_prefix(ITEMS, &table.id.to_be_bytes(), usize::MAX).map_err(internal)?;
    let mut out = vec![];
    for (key, bytes) in rows {
        let item = item_from_stored(&bytes)?;
        if let Some(AttributeValue::N(n)) = item.get(attr) {
            if *n < now && *n >= oldest {
                let expiry = AttributeValue::N(n.clone());
                out.push(((key, table.key_attributes(&item, None)), expiry));
            }
        }
    }
    Ok(out)
}
