//! An in-process OTLP receiver that ferrotel's wire-level tests assert against.
//!
//! ```
//! use std::time::Duration;
//! use ferrotel_testkit::Receiver;
//!
//! let receiver = Receiver::start();
//! println!("OTLP/gRPC: {}", receiver.grpc_endpoint());
//! println!("OTLP/HTTP: {}/v1/traces", receiver.http_endpoint());
//!
//! // Nothing was exported, so a short wait times out and says what it saw.
//! let err = receiver.wait_for_spans(1, Duration::from_millis(10)).unwrap_err();
//! assert!(err.to_string().contains("1 span"));
//! assert_eq!(receiver.request_count(), 0);
//! ```
//!
//! [`Receiver::start`] binds two loopback listeners — OTLP/gRPC (`opentelemetry-proto`'s
//! generated tonic services) and OTLP/HTTP with protobuf or JSON bodies (`POST /v1/traces`,
//! `POST /v1/metrics`, `POST /v1/logs`) — and serves them from its own thread and tokio runtime, so it works the
//! same from a plain `#[test]`, a current-thread `#[tokio::test]` or a multi-thread runtime.
//! Both accept gzip. It returns once the listeners are bound, so a client may connect at once:
//! no test ever sleeps for readiness.
//!
//! Everything that arrives is kept: spans, metrics and log records flattened with their
//! resource and scope ([`ReceivedSpan`], [`ReceivedMetric`], [`ReceivedLog`]), and one [`RequestRecord`] per export request with its
//! headers and the [`Outcome`] the receiver answered — including requests it could not decode.
//! Tests wait for data with the blocking `wait_for_*` methods or their `_async` twins, which
//! return as soon as the condition holds and otherwise fail with a [`WaitTimeout`] that lists
//! what did arrive.
//!
//! Beside the receiver, what ferrotel's tests share: [`external`] (the rule for programs from
//! outside Cargo), [`raw_http`] (an HTTP/1.1 client over a plain socket), `guard` (feature
//! `guard`: a ferrotel guard from a variable map) and `openraft` (feature `openraft`: an
//! in-memory log store).
//!
//! A [`Fault`] makes the receiver misbehave on both transports (unavailable, throttled, slow,
//! refusing, partially accepting), and [`ReceiverBuilder::tls`] with [`TestCerts`] serves both
//! endpoints over TLS, optionally requiring client certificates.

// A test fixture: failing to bind 127.0.0.1 or to generate a certificate must fail the test
// loudly, so the infallible constructors `expect`; the `try_*` twins return the error.
#![allow(clippy::expect_used, clippy::panic)]

mod builder;
mod certs;
pub mod echo;
pub mod external;
pub mod fake_root;
mod fault;
mod grpc;
#[cfg(feature = "guard")]
pub mod guard;
mod hostile;
mod http;
#[cfg(feature = "openraft")]
pub mod openraft;
pub mod raw_http;
mod record;
pub mod slowloris;
mod store;
mod tls;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

pub use builder::ReceiverBuilder;
pub use certs::{CertPaths, ServerIdentity, TestCerts};
pub use fault::Fault;
pub use hostile::{HostileBody, HostilePeer, HostileRequest, Hostility};
/// The OTLP protobuf types the records hold, at the version the receiver decodes.
pub use opentelemetry_proto;
pub use record::{
    any_value_to_string, find_attr, Outcome, ReceivedLog, ReceivedMetric, ReceivedSpan,
    RequestRecord, Signal, Transport,
};
pub use store::WaitTimeout;

use fault::ActiveFault;
use store::Store;

/// The marker every test secret carries (header values, endpoint passwords and query keys).
/// `.ci/run` scans every output line of the test suite for it and fails when one is found: no
/// message ferrotel writes may carry a secret.
pub const SECRET_MARKER: &str = "FERROTEL-TEST-SECRET";

/// A test secret for `label`: `FERROTEL-TEST-SECRET-<label>`.
pub fn secret(label: &str) -> String {
    format!("{SECRET_MARKER}-{label}")
}

/// The largest request body (after decompression) either server accepts.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// An in-process OTLP receiver (gRPC and HTTP/protobuf) on 127.0.0.1. Cheap to clone; the
/// servers stop when the last clone is dropped or [`Receiver::shutdown`] is called.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    tls: bool,
    worker: Mutex<Option<Worker>>,
}

/// The background thread running the servers, and how to stop it.
struct Worker {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Receiver {
    /// Wraps servers already running on `thread` (see [`ReceiverBuilder::start`]).
    fn running(
        store: Arc<Store>,
        (grpc_addr, http_addr): (SocketAddr, SocketAddr),
        tls: bool,
        (stop, thread): (oneshot::Sender<()>, JoinHandle<()>),
    ) -> Receiver {
        Receiver {
            inner: Arc::new(Inner {
                store,
                grpc_addr,
                http_addr,
                tls,
                worker: Mutex::new(Some(Worker { stop, thread })),
            }),
        }
    }
}

impl Worker {
    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let worker = self
            .worker
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            worker.stop();
        }
    }
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("grpc_endpoint", &self.grpc_endpoint())
            .field("http_endpoint", &self.http_endpoint())
            .field("request_count", &self.request_count())
            .finish()
    }
}

impl Receiver {
    /// Starts a plain (TLS-less) receiver; panics if 127.0.0.1 cannot be bound.
    pub fn start() -> Receiver {
        Receiver::try_start().expect("ferrotel-testkit: starting the OTLP receiver on 127.0.0.1")
    }

    /// Starts a plain (TLS-less) receiver, returning the error if it cannot.
    pub fn try_start() -> io::Result<Receiver> {
        Receiver::builder().start()
    }

    /// A builder for a receiver with TLS, mTLS or an initial fault.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.inner.grpc_addr)
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (`https://` with TLS); clients
    /// append `/v1/traces` or `/v1/metrics`.
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.inner.http_addr)
    }

    /// The gRPC server's socket address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.inner.grpc_addr
    }

    /// The HTTP server's socket address.
    pub fn http_addr(&self) -> SocketAddr {
        self.inner.http_addr
    }

    /// Whether both endpoints speak TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.tls
    }

    fn scheme(&self) -> &'static str {
        if self.inner.tls {
            "https"
        } else {
            "http"
        }
    }

    /// Every span stored so far, flattened, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.inner.store.lock().spans.clone()
    }

    /// Spans received past the builder's [`span_limit`](ReceiverBuilder::span_limit), not kept.
    pub fn spans_dropped(&self) -> u64 {
        self.inner.store.lock().spans_dropped
    }

    /// Every metric stored so far (one entry per metric per export), in arrival order.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.inner.store.lock().metrics.clone()
    }

    /// Every log record stored so far, flattened, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.inner.store.lock().logs.clone()
    }

    /// Every export request received so far, whatever the answer, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.store.lock().requests.clone()
    }

    /// How many export requests were received so far.
    pub fn request_count(&self) -> usize {
        self.inner.store.lock().requests.len()
    }

    /// Forgets every stored span, metric and request record (the fault stays as it is).
    pub fn clear(&self) {
        self.inner.store.update(|state| {
            state.spans.clear();
            state.metrics.clear();
            state.logs.clear();
            state.requests.clear();
        });
    }

    /// Sets (or with `None` clears) the fault applied to the following export requests.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner
            .store
            .update(|state| state.fault = fault.map(ActiveFault::new));
    }

    /// Blocks until at least `n` spans are stored and returns all of them.
    pub fn wait_for_spans(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.inner
            .store
            .wait(timeout, || count_of(n, "span"), |s| enough(&s.spans, n))
    }

    /// Like [`Receiver::wait_for_spans`], without blocking the calling runtime (works in a
    /// current-thread runtime that also runs the exporter).
    pub async fn wait_for_spans_async(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.inner
            .store
            .wait_async(timeout, || count_of(n, "span"), |s| enough(&s.spans, n))
            .await
    }

    /// Blocks until at least `n` log records are stored and returns all of them.
    pub fn wait_for_logs(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedLog>, WaitTimeout> {
        self.inner.store.wait(
            timeout,
            || count_of(n, "log record"),
            |s| enough(&s.logs, n),
        )
    }

    /// Like [`Receiver::wait_for_logs`], without blocking the calling runtime.
    pub async fn wait_for_logs_async(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedLog>, WaitTimeout> {
        self.inner
            .store
            .wait_async(
                timeout,
                || count_of(n, "log record"),
                |s| enough(&s.logs, n),
            )
            .await
    }

    /// Blocks until a metric named `name` is stored and returns every stored metric of that
    /// name (one per export that carried it).
    pub fn wait_for_metric(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetric>, WaitTimeout> {
        self.inner.store.wait(
            timeout,
            || format!("a metric named {name:?}"),
            |s| named(&s.metrics, name),
        )
    }

    /// Like [`Receiver::wait_for_metric`], without blocking the calling runtime.
    pub async fn wait_for_metric_async(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetric>, WaitTimeout> {
        self.inner
            .store
            .wait_async(
                timeout,
                || format!("a metric named {name:?}"),
                |s| named(&s.metrics, name),
            )
            .await
    }

    /// Blocks until at least `n` export requests were received and returns all of them.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RequestRecord>, WaitTimeout> {
        self.inner.store.wait(
            timeout,
            || count_of(n, "export request"),
            |s| enough(&s.requests, n),
        )
    }

    /// Like [`Receiver::wait_for_requests`], without blocking the calling runtime.
    pub async fn wait_for_requests_async(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RequestRecord>, WaitTimeout> {
        self.inner
            .store
            .wait_async(
                timeout,
                || count_of(n, "export request"),
                |s| enough(&s.requests, n),
            )
            .await
    }

    /// Stops both servers now (even if other clones exist) and waits for them to close their
    /// listeners. Dropping the last clone does the same.
    pub fn shutdown(self) {
        let worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker {
            worker.stop();
        }
    }
}

fn count_of(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn enough<T: Clone>(items: &[T], n: usize) -> Option<Vec<T>> {
    (items.len() >= n).then(|| items.to_vec())
}

fn named(metrics: &[ReceivedMetric], name: &str) -> Option<Vec<ReceivedMetric>> {
    let found: Vec<ReceivedMetric> = metrics
        .iter()
        .filter(|m| m.name() == name)
        .cloned()
        .collect();
    (!found.is_empty()).then_some(found)
}
