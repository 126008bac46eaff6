//! The stream record of one item change, staged into the change's batch.

use nimbus_store::WriteBatch;

use super::model::{enabled_label, next_seq, record_key, records_prefix, StoredRecord, RECORDS};
use crate::model::Table;
use crate::types::{item_size, Item};

/// Who made a change: a caller's request, or Time to Live expiring the item
/// (such records name DynamoDB itself as the user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Caller,
    TimeToLive,
}

/// Stage the record of replacing `old` by `new` when `table` has a stream
/// enabled. A write that leaves the item as it was records nothing.
pub fn capture(batch: &mut WriteBatch, table: &Table, old: Option<&Item>, new: Option<&Item>, origin: Origin) {
    let Some(label) = enabled_label(table) else {
        return;
    };
    let (event, item) = match (old, new) {
        (None, Some(n)) => ("INSERT", n),
        (Some(o), Some(n)) if o == n => return,
        (Some(_), Some(n)) => ("MODIFY", n),
        (Some(o), None) => ("REMOVE", o),
        (None, None) => return,
    };
    let view_type = table.stream.as_ref().and_then(|s| s.view_type.clone()).unwrap_or_default();
    let (with_new, with_old) = match view_type.as_str() {
        "NEW_IMAGE" => (true, false),
        "OLD_IMAGE" => (false, true),
        "NEW_AND_OLD_IMAGES" => (true, true),
        _ => (false, false),
    };
    let keys = table.key_attributes(item, None);
    let new = new.filter(|_| with_new);
    let old = old.filter(|_| with_old);
    let size = [Some(&keys), new, old].into_iter().flatten().map(item_size).sum::<usize>();
    let json = |item: &Item| serde_json::to_value(item).unwrap_or_default();
    let record = StoredRecord {
        event: event.to_owned(),
        at: nimbus_core::time::now_epoch_millis(),
        keys: json(&keys),
        new: new.map(json),
        old: old.map(json),
        size: size as u64,
        view_type,
        by_ttl: origin == Origin::TimeToLive,
    };
    let key = record_key(&records_prefix(table.id, label), next_seq());
    batch.put(RECORDS, key, serde_json::to_vec(&record).unwrap_or_default());
}
