//! The door through which a service reads another service's change stream
//! in order: Lambda's event source mappings read DynamoDB Streams through it
//! (the dynamodb crate implements it), without either crate seeing the other.
//!
//! Positions are opaque strings the reader hands out: a mapping stores the
//! one after the last record its function handled, and reads on from there.

use crate::error::AwsError;

/// Where a new reader starts (Lambda's `StartingPosition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Just after the newest record at the time of asking.
    Latest,
}

/// One record, in the shape the reading service hands to its consumers
/// (for DynamoDB: `eventID`, `eventName`, `dynamodb`, …).
#[derive(Clone, Debug)]
pub struct StreamRecord {
    /// The record's sequence number as the stream shows it.
    pub sequence_number: String,
    /// Reading from here returns this record first.
    pub position: String,
    /// Reading from here returns the records after this one.
    pub next_position: String,
    /// When the change was made (epoch milliseconds).
    pub created_ms: u64,
    pub event: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct StreamBatch {
    pub records: Vec<StreamRecord>,
    /// Where the next read continues (after the last record returned).
    pub next_position: String,
}

pub trait StreamReader: Send + Sync {
    /// The position `start` names now; `ResourceNotFoundException` when the
    /// stream does not exist.
    fn starting_position(&self, stream_arn: &str, start: StartingPosition) -> Result<String, AwsError>;

    /// Up to `limit` records from `position` on, oldest first.
    fn read(&self, stream_arn: &str, position: &str, limit: usize) -> Result<StreamBatch, AwsError>;

    /// A counter that moves when records may have been added to some stream:
    /// readers wait on it instead of polling often. A hint only (`None`:
    /// no hints), so readers still look now and then.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
