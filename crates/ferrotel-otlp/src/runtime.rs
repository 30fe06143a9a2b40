//! The export runtime: a small tokio runtime owned by ferrotel.
//!
//! Every network exchange ferrotel makes (OTLP over gRPC or HTTP, the Jaeger remote sampler)
//! runs here, never on the application's runtime. That is what makes `init()` and export work
//! the same from a multi-thread runtime, a current-thread runtime (`#[tokio::test]`) or a plain
//! `fn main`: the tonic exporter can no longer panic with "there is no reactor running", and a
//! blocked application thread can no longer deadlock the exporter.

use std::future::Future;
use std::io;
use std::time::Duration;

use futures_util::future::{self, Either};
use tokio::runtime::{Handle, Runtime};

/// The name of the export runtime's threads.
const THREAD_NAME: &str = "ferrotel-export";

/// Whether the current thread is one of the export runtime's.
pub fn on_export_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME)
}

/// The runtime that carries ferrotel's exports: one worker thread named `ferrotel-export`.
#[derive(Debug)]
pub struct ExportRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl ExportRuntime {
    /// Starts one worker thread named `ferrotel-export`.
    pub fn start() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self {
            runtime: Some(runtime),
            handle,
        })
    }

    /// A handle for spawning onto the runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops the runtime without blocking. Safe to call from inside another runtime, where a
    /// plain drop of a `Runtime` would panic.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a bounded operation did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounded {
    /// The deadline passed first.
    TimedOut,
}

/// Runs `fut` with a deadline that works on any executor, including the plain
/// `futures::executor::block_on` of the SDK's processor threads: the timer lives on the export
/// runtime and is awaited through its `JoinHandle`.
pub async fn with_deadline<F: Future>(
    handle: &Handle,
    limit: Option<Duration>,
    fut: F,
) -> Result<F::Output, Bounded> {
    let Some(limit) = limit else {
        return Ok(fut.await);
    };
    // The sleep is created inside the task: `tokio::time::sleep` needs a timer at construction.
    let timer = handle.spawn(async move { tokio::time::sleep(limit).await });
    let fut = std::pin::pin!(fut);
    match future::select(fut, timer).await {
        Either::Left((output, timer)) => {
            timer.abort();
            Ok(output)
        }
        Either::Right(_) => Err(Bounded::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn deadline_fires_without_an_ambient_runtime() {
        let rt = ExportRuntime::start().expect("runtime");
        let never = future::pending::<()>();
        let out = futures_executor::block_on(with_deadline(
            rt.handle(),
            Some(Duration::from_millis(20)),
            never,
        ));
        assert_eq!(out, Err(Bounded::TimedOut));
        let ready = futures_executor::block_on(with_deadline(
            rt.handle(),
            Some(Duration::from_secs(5)),
            async { 7 },
        ));
        assert_eq!(ready, Ok(7));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stops_inside_another_runtime_without_panicking() {
        let mut rt = ExportRuntime::start().expect("runtime");
        let answer = rt.handle().spawn(async { 42 }).await.expect("join");
        assert_eq!(answer, 42);
        rt.stop();
    }
}
