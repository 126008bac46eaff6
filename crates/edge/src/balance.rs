//! Spreading connections evenly over the acceptors.
//!
//! Every acceptor waits on the one listening socket, and the first to wake
//! takes whatever connections are queued. A client that opens many at once
//! (a connection pool, a load generator) can land every one of them on a
//! single acceptor, which then serves them all on one core while the other
//! acceptors idle. So an acceptor that takes a connection keeps it only if
//! no other acceptor has fewer open; otherwise it hands it to the one with
//! the fewest. Only the connection's first moments pay for this; its
//! requests are then served where it lives, as before.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// A connection on its way to the acceptor that will serve it, already
/// counted against that acceptor.
pub(crate) type Handoff = (std::net::TcpStream, SocketAddr, OpenConnection);

/// Open connections per acceptor, and each acceptor's inbox.
pub(crate) struct Balance {
    open: Vec<AtomicUsize>,
    inboxes: Vec<mpsc::UnboundedSender<Handoff>>,
}

impl Balance {
    /// A balance over `acceptors` acceptors and the inbox each one reads.
    pub(crate) fn new(acceptors: usize) -> (Arc<Balance>, Vec<mpsc::UnboundedReceiver<Handoff>>) {
        let (inboxes, receivers) = (0..acceptors).map(|_| mpsc::unbounded_channel()).unzip();
        let open = (0..acceptors).map(|_| AtomicUsize::new(0)).collect();
        (Arc::new(Balance { open, inboxes }), receivers)
    }

    /// Place a connection accepted by acceptor `me`: on `me` unless another
    /// acceptor has fewer open connections, counted against the chosen one
    /// at once (so a burst of connections spreads out even before any of
    /// them reaches its acceptor).
    pub(crate) fn place(self: &Arc<Self>, me: usize) -> OpenConnection {
        let count = |i: usize| self.open[i].load(Ordering::Relaxed);
        let fewest = (0..self.open.len()).min_by_key(|&i| count(i)).unwrap_or(me);
        self.count_on(if count(fewest) < count(me) { fewest } else { me })
    }

    /// Count a connection against `acceptor` until the guard drops.
    pub(crate) fn count_on(self: &Arc<Self>, acceptor: usize) -> OpenConnection {
        self.open[acceptor].fetch_add(1, Ordering::Relaxed);
        OpenConnection { balance: self.clone(), acceptor }
    }

    /// Hand a placed connection to its acceptor; gives it back if that
    /// acceptor has stopped (shutting down).
    pub(crate) fn hand_off(&self, connection: Handoff) -> Result<(), Handoff> {
        self.inboxes[connection.2.acceptor].send(connection).map_err(|e| e.0)
    }
}

/// One connection counted against its acceptor while it is open.
pub(crate) struct OpenConnection {
    balance: Arc<Balance>,
    acceptor: usize,
}

impl OpenConnection {
    /// The acceptor that serves it.
    pub(crate) fn acceptor(&self) -> usize {
        self.acceptor
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.balance.open[self.acceptor].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_goes_to_the_acceptor_with_the_fewest_open() {
        let (balance, _inboxes) = Balance::new(3);
        let first = balance.place(0);
        assert_eq!(first.acceptor(), 0, "all equal: the accepting acceptor keeps it");
        let burst: Vec<_> = (0..5).map(|_| balance.place(0)).collect();
        let placed: Vec<_> = burst.iter().map(OpenConnection::acceptor).collect();
        assert_eq!(placed, [1, 2, 0, 1, 2], "a burst accepted by one acceptor spreads over all three");
        drop(first);
        drop(burst);
        assert_eq!(balance.place(2).acceptor(), 2, "closed connections no longer count");
    }
}
