//! A future that runs to completion even when its caller stops waiting.
//!
//! Spawning a task gives that guarantee too, but every invocation would then
//! hop from the thread that serves the caller's connection to a runtime
//! worker and back: two cross-thread wake-ups per warm invoke, which cost
//! more than the rest of the platform's work on a VM whose idle vCPUs halt.
//! Instead the future is polled right where it is awaited, and only if the
//! caller drops it unfinished (closed connection, client timeout) is the
//! rest handed to the runtime to finish in the background.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::runtime::Handle;

pub struct ToCompletion<F: Future + Send + 'static>
where
    F::Output: Send,
{
    /// None once finished.
    inner: Option<Pin<Box<F>>>,
    /// Where an abandoned future finishes.
    runtime: Handle,
}

impl<F: Future + Send + 'static> ToCompletion<F>
where
    F::Output: Send,
{
    /// Must be called inside a Tokio runtime, which finishes the future if
    /// it is abandoned.
    pub fn new(future: F) -> Self {
        ToCompletion { inner: Some(Box::pin(future)), runtime: Handle::current() }
    }
}

impl<F: Future + Send + 'static> Future for ToCompletion<F>
where
    F::Output: Send,
{
    type Output = F::Output;

    /// Not to be polled again once ready.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Pending };
        let done = inner.as_mut().poll(cx);
        if done.is_ready() {
            self.inner = None;
        }
        done
    }
}

impl<F: Future + Send + 'static> Drop for ToCompletion<F>
where
    F::Output: Send,
{
    fn drop(&mut self) {
        if let Some(unfinished) = self.inner.take() {
            self.runtime.spawn(async move {
                let _ = unfinished.await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn an_abandoned_future_still_finishes() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let future = ToCompletion::new(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            flag.store(true, Ordering::Release);
        });
        // The caller gives up long before the future is done.
        assert!(tokio::time::timeout(Duration::from_millis(1), future).await.is_err());
        assert!(!finished.load(Ordering::Acquire));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(finished.load(Ordering::Acquire));
    }

    #[tokio::test]
    async fn an_awaited_future_runs_in_place() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        ToCompletion::new(async move { flag.store(true, Ordering::Release) }).await;
        assert!(ran.load(Ordering::Acquire));
    }
}
