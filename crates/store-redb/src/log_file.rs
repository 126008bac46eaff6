//! The redo log's file: preallocated, written in whole blocks, each write
//! durable when it returns.
//!
//! The file is zero-filled to its capacity once and fsynced, so a log write
//! never changes the file's size or extent map: the only thing a write has
//! to make durable is its own data. Writes go through `O_DIRECT | O_DSYNC`
//! (no page-cache copy, one device flush per write); where the filesystem
//! refuses `O_DIRECT` (tmpfs), through `O_DSYNC` alone, and on systems
//! without either, through `write` + `fdatasync`.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nimbus_store::Result;

use crate::files::{err, sync_new_entries};
use crate::log_format::{self, BLOCK};

pub struct LogFile {
    path: PathBuf,
    file: File,
    /// How far records may go before the writer must checkpoint instead.
    capacity: u64,
    /// Where the next record goes.
    end: u64,
    /// Whether `file` was opened with O_DIRECT (writes need aligned memory).
    direct: bool,
    /// Whether each write is durable by itself (O_DSYNC) or needs fdatasync.
    dsync: bool,
    staging: AlignedBuf,
}

impl LogFile {
    /// Open the log at `path`, creating and zero-filling it to `capacity`
    /// first where needed. The next record goes at the start.
    pub fn open(path: &Path, capacity: u64) -> Result<LogFile> {
        Self::open_trying_direct(path, capacity, true)
    }

    fn open_trying_direct(path: &Path, capacity: u64, try_direct: bool) -> Result<LogFile> {
        preallocate(path, capacity)?;
        let (file, direct, dsync) = open_for_writes(path, try_direct)?;
        Ok(LogFile { path: path.to_path_buf(), file, capacity, end: 0, direct, dsync, staging: AlignedBuf::default() })
    }

    /// Whether a record of `len` bytes still fits before the capacity.
    pub fn fits(&self, len: usize) -> bool {
        self.end + len as u64 <= self.capacity
    }

    /// Write `record` (whole blocks) after the last one; durable on return.
    pub fn append(&mut self, record: &[u8]) -> Result<()> {
        debug_assert_eq!(record.len() % BLOCK, 0);
        #[cfg(test)]
        test_hooks::before_write(&self.path);
        let data = self.staging.fill(record);
        match self.file.write_all_at(data, self.end) {
            // Some filesystems accept O_DIRECT at open and refuse it per write.
            Err(e) if self.direct && e.kind() == ErrorKind::InvalidInput => {
                (self.file, self.direct, self.dsync) = open_for_writes(&self.path, false)?;
                self.file.write_all_at(data, self.end).map_err(err)?;
            }
            other => other.map_err(err)?,
        }
        if !self.dsync {
            self.file.sync_data().map_err(err)?;
        }
        self.end += record.len() as u64;
        #[cfg(test)]
        test_hooks::after_write(&self.path);
        Ok(())
    }

    /// Start over from the beginning: only once a durable redb commit holds
    /// every record written so far.
    pub fn restart(&mut self) {
        self.end = 0;
    }
}

/// Lets a test slow down the log writes of one store and count them, to
/// check what readers see while a write is still on its way to the disk.
#[cfg(test)]
pub(crate) mod test_hooks {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    pub(crate) struct SlowLog {
        pub path: PathBuf,
        pub delay: Duration,
        /// Log writes to `path` that have begun (then wait `delay`).
        pub started: Arc<AtomicU64>,
        /// Log writes to `path` that have returned (durable).
        pub written: Arc<AtomicU64>,
    }

    pub(crate) static SLOW_LOG: Mutex<Option<SlowLog>> = Mutex::new(None);

    fn matching(path: &Path) -> Option<(Duration, Arc<AtomicU64>, Arc<AtomicU64>)> {
        let hook = SLOW_LOG.lock().unwrap_or_else(|e| e.into_inner());
        hook.as_ref().filter(|h| h.path == path).map(|h| (h.delay, h.started.clone(), h.written.clone()))
    }

    pub(super) fn before_write(path: &Path) {
        if let Some((delay, started, _)) = matching(path) {
            started.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(delay);
        }
    }

    pub(super) fn after_write(path: &Path) {
        if let Some((_, _, written)) = matching(path) {
            written.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Create the log file if missing and zero-fill it to `capacity`, durably.
fn preallocate(path: &Path, capacity: u64) -> Result<()> {
    let created = !path.exists();
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    if len < capacity {
        let zeros = vec![0u8; 1 << 20];
        let mut at = len;
        while at < capacity {
            let n = (capacity - at).min(zeros.len() as u64) as usize;
            file.write_all_at(&zeros[..n], at).map_err(err)?;
            at += n as u64;
        }
        file.sync_all().map_err(err)?;
    }
    if created {
        sync_new_entries(path, path.parent())?;
    }
    Ok(())
}

/// Open for durable writes: returns the file, whether it is O_DIRECT and
/// whether it is O_DSYNC.
fn open_for_writes(path: &Path, try_direct: bool) -> Result<(File, bool, bool)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if try_direct {
            let direct = OpenOptions::new().write(true).custom_flags(libc::O_DIRECT | libc::O_DSYNC).open(path);
            if let Ok(file) = direct {
                return Ok((file, true, true));
            }
        }
        let file = OpenOptions::new().write(true).custom_flags(libc::O_DSYNC).open(path).map_err(err)?;
        Ok((file, false, true))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = try_direct;
        Ok((OpenOptions::new().write(true).open(path).map_err(err)?, false, false))
    }
}

/// A reusable buffer whose data starts on a BLOCK boundary, as O_DIRECT
/// requires: over-allocated by a block and sliced at the aligned offset.
#[derive(Default)]
struct AlignedBuf {
    raw: Vec<u8>,
}

impl AlignedBuf {
    fn fill(&mut self, data: &[u8]) -> &[u8] {
        if self.raw.len() < data.len() + BLOCK {
            self.raw = vec![0; data.len().next_power_of_two().max(BLOCK) + BLOCK];
        }
        let start = self.raw.as_ptr().align_offset(BLOCK);
        let out = &mut self.raw[start..start + data.len()];
        out.copy_from_slice(data);
        out
    }
}

/// Reads the records at the start of a log, in order, for recovery.
pub struct LogReader {
    file: File,
    len: u64,
    at: u64,
    block: Vec<u8>,
}

impl LogReader {
    /// `None` if there is no log at `path` (a store from before the log).
    pub fn open(path: &Path) -> Result<Option<LogReader>> {
        match File::open(path) {
            Ok(file) => {
                let len = file.metadata().map_err(err)?.len();
                Ok(Some(LogReader { file, len, at: 0, block: vec![0; BLOCK] }))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    /// The next record's header and whole bytes (not yet checked against
    /// its checksum); `None` where no record can start.
    pub fn next_record(&mut self) -> Result<Option<(log_format::Header, Vec<u8>)>> {
        if self.at + BLOCK as u64 > self.len {
            return Ok(None);
        }
        self.file.read_exact_at(&mut self.block, self.at).map_err(err)?;
        let Some(head) = log_format::header(&self.block) else { return Ok(None) };
        if self.at + head.padded_len as u64 > self.len {
            return Ok(None);
        }
        let mut record = vec![0; head.padded_len];
        self.file.read_exact_at(&mut record, self.at).map_err(err)?;
        self.at += head.padded_len as u64;
        Ok(Some((head, record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_format::{Op, RecordBuilder};

    /// Write records, then read them back as recovery does.
    fn round_trip(name: &str, try_direct: bool) -> bool {
        let path = std::env::temp_dir().join(format!("nimbus-log-file-{name}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut log = LogFile::open_trying_direct(&path, 64 << 10, try_direct).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 << 10, "the log is preallocated");
        let mut builder = RecordBuilder::default();
        let big = vec![5u8; 3 * BLOCK];
        for seq in 1..=3u64 {
            builder.start(9, seq);
            builder.push(Op::Put { ks: "t", key: &seq.to_be_bytes(), value: if seq == 2 { &big } else { b"v" } });
            log.append(builder.finish()).unwrap();
        }
        assert!(!log.fits(64 << 10), "a record as large as the log never fits after others");
        let direct = log.direct;
        drop(log);
        let mut reader = LogReader::open(&path).unwrap().unwrap();
        for seq in 1..=3u64 {
            let (head, record) = reader.next_record().unwrap().unwrap();
            assert_eq!((head.epoch, head.seq), (9, seq));
            let ops = log_format::decode(&record).unwrap().unwrap();
            assert!(matches!(ops[0], Op::Put { key, .. } if key == seq.to_be_bytes()));
        }
        assert!(reader.next_record().unwrap().is_none(), "zeroed space after the last record is no record");
        std::fs::remove_file(&path).unwrap();
        direct
    }

    #[test]
    fn records_written_directly_read_back() {
        round_trip("direct", true);
    }

    /// The fallback where a filesystem refuses O_DIRECT (tmpfs before Linux 6.6).
    #[test]
    fn records_written_without_o_direct_read_back() {
        assert!(!round_trip("buffered", false));
    }
}
