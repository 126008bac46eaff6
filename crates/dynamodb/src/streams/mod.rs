//! DynamoDB Streams: the change log of a table, and the
//! `DynamoDBStreams_20120810` API that reads it.
//!
//! Map: `model` (streams and their records in the store, sequence numbers,
//! ARNs and shard ids), `capture` (the record a write adds, staged into the
//! write's own transaction), `iterator` (opaque shard iterators) and `api`
//! (ListStreams, DescribeStream, GetShardIterator, GetRecords) and `trim`
//! (records older than the retention period go).
//!
//! Each stream has one shard. A record is staged in the same store batch as
//! the item change it describes, so neither commits without the other, and
//! its sequence number is drawn while the store's single writer runs the
//! transaction, so numbers increase in commit order.

pub mod api;
pub mod capture;
pub mod iterator;
pub mod model;
pub mod trim;

pub use api::DynamoDbStreams;
pub use capture::Origin;

#[cfg(test)]
mod tests;
