//! The listener: acceptor threads, connection placement, graceful shutdown.
//!
//! Connections are served by one acceptor thread per core, each running a
//! single-threaded tokio runtime that waits on the shared listening socket.
//! A request is then read, handled and answered on the thread whose epoll
//! saw it: no hand-off between workers and none of the futex wake-ups a
//! work-stealing runtime spends on a 2-core machine. Whichever acceptor
//! accepts a connection passes it on to the one with the fewest open
//! (`balance`): the first to wake would otherwise take a whole burst.
//! Each connection is then served by `connection` (HTTP/1.1 framing).
//! After an answer each acceptor polls briefly before sleeping (`spin`).
//! Handlers run inside the caller's runtime context, so whatever a service
//! spawns, times or connects to lives on that runtime, not on an acceptor.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};

use crate::balance::{Balance, Handoff, OpenConnection};
use crate::connection::Connection;
use crate::spin::Activity;
use crate::Edge;

/// How long in-flight requests may take to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve `edge` on `listener` until `shutdown` resolves, then stop accepting,
/// let in-flight requests finish, and return.
pub async fn serve(edge: Arc<Edge>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let services = Handle::current();
    let listener = listener.into_std()?;
    let (stop, stopped) = watch::channel(());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut finished = Vec::with_capacity(threads);
    let (balance, inboxes) = Balance::new(threads);
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let acceptor = Acceptor {
            index: i,
            edge: edge.clone(),
            listener: Some(listener.try_clone()?),
            balance: balance.clone(),
            inbox,
            stop: stopped.clone(),
            services: services.clone(),
        };
        let (done, wait) = oneshot::channel();
        std::thread::Builder::new().name(format!("nimbus-edge-{i}")).stack_size(ACCEPTOR_STACK_BYTES).spawn(
            move || {
                let _ = done.send(acceptor.run());
            },
        )?;
        finished.push(wait);
    }
    drop(listener);
    shutdown.await;
    drop(stop);
    for wait in finished {
        wait.await.unwrap_or_else(|_| Err(std::io::Error::other("an acceptor thread panicked")))?;
    }
    Ok(())
}

/// Requests are served on the acceptor threads, and some of their work is
/// recursive (DynamoDB expressions nest up to AWS's limits; a debug build's
/// frames are large): the main thread's 8 MiB rather than Rust's 2 MiB
/// default for spawned threads. Only pages actually touched cost memory.
const ACCEPTOR_STACK_BYTES: usize = 8 << 20;

/// One acceptor thread's share of the listener.
struct Acceptor {
    index: usize,
    edge: Arc<Edge>,
    /// Taken by the accept loop (and dropped when it stops accepting).
    listener: Option<std::net::TcpListener>,
    balance: Arc<Balance>,
    /// Connections other acceptors accepted and handed to this one.
    inbox: mpsc::UnboundedReceiver<Handoff>,
    stop: watch::Receiver<()>,
    /// The runtime services run their tasks, timers and I/O on.
    services: Handle,
}

impl Acceptor {
    fn run(self) -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // Handlers run in the services' context; I/O that waits with a
        // request can still find this thread's own reactor.
        nimbus_core::home_runtime::set(runtime.handle().clone());
        runtime.block_on(self.accept_loop())
    }

    async fn accept_loop(mut self) -> std::io::Result<()> {
        let listener = self.listener.take().expect("the accept loop runs once");
        let listener = TcpListener::from_std(listener)?;
        let activity = Activity::new();
        // Ends with the runtime, when the acceptor is done.
        tokio::spawn(activity.clone().spin());
        // Every connection holds a clone; all are dropped once every connection has ended.
        let (alive, mut all_closed) = mpsc::channel::<()>(1);
        loop {
            let (stream, remote, open) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    // (A connection another acceptor took first is no error:
                    // tokio waits for the next readiness.)
                    Ok((stream, remote)) => match self.keep_or_hand_off(stream, remote) {
                        Some(kept) => kept,
                        None => continue,
                    },
                    // Out of file descriptors and the like: back off, keep serving.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                Some((stream, remote, open)) = self.inbox.recv() => match TcpStream::from_std(stream) {
                    Ok(stream) => (stream, remote, open),
                    Err(e) => {
                        tracing::warn!(error = %e, "taking over a handed-off connection failed");
                        continue;
                    }
                },
                _ = self.stop.changed() => break,
            };
            self.serve(stream, remote, open, &activity, alive.clone());
        }
        drop(listener);
        drop(alive);
        // Idle connections close at once; busy ones after their current answer.
        tokio::select! {
            _ = all_closed.recv() => tracing::debug!("acceptor drained its connections"),
            () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("timed out draining connections"),
        }
        Ok(())
    }

    /// A connection this acceptor accepted: kept (returned) if no other
    /// acceptor has fewer open, else handed to the one with the fewest.
    fn keep_or_hand_off(
        &self,
        stream: TcpStream,
        remote: SocketAddr,
    ) -> Option<(TcpStream, SocketAddr, OpenConnection)> {
        let open = self.balance.place(self.index);
        if open.acceptor() == self.index {
            return Some((stream, remote, open));
        }
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "handing off a connection failed");
                return None;
            }
        };
        match self.balance.hand_off((stream, remote, open)) {
            Ok(()) => None,
            // That acceptor is shutting down: serve it here after all.
            Err((stream, remote, _)) => {
                let open = self.balance.count_on(self.index);
                TcpStream::from_std(stream).ok().map(|stream| (stream, remote, open))
            }
        }
    }

    /// Serve HTTP/1.1 on `stream` in a task of this acceptor's runtime
    /// until the client closes it or shutdown drains it.
    fn serve(
        &self,
        stream: TcpStream,
        remote: SocketAddr,
        open: OpenConnection,
        activity: &Arc<Activity>,
        alive: mpsc::Sender<()>,
    ) {
        let _ = stream.set_nodelay(true);
        let (edge, activity, stop) = (self.edge.clone(), activity.clone(), self.stop.clone());
        let connection = async move {
            Connection::new(stream, remote).serve(&edge, &activity, stop).await;
            drop((open, alive));
        };
        tokio::spawn(InRuntime { runtime: self.services.clone(), inner: Box::pin(connection) });
    }
}

/// Polls `inner` inside `runtime`'s context: what a handler spawns,
/// sleeps on or connects to belongs to the services' runtime and outlives
/// the acceptor, while the connection itself is served right here.
struct InRuntime<F> {
    runtime: Handle,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.runtime.enter();
        this.inner.as_mut().poll(cx)
    }
}
