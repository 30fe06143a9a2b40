//! One case at one in-flight level: a fresh runtime, the echo server and a client on loopback,
//! and N closed-loop callers for a warm-up and then a measured window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_testkit::echo::{EchoClient, EchoRequest, EchoService};
use tokio::net::TcpListener;
use tonic::transport::{Endpoint, Server};
use tower::ServiceBuilder;

use crate::telemetry::Telemetry;

/// How long to load the server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) warmup: Duration,
    pub(crate) measure: Duration,
}

/// How much load one case gets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Plan {
    /// A warm-up, then a measured window: the wall-clock bench.
    Window(Timing),
    /// Exactly this many requests in total, no window: what `--callgrind` runs under valgrind,
    /// where wall time means nothing but the instruction count of a fixed amount of work does.
    Requests(usize),
}

/// What one case measured.
#[derive(Clone, Debug)]
pub(crate) struct Measurement {
    pub(crate) throughput: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) requests: usize,
    /// CPU time of this process (every thread) per request in the window, µs.
    pub(crate) cpu_us: Option<f64>,
    /// CPU time of the receiver process per request in the window, µs.
    pub(crate) receiver_cpu_us: Option<f64>,
}

/// CPU time of this process and of the receiver's at one instant.
#[derive(Clone, Copy)]
struct CpuSnapshot {
    own: Option<Duration>,
    receiver: Option<Duration>,
}

impl CpuSnapshot {
    fn take(receiver: Option<u32>) -> CpuSnapshot {
        CpuSnapshot {
            own: crate::cpu::process_cpu(None),
            receiver: receiver.and_then(|pid| crate::cpu::process_cpu(Some(pid))),
        }
    }
}

/// CPU µs per request between two readings.
fn per_request(a: Option<Duration>, b: Option<Duration>, requests: usize) -> Option<f64> {
    let spent = b?.checked_sub(a?)?;
    (requests > 0).then(|| spent.as_secs_f64() * 1e6 / requests as f64)
}

/// The window in which completed requests count.
#[derive(Clone)]
struct Window {
    start: Instant,
    end: Instant,
    /// The receiver process, whose CPU time is read with this one's.
    receiver: Option<u32>,
    /// With a fixed number of requests: how many are left to send, shared by the callers.
    budget: Option<Arc<AtomicUsize>>,
}

/// What one caller saw: latencies (ns) of the requests that completed in the window.
struct CallerResult {
    latencies: Vec<u64>,
    error: Option<String>,
}

/// Runs one case: builds a 2-worker multi-thread runtime (its threads use the case's `tracing`
/// dispatcher, if any), serves the echo service on 127.0.0.1 with the case's server layer,
/// connects one channel with the case's client layer, and loads it with `in_flight` callers.
pub(crate) fn run(
    telemetry: &Telemetry,
    in_flight: usize,
    plan: Plan,
    receiver: Option<u32>,
) -> Result<Measurement, String> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).enable_all();
    if let Some(dispatch) = telemetry.dispatch() {
        let dispatch = dispatch.clone();
        builder.on_thread_start(move || {
            // The guard would restore the previous default when dropped; the thread keeps this
            // dispatcher until it exits with the runtime.
            std::mem::forget(tracing::dispatcher::set_default(&dispatch));
        });
    }
    let runtime = builder
        .build()
        .map_err(|e| format!("cannot build the runtime: {e}"))?;
    let result = runtime.block_on(load(telemetry, in_flight, plan, receiver));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn load(
    telemetry: &Telemetry,
    in_flight: usize,
    plan: Plan,
    receiver: Option<u32>,
) -> Result<Measurement, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let service = EchoService::new().into_server();
    let target: http::Uri = format!("http://{addr}")
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;

    let server = match telemetry {
        Telemetry::Bare => tokio::spawn(
            Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        ),
        Telemetry::BareHeader => tokio::spawn(
            Server::builder()
                .layer(crate::header::ParseLayer)
                .add_service(service)
                .serve_with_incoming(incoming),
        ),
        Telemetry::Ferrotel(_) => {
            let layer = telemetry
                .ferrotel_server()
                .ok_or("no ferrotel server layer")?;
            tokio::spawn(
                Server::builder()
                    .layer(layer)
                    .add_service(service)
                    .serve_with_incoming(incoming),
            )
        }
        Telemetry::DavidB { .. } => tokio::spawn(
            Server::builder()
                .layer(tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default())
                .add_service(service)
                .serve_with_incoming(incoming),
        ),
    };

    let channel = Endpoint::from_shared(target.to_string())
        .map_err(|e| format!("bad endpoint {target}: {e}"))?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let (window, measure) = match plan {
        Plan::Window(timing) => {
            let start = Instant::now() + timing.warmup;
            (
                Window {
                    start,
                    end: start + timing.measure,
                    receiver,
                    budget: None,
                },
                timing.measure,
            )
        }
        Plan::Requests(n) => {
            let now = Instant::now();
            (
                Window {
                    start: now,
                    end: now + Duration::from_secs(24 * 3600),
                    receiver,
                    budget: Some(Arc::new(AtomicUsize::new(n))),
                },
                Duration::ZERO,
            )
        }
    };
    let started = window.start;
    let (results, cpu) = match telemetry {
        Telemetry::Bare => callers(EchoClient::new(channel), in_flight, window).await,
        Telemetry::BareHeader => {
            let layer = crate::header::InjectLayer::new();
            let client = EchoClient::new(ServiceBuilder::new().layer(layer).service(channel));
            callers(client, in_flight, window).await
        }
        Telemetry::Ferrotel(_) => {
            let layer = telemetry
                .ferrotel_client(&target)
                .ok_or("no ferrotel client layer")?;
            let client = EchoClient::new(ServiceBuilder::new().layer(layer).service(channel));
            callers(client, in_flight, window).await
        }
        Telemetry::DavidB { .. } => {
            let layer = tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer;
            let client = EchoClient::new(ServiceBuilder::new().layer(layer).service(channel));
            callers(client, in_flight, window).await
        }
    };
    server.abort();
    let _ = server.await;

    let mut latencies = Vec::new();
    let [before, after] = cpu;
    for result in results {
        let result = result.map_err(|e| format!("a caller task failed: {e}"))?;
        if let Some(error) = result.error {
            return Err(format!("a request failed: {error}"));
        }
        latencies.extend(result.latencies);
    }
    if latencies.is_empty() {
        return Err("no request completed in the measured window".to_string());
    }
    latencies.sort_unstable();
    let seconds = if measure.is_zero() {
        started.elapsed().as_secs_f64()
    } else {
        measure.as_secs_f64()
    };
    Ok(Measurement {
        throughput: latencies.len() as f64 / seconds,
        p50_us: percentile(&latencies, 0.50) as f64 / 1000.0,
        p99_us: percentile(&latencies, 0.99) as f64 / 1000.0,
        requests: latencies.len(),
        cpu_us: per_request(before.own, after.own, latencies.len()),
        receiver_cpu_us: per_request(before.receiver, after.receiver, latencies.len()),
    })
}

/// Starts `n` closed-loop callers on clones of `client`, reads the CPU times at the window's
/// edges, and waits for the callers.
async fn callers<T>(
    client: EchoClient<T>,
    n: usize,
    window: Window,
) -> (
    Vec<Result<CallerResult, tokio::task::JoinError>>,
    [CpuSnapshot; 2],
)
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let handles: Vec<_> = (0..n)
        .map(|_| tokio::spawn(caller(client.clone(), window.clone())))
        .collect();
    if window.budget.is_some() {
        let before = CpuSnapshot::take(window.receiver);
        let mut results = Vec::with_capacity(n);
        for handle in handles {
            results.push(handle.await);
        }
        let after = CpuSnapshot::take(window.receiver);
        return (results, [before, after]);
    }
    tokio::time::sleep_until(window.start.into()).await;
    let before = CpuSnapshot::take(window.receiver);
    tokio::time::sleep_until(window.end.into()).await;
    let after = CpuSnapshot::take(window.receiver);
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await);
    }
    (results, [before, after])
}

/// Sends one request, waits for its answer, sends the next, until the window closes. Records
/// the latency of every request that completes inside the window.
async fn caller<T>(mut client: EchoClient<T>, window: Window) -> CallerResult
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut latencies = Vec::with_capacity(1 << 16);
    loop {
        let sent = Instant::now();
        let spent = window.budget.as_ref().is_some_and(|left| {
            left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
        });
        if spent || sent >= window.end {
            return CallerResult {
                latencies,
                error: None,
            };
        }
        let request = EchoRequest {
            message: "ping".to_string(),
            ..Default::default()
        };
        let answer = client.unary(request).await;
        let done = Instant::now();
        if let Err(status) = answer {
            return CallerResult {
                latencies,
                error: Some(status.to_string()),
            };
        }
        if done >= window.start && done <= window.end {
            latencies.push(u64::try_from((done - sent).as_nanos()).unwrap_or(u64::MAX));
        }
    }
}

/// The `q` quantile of sorted `values` (nearest rank).
fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
