//! Shard iterators: opaque to clients, they name a stream, its shard, the
//! sequence number to read from and when they were handed out (they expire).

use crate::types::base64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_arn: String,
    pub shard_id: String,
    /// The first sequence number the next GetRecords may return.
    pub position: u64,
    /// Epoch milliseconds when it was handed out.
    pub issued_ms: u64,
}

const VERSION: &str = "nimbus1";

impl ShardIterator {
    pub fn encode(&self) -> String {
        let text = format!("{VERSION}|{}|{}|{}|{}", self.position, self.issued_ms, self.shard_id, self.stream_arn);
        base64::encode(text.as_bytes())
    }

    /// `None` for anything this server did not hand out.
    pub fn decode(text: &str) -> Option<ShardIterator> {
        let bytes = base64::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(5, '|');
        if parts.next()? != VERSION {
            return None;
        }
        let position = parts.next()?.parse().ok()?;
        let issued_ms = parts.next()?.parse().ok()?;
        let shard_id = parts.next()?.to_owned();
        let stream_arn = parts.next()?.to_owned();
        Some(ShardIterator { stream_arn, shard_id, position, issued_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let it = ShardIterator {
            stream_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2020-01-01T00:00:00.000".into(),
            shard_id: "shardId-00000000000000000001-0000abcd".into(),
            position: 42,
            issued_ms: 7,
        };
        assert_eq!(ShardIterator::decode(&it.encode()), Some(it));
        assert_eq!(ShardIterator::decode("sdfsdfsgagaddafgagasgasgasdfasdf"), None);
    }
}
