//! The log's device writes, on a thread of their own ("nimbus-store-log").
//!
//! A durable log write is a write plus a device flush: about 100 µs on a
//! virtio disk without FUA, during which the writing thread only waits. The
//! writer thread hands the record over here and commits the group into
//! redb meanwhile (`Durability::None`, tens of µs of CPU), then waits for
//! the write to finish before it makes the group visible (`writer`). The
//! workspace forbids `unsafe`, which io_uring and Linux AIO need, so the
//! overlap comes from a second thread. It is for lone writes (one
//! connection, bound by latency): it polls for its next record before
//! sleeping, and the writer polls for the answer, so that neither pays a
//! wake-up. A group of several writes is bound by the two CPUs instead, and
//! there the two hand-offs cost more than the overlap saves: the writer
//! writes those records itself (`LogFile::append`).

use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use nimbus_store::{recv_polling, Result, StoreError};

use crate::log_file::Device;

/// How long the log thread polls for the next record after a write: at one
/// connection the next group comes about one request's round trip (well
/// under this) after the last write finished.
const NEXT_WRITE_SPIN: Duration = Duration::from_micros(300);

/// How long the writer polls for the write to finish before sleeping: a
/// log write takes about 100 µs here, and the writer starts waiting only
/// after its redb commit.
const FINISH_SPIN: Duration = Duration::from_micros(300);

struct Write {
    at: u64,
    data: Vec<u8>,
}

struct Written {
    result: Result<()>,
    /// The record's buffer, sent back for the next record.
    data: Vec<u8>,
}

pub struct LogIo {
    writes: Option<mpsc::Sender<Write>>,
    written: mpsc::Receiver<Written>,
    thread: Option<thread::JoinHandle<()>>,
    /// A buffer for the next record (the last one, recycled).
    spare: Vec<u8>,
}

impl LogIo {
    /// Start the log thread, which writes to `device` when asked.
    pub fn spawn(device: Arc<Mutex<Device>>) -> Result<LogIo> {
        let (writes, to_write) = mpsc::channel::<Write>();
        let (report, written) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("nimbus-store-log".into())
            .spawn(move || {
                while let Some(write) = recv_polling(&to_write, NEXT_WRITE_SPIN) {
                    let result = lock(&device).write_at(&write.data, write.at);
                    if report.send(Written { result, data: write.data }).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError(format!("cannot start the store's log thread: {e}")))?;
        Ok(LogIo { writes: Some(writes), written, thread: Some(thread), spare: Vec::new() })
    }

    /// Start writing `record` at offset `at`; `finish` says how it went.
    /// One write at a time: every `start` is followed by a `finish`.
    pub fn start(&mut self, at: u64, record: &[u8]) -> Result<()> {
        let mut data = std::mem::take(&mut self.spare);
        data.clear();
        data.extend_from_slice(record);
        let sent = self.writes.as_ref().is_some_and(|writes| writes.send(Write { at, data }).is_ok());
        if !sent {
            return Err(StoreError("the store's log thread stopped".into()));
        }
        Ok(())
    }

    /// Wait for the write `start` began: durable on `Ok`.
    pub fn finish(&mut self) -> Result<()> {
        let written = recv_polling(&self.written, FINISH_SPIN)
            .ok_or_else(|| StoreError("the store's log thread stopped".into()))?;
        self.spare = written.data;
        written.result
    }
}

/// The device, even if a thread panicked holding it (its writes are whole
/// or reported failed; nothing half-done stays in memory).
pub fn lock(device: &Mutex<Device>) -> std::sync::MutexGuard<'_, Device> {
    device.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for LogIo {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop.
        self.writes.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
