//! What a runtime prints on stdout and stderr, gathered into log lines.
//!
//! A background task per pipe reads whatever arrives (so a chatty function
//! never blocks on a full pipe), and an invocation that just got its answer
//! reads the pipes itself (`Output::collect`): everything the runtime wrote
//! before its Runtime API call is in the pipe by then, so one non-blocking
//! read attributes it exactly, with no waiting for the reader tasks. Both
//! read under the same lock, so a line is never half-read by one and lost
//! to the other.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nimbus_core::LogEvent;
use tokio::net::unix::pipe;

/// How much one read takes from a pipe at most.
const READ_SIZE: usize = 16 * 1024;

/// The runtime's output pipes and the lines read from them.
pub struct Output {
    pipes: Vec<Pipe>,
    state: Mutex<State>,
    /// Bytes read so far: lets a caller wait for the pipes to go quiet.
    seen: AtomicU64,
}

/// One pipe, registered with the reactor (for the reader task to wait on)
/// and as a plain file sharing its non-blocking open file (for reads that
/// must see what is in the pipe now: the reactor's readiness lags until it
/// next polls).
struct Pipe {
    registered: pipe::Receiver,
    file: std::fs::File,
}

impl Pipe {
    fn new(fd: std::os::fd::OwnedFd) -> std::io::Result<Pipe> {
        let registered = pipe::Receiver::from_owned_fd(fd)?;
        let file = std::os::fd::AsFd::as_fd(&registered).try_clone_to_owned()?.into();
        Ok(Pipe { registered, file })
    }
}

struct State {
    lines: Vec<LogEvent>,
    /// Per pipe, the start of a line whose end has not arrived yet.
    partial: Vec<Vec<u8>>,
    /// Where reads land (kept: a fresh buffer per read would be zeroed).
    scratch: Vec<u8>,
}

impl Output {
    /// Gather the output of `pipes` (the runtime's stdout and stderr) after
    /// Nimbus's own `platform` lines (INIT_START); their reader tasks run on
    /// the current runtime.
    pub fn start(platform: Vec<String>, pipes: Vec<std::os::fd::OwnedFd>) -> Arc<Output> {
        let pipes: Vec<Pipe> = pipes.into_iter().filter_map(|fd| Pipe::new(fd).ok()).collect();
        let state = State {
            lines: platform.into_iter().map(event).collect(),
            partial: vec![Vec::new(); pipes.len()],
            scratch: vec![0; READ_SIZE],
        };
        let output = Arc::new(Output { pipes, state: Mutex::new(state), seen: AtomicU64::new(0) });
        for at in 0..output.pipes.len() {
            let reading = output.clone();
            tokio::spawn(async move {
                while reading.pipes[at].registered.readable().await.is_ok() {
                    if reading.read(at, Through::Reactor) {
                        break;
                    }
                }
            });
        }
        output
    }

    /// A line of Nimbus's own (a platform line such as INIT_START), in order
    /// with what the runtime printed.
    pub fn push(&self, message: String) {
        self.lock().lines.push(event(message));
    }

    /// Read what the pipes hold now and take every complete line so far.
    pub fn collect(&self) -> Vec<LogEvent> {
        for at in 0..self.pipes.len() {
            self.read(at, Through::File);
        }
        std::mem::take(&mut self.lock().lines)
    }

    /// Bytes read from the pipes so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Acquire)
    }

    /// Read pipe `at` until it is empty; true once it has closed.
    fn read(&self, at: usize, through: Through) -> bool {
        let mut state = self.lock();
        let mut buf = std::mem::take(&mut state.scratch);
        let pipe = &self.pipes[at];
        let closed = loop {
            let read = match through {
                // Reading through the reactor clears its readiness once empty.
                Through::Reactor => pipe.registered.try_read(&mut buf),
                Through::File => (&pipe.file).read(&mut buf),
            };
            match read {
                Ok(0) => {
                    // A last line without a newline is still a line.
                    let rest = std::mem::take(&mut state.partial[at]);
                    if !rest.is_empty() {
                        state.lines.push(event(String::from_utf8_lossy(&rest).into_owned()));
                    }
                    break true;
                }
                Ok(n) => {
                    self.seen.fetch_add(n as u64, Ordering::Release);
                    state.split_lines(at, &buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break e.kind() != ErrorKind::WouldBlock,
            }
        };
        state.scratch = buf;
        closed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How `Output::read` reads.
#[derive(Clone, Copy)]
enum Through {
    Reactor,
    File,
}

impl State {
    /// Append `bytes` read from pipe `at`, turning each completed line
    /// (newline included) into a log event.
    fn split_lines(&mut self, at: usize, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            let (line, rest) = bytes.split_at(end + 1);
            let message = if self.partial[at].is_empty() {
                String::from_utf8_lossy(line).into_owned()
            } else {
                let mut whole = std::mem::take(&mut self.partial[at]);
                whole.extend_from_slice(line);
                String::from_utf8_lossy(&whole).into_owned()
            };
            self.lines.push(event(message));
            bytes = rest;
        }
        self.partial[at].extend_from_slice(bytes);
    }
}

fn event(message: String) -> LogEvent {
    LogEvent { timestamp_ms: nimbus_core::time::now_epoch_millis() as i64, message }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[tokio::test]
    async fn collects_complete_lines_in_order_and_the_last_partial_one_at_close() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let output = Output::start(vec!["INIT_START\n".into()], vec![reader.into()]);
        writer.write_all(b"one\ntw").unwrap();
        let first: Vec<String> = output.collect().into_iter().map(|e| e.message).collect();
        assert_eq!(first, ["INIT_START\n", "one\n"]);
        writer.write_all(b"o\nthree").unwrap();
        drop(writer);
        let rest: Vec<String> = output.collect().into_iter().map(|e| e.message).collect();
        assert_eq!(rest, ["two\n", "three"]);
        assert_eq!(output.seen(), 13);
    }
}
