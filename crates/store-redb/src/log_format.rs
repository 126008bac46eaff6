//! The redo log's record: the write set of one group commit.
//!
//! A record is the ops of every batch the group applied, in order, under the
//! group's sequence number and the log's current epoch, guarded by a CRC-32.
//! Layout (little-endian):
//!
//! ```text
//! magic "NWL1" | crc32 u32 | epoch u64 | seq u64 | payload_len u32 | payload | zeros to a BLOCK multiple
//! ```
//!
//! The CRC covers everything after itself up to the payload's end, so a torn
//! write or zeroed space fails it. The epoch is a random number redb records
//! at each checkpoint: a record left from an earlier lap of the log carries
//! an older one, and a record-shaped byte string inside a stored value (which
//! a client could craft) cannot guess it.
//! Payload: one entry per op, `tag u8 | keyspace (u16 len + bytes) | key (u32
//! len + bytes)`, then for a put its value and for a bounded range delete its
//! end (each u32 len + bytes).

use nimbus_store::{Result, StoreError, WriteOp};

/// The unit of log writes: O_DIRECT needs block-aligned lengths and offsets.
pub const BLOCK: usize = 4096;
const MAGIC: &[u8; 4] = b"NWL1";
const HEADER: usize = 28;

const PUT: u8 = 0;
const DELETE: u8 = 1;
const DELETE_RANGE: u8 = 2;
const DELETE_RANGE_TO_END: u8 = 3;

/// One change, borrowed from a live `WriteOp` or from a record's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    Put { ks: &'a str, key: &'a [u8], value: &'a [u8] },
    Delete { ks: &'a str, key: &'a [u8] },
    DeleteRange { ks: &'a str, start: &'a [u8], end: Option<&'a [u8]> },
}

impl<'a> From<&'a WriteOp> for Op<'a> {
    fn from(op: &'a WriteOp) -> Self {
        match op {
            WriteOp::Put { ks, key, value } => Op::Put { ks, key, value },
            WriteOp::Delete { ks, key } => Op::Delete { ks, key },
            WriteOp::DeleteRange { ks, start, end } => Op::DeleteRange { ks, start, end: end.as_deref() },
        }
    }
}

/// Builds one record at a time in a reused buffer.
#[derive(Default)]
pub struct RecordBuilder {
    buf: Vec<u8>,
}

impl RecordBuilder {
    pub fn start(&mut self, epoch: u64, seq: u64) {
        self.buf.clear();
        self.buf.extend_from_slice(MAGIC);
        self.buf.extend_from_slice(&[0; 4]); // crc, filled by `finish`
        self.buf.extend_from_slice(&epoch.to_le_bytes());
        self.buf.extend_from_slice(&seq.to_le_bytes());
        self.buf.extend_from_slice(&[0; 4]); // payload length, filled by `finish`
    }

    pub fn push(&mut self, op: Op<'_>) {
        let (tag, ks, key, tail) = match op {
            Op::Put { ks, key, value } => (PUT, ks, key, Some(value)),
            Op::Delete { ks, key } => (DELETE, ks, key, None),
            Op::DeleteRange { ks, start, end: Some(end) } => (DELETE_RANGE, ks, start, Some(end)),
            Op::DeleteRange { ks, start, end: None } => (DELETE_RANGE_TO_END, ks, start, None),
        };
        self.buf.push(tag);
        // Keyspace names are short static identifiers; u16 is plenty.
        self.buf.extend_from_slice(&(ks.len() as u16).to_le_bytes());
        self.buf.extend_from_slice(ks.as_bytes());
        self.push_bytes(key);
        if let Some(tail) = tail {
            self.push_bytes(tail);
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// Seal the record: fill in length and checksum, pad to whole blocks.
    pub fn finish(&mut self) -> &[u8] {
        let payload_len = (self.buf.len() - HEADER) as u32;
        self.buf[24..28].copy_from_slice(&payload_len.to_le_bytes());
        let crc = crc32fast::hash(&self.buf[8..]);
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        self.buf.resize(self.buf.len().div_ceil(BLOCK) * BLOCK, 0);
        &self.buf
    }
}

/// What the first block of a record says, before the rest is read.
pub struct Header {
    pub epoch: u64,
    pub seq: u64,
    /// The record's whole length on disk, padding included.
    pub padded_len: usize,
}

/// Parse a record's header; `None` if these bytes cannot start a record.
pub fn header(block: &[u8]) -> Option<Header> {
    if block.len() < HEADER || &block[..4] != MAGIC {
        return None;
    }
    let epoch = u64::from_le_bytes(block[8..16].try_into().ok()?);
    let seq = u64::from_le_bytes(block[16..24].try_into().ok()?);
    let payload_len = u32::from_le_bytes(block[24..28].try_into().ok()?) as usize;
    Some(Header { epoch, seq, padded_len: (HEADER + payload_len).div_ceil(BLOCK) * BLOCK })
}

/// The ops of a whole record, or `None` if its checksum fails (torn or stale).
pub fn decode(record: &[u8]) -> Option<Result<Vec<Op<'_>>>> {
    header(record)?;
    let payload_len = u32::from_le_bytes(record[24..28].try_into().ok()?) as usize;
    let end = HEADER.checked_add(payload_len).filter(|&end| end <= record.len())?;
    let crc = u32::from_le_bytes(record[4..8].try_into().ok()?);
    if crc32fast::hash(&record[8..end]) != crc {
        return None;
    }
    // The checksum held, so a payload we cannot parse is a bug, not a tear.
    let ops = parse_ops(&record[HEADER..end]);
    Some(ops.ok_or_else(|| StoreError("a log record's checksum holds but its ops do not parse".into())))
}

fn parse_ops(mut payload: &[u8]) -> Option<Vec<Op<'_>>> {
    let mut ops = Vec::new();
    while let Some((&tag, rest)) = payload.split_first() {
        payload = rest;
        let ks_len = u16::from_le_bytes(take(&mut payload, 2)?.try_into().ok()?) as usize;
        let ks = std::str::from_utf8(take(&mut payload, ks_len)?).ok()?;
        let key = take_bytes(&mut payload)?;
        ops.push(match tag {
            PUT => Op::Put { ks, key, value: take_bytes(&mut payload)? },
            DELETE => Op::Delete { ks, key },
            DELETE_RANGE => Op::DeleteRange { ks, start: key, end: Some(take_bytes(&mut payload)?) },
            DELETE_RANGE_TO_END => Op::DeleteRange { ks, start: key, end: None },
            _ => return None,
        });
    }
    Some(ops)
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if bytes.len() < n {
        return None;
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(head)
}

fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
    take(bytes, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64) -> Vec<u8> {
        let mut builder = RecordBuilder::default();
        builder.start(42, seq);
        builder.push(Op::Put { ks: "a.b", key: b"k", value: b"value" });
        builder.push(Op::Delete { ks: "a.b", key: b"gone" });
        builder.push(Op::DeleteRange { ks: "c", start: b"p/", end: Some(b"p0") });
        builder.push(Op::DeleteRange { ks: "c", start: b"q", end: None });
        builder.finish().to_vec()
    }

    #[test]
    fn a_record_round_trips_and_is_block_padded() {
        let record = sample(7);
        assert_eq!(record.len(), BLOCK);
        let head = header(&record).unwrap();
        assert_eq!((head.epoch, head.seq, head.padded_len), (42, 7, BLOCK));
        let ops = decode(&record).unwrap().unwrap();
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[0], Op::Put { ks: "a.b", key: b"k", value: b"value" });
        assert_eq!(ops[3], Op::DeleteRange { ks: "c", start: b"q", end: None });
    }

    #[test]
    fn any_flipped_byte_fails_the_checksum() {
        let record = sample(1);
        let used = HEADER + 60;
        for at in (4..used).step_by(3) {
            let mut torn = record.clone();
            torn[at] ^= 0x20;
            assert!(decode(&torn).is_none(), "byte {at} flipped still decodes");
        }
        assert!(decode(&[0; BLOCK]).is_none(), "zeroed space is no record");
    }

    #[test]
    fn a_large_record_spans_blocks() {
        let mut builder = RecordBuilder::default();
        builder.start(42, 3);
        let value = vec![9u8; 10_000];
        builder.push(Op::Put { ks: "k", key: b"big", value: &value });
        let record = builder.finish().to_vec();
        assert_eq!(record.len(), 3 * BLOCK);
        assert_eq!(header(&record).unwrap().padded_len, 3 * BLOCK);
        assert_eq!(decode(&record).unwrap().unwrap()[0], Op::Put { ks: "k", key: b"big", value: &value });
        assert!(decode(&record[..2 * BLOCK]).is_none(), "a record cut short does not decode");
    }
}
