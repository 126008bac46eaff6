//! The committer thread ("nimbus-store-commit"): commits the writer's redb
//! transactions while the writer writes their log records.
//!
//! A durable log write is a write plus a device flush: about 100 µs on a
//! virtio disk without FUA, during which the writing thread only waits. A
//! redb commit with `Durability::None` costs tens of µs of CPU. The writer
//! hands the group's transaction over here and writes the record itself;
//! this thread pins the readers' snapshot (`Reads::pin`) and commits. The
//! writer then only has to pick up the answer, nearly always there by the
//! time the log write returns, so nothing on the way to the acknowledgement
//! waits for a thread to wake up: this thread sleeps between groups, and
//! its wake-up is hidden under the log write. (A second thread because the
//! workspace forbids `unsafe`, which io_uring or Linux AIO would need to
//! let the writer do both itself.)

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use nimbus_store::{recv_polling, Result, StoreError};
use redb::{Database, WriteTransaction};

use crate::files::err;
use crate::reads::Reads;

/// How long the writer polls for the commit's answer after its log write
/// before it sleeps: the commit is usually done by then.
const ANSWER_SPIN: Duration = Duration::from_micros(300);

pub struct Committer {
    transactions: Option<mpsc::Sender<WriteTransaction>>,
    answers: mpsc::Receiver<Result<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Committer {
    pub fn spawn(db: Arc<Database>, reads: Arc<Reads>) -> Result<Committer> {
        let (transactions, to_commit) = mpsc::channel::<WriteTransaction>();
        let (answer, answers) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("nimbus-store-commit".into())
            .spawn(move || {
                for txn in to_commit {
                    // Readers stay on the snapshot from before this commit
                    // until the writer knows the record is durable.
                    let committed = reads.pin(&db).and_then(|()| txn.commit().map_err(err));
                    if answer.send(committed).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError(format!("cannot start the store's commit thread: {e}")))?;
        Ok(Committer { transactions: Some(transactions), answers, thread: Some(thread) })
    }

    /// Start committing `txn` (its durability set by the caller). Every
    /// `start` that returns `Ok` is followed by a `finish`.
    pub fn start(&self, txn: WriteTransaction) -> Result<()> {
        let sent = self.transactions.as_ref().is_some_and(|queue| queue.send(txn).is_ok());
        if !sent {
            return Err(StoreError("the store's commit thread stopped".into()));
        }
        Ok(())
    }

    /// The outcome of the commit `start` began, once it is done.
    pub fn finish(&self) -> Result<()> {
        recv_polling(&self.answers, ANSWER_SPIN)
            .unwrap_or_else(|| Err(StoreError("the store's commit thread stopped".into())))
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop.
        self.transactions.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
