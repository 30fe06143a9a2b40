//! The driver: starts the cluster, runs the client operations through the gateway, reports,
//! and shows one WRITE's trace.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel::opentelemetry::trace::TraceContextExt as _;
use ferrotel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use ferrotel_testkit::Receiver;
use tracing::{field, info_span, Instrument as _};

use crate::args::DriveOptions;
use crate::cluster::Cluster;
use crate::proto::{procedure_name, GatewayClient, NfsRequest, Procedure};
use crate::telemetry::{self, TracedChannel};
use crate::{tree, Error};

/// How long to wait for the chosen trace's spans at the embedded receiver. Every process has
/// flushed (synchronously) before the wait starts, so a trace still incomplete after this lost
/// spans on the way (the processes said so on stderr).
const TRACE_WAIT: Duration = Duration::from_secs(3);
/// The files the workload touches.
const FILES: u64 = 16;
const PROCEDURES: [Procedure; 4] = [
    Procedure::Write,
    Procedure::Read,
    Procedure::Getattr,
    Procedure::Lookup,
];

/// How one operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// NFS3ERR_NOENT: the file does not exist (yet). A normal answer, not a failure.
    NoEnt,
    Error,
}

struct OpRecord {
    seq: usize,
    procedure: Procedure,
    latency: Duration,
    outcome: Outcome,
    /// The trace id, when the operation's trace was sampled.
    trace_id: Option<String>,
}

/// Runs the demo and returns the exit code: 0 when every operation got an answer.
pub(crate) fn run(options: DriveOptions) -> Result<ExitCode, Error> {
    let receiver = if telemetry::endpoint_configured() {
        None
    } else {
        Some(Receiver::try_start().map_err(|e| format!("cannot start the OTLP receiver: {e}"))?)
    };
    let endpoint = receiver.as_ref().map(Receiver::grpc_endpoint);
    let overrides = telemetry::env_overrides(endpoint.as_deref());
    // Shown locally when nothing is configured: the driver also serves its metrics page.
    let mut own = overrides.clone();
    let local_page = receiver.is_some()
        && std::env::var(ferrotel::config::vars::OTEL_METRICS_EXPORTER)
            .map_or(true, |v| v.is_empty());
    if local_page {
        own.push(("OTEL_METRICS_EXPORTER".into(), "otlp,prometheus".into()));
        own.push(("FERROTEL_METRICS_ADDR".into(), "127.0.0.1:0".into()));
    }
    let telemetry = telemetry::init("storage-client", "driver", &own)?;
    if let Some(addr) = telemetry.metrics_addr() {
        eprintln!("storage-cluster: metrics page at http://{addr}/metrics while the run lasts");
    }
    let mut page = None;
    let (records, elapsed, interrupted, problems) = {
        let cluster = Cluster::start(&overrides)?;
        let nodes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(name, addr)| format!("{name} {addr}"))
            .collect();
        eprintln!(
            "storage-cluster: gateway {} → leader {} (5 processes); {} ops, concurrency {}",
            cluster.gateway,
            nodes.join(", "),
            options.ops,
            options.concurrency
        );
        let runtime = telemetry::runtime()?;
        let started = Instant::now();
        let (records, interrupted) = runtime.block_on(drive(cluster.gateway, &options));
        let elapsed = started.elapsed();
        drop(runtime);
        if let Some(addr) = telemetry.metrics_addr() {
            page = metrics_page(addr);
        }
        // The children flush their telemetry on the way out.
        (records, elapsed, interrupted, cluster.shutdown())
    };
    telemetry::shutdown(telemetry, "driver");
    for problem in &problems {
        eprintln!("storage-cluster: {problem}");
    }

    let mut out = summary(&records, elapsed, &options);
    let chosen = choose_trace(&records);
    match &chosen {
        Some(id) => {
            let _ = writeln!(
                out,
                "trace id: {id} (a WRITE: client → gateway → node-1 → node-2, node-3)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "trace id: none (tracing is off, or no successful WRITE was sampled)"
            );
        }
    }
    match (&receiver, &chosen) {
        (Some(receiver), Some(id)) => {
            let spans = wait_for_trace(receiver, id);
            let _ = writeln!(
                out,
                "\n{} spans from the embedded OTLP receiver ({} in all, every process's):",
                spans.len(),
                receiver.spans().len()
            );
            out.push_str(&tree::render(&spans));
        }
        (None, Some(id)) => {
            let _ = writeln!(
                out,
                "look it up in Jaeger: http://localhost:16686/trace/{id}"
            );
        }
        _ => {}
    }
    if let Some(page) = page {
        out.push_str(&exemplar_excerpt(&page));
    }
    print!("{out}");

    let errors = records
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .count();
    Ok(if interrupted {
        eprintln!("storage-cluster: interrupted");
        ExitCode::from(130)
    } else if errors > 0 || !problems.is_empty() || records.len() < options.ops {
        eprintln!("storage-cluster: {errors} operations failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `options.ops` operations, `options.concurrency` at a time, until done or Ctrl-C.
async fn drive(gateway: SocketAddr, options: &DriveOptions) -> (Vec<OpRecord>, bool) {
    let client = match telemetry::channel(gateway) {
        Ok(channel) => GatewayClient::new(channel),
        Err(e) => {
            eprintln!("storage-cluster: {e}");
            return (Vec::new(), false);
        }
    };
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Release);
            }
        })
    };
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.min(options.ops) {
        let (client, next, done, stop) = (
            client.clone(),
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&stop),
        );
        let total = options.ops;
        workers.push(tokio::spawn(async move {
            let mut records = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::AcqRel);
                if seq >= total || stop.load(Ordering::Acquire) {
                    break;
                }
                records.push(operation(client.clone(), seq).await);
                let finished = done.fetch_add(1, Ordering::AcqRel) + 1;
                progress(finished, total);
            }
            records
        }));
    }
    let mut records = Vec::new();
    for worker in workers {
        match worker.await {
            Ok(mut batch) => records.append(&mut batch),
            Err(e) => eprintln!("storage-cluster: a client task failed: {e}"),
        }
    }
    watcher.abort();
    records.sort_by_key(|r| r.seq);
    (records, stop.load(Ordering::Acquire))
}

/// A progress line on stderr every 10% of the operations (for runs long enough to care).
fn progress(finished: usize, total: usize) {
    if total < 50 {
        return;
    }
    let step = total.div_ceil(10);
    if finished.is_multiple_of(step) || finished == total {
        eprintln!(
            "storage-cluster: {finished}/{total} ops ({}%)",
            finished * 100 / total
        );
    }
}

/// The `seq`-th operation of the workload: the same sequence whatever the concurrency.
fn workload(seq: usize) -> NfsRequest {
    let roll = mix(seq as u64);
    // The first operation writes, so even a tiny run has a WRITE to show.
    let procedure = if seq == 0 {
        Procedure::Write
    } else {
        match roll % 100 {
            0..=34 => Procedure::Write,
            35..=64 => Procedure::Read,
            65..=84 => Procedure::Getattr,
            _ => Procedure::Lookup,
        }
    };
    let file = (roll >> 8) % FILES;
    let path = if procedure == Procedure::Lookup && (roll >> 16).is_multiple_of(5) {
        format!("/export/home/missing-{file:02}.dat") // NFS clients look up names that are not there
    } else {
        format!("/export/home/file-{file:02}.dat")
    };
    let size = 512 * (1 + (roll >> 24) % 8) as usize;
    NfsRequest {
        procedure: procedure as i32,
        path,
        data: if procedure == Procedure::Write {
            vec![(seq % 251) as u8; size]
        } else {
            Vec::new()
        },
        offset: 0,
        count: if procedure == Procedure::Read {
            4096
        } else {
            0
        },
    }
}

/// SplitMix64: a well-spread number from a sequence number.
fn mix(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs one operation in a root span of its own and times it.
async fn operation(mut client: GatewayClient<TracedChannel>, seq: usize) -> OpRecord {
    let request = workload(seq);
    let procedure = Procedure::try_from(request.procedure).unwrap_or(Procedure::Unspecified);
    let name = procedure_name(procedure);
    // A root: each operation is its own trace.
    let span = info_span!(
        parent: None,
        "nfs.client",
        otel.name = %format!("nfs.{name}"),
        nfs.procedure = name,
        nfs.path = %request.path,
        nfs.op_seq = seq,
        nfs.status = field::Empty,
    );
    let span_context = span.context().span().span_context().clone();
    let trace_id = (span_context.is_valid() && span_context.is_sampled())
        .then(|| span_context.trace_id().to_string());
    let started = Instant::now();
    let result = client.nfs(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let outcome = match &result {
        Ok(_) => Outcome::Ok,
        Err(status) if status.code() == tonic::Code::NotFound => Outcome::NoEnt,
        Err(status) => {
            eprintln!("storage-cluster: {name} failed: {status}");
            Outcome::Error
        }
    };
    span.record(
        "nfs.status",
        match outcome {
            Outcome::Ok => "NFS3_OK",
            Outcome::NoEnt => "NFS3ERR_NOENT",
            Outcome::Error => "NFS3ERR_IO",
        },
    );
    OpRecord {
        seq,
        procedure,
        latency,
        outcome,
        trace_id,
    }
}

/// The report: operations per procedure, errors, latency percentiles seen by the client.
fn summary(records: &[OpRecord], elapsed: Duration, options: &DriveOptions) -> String {
    let mut out = String::new();
    let errors = records
        .iter()
        .filter(|r| r.outcome == Outcome::Error)
        .count();
    let rate = records.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "storage-cluster: {} of {} operations in {:.2} s ({rate:.0} ops/s, concurrency {}), {errors} errors",
        records.len(),
        options.ops,
        elapsed.as_secs_f64(),
        options.concurrency,
    );
    let _ = writeln!(
        out,
        "  {:<9} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}",
        "procedure", "ops", "ok", "noent", "errors", "p50 ms", "p99 ms"
    );
    let rows = PROCEDURES
        .iter()
        .map(|p| (procedure_name(*p), Some(*p)))
        .chain([("all", None)]);
    for (label, procedure) in rows {
        let of: Vec<&OpRecord> = records
            .iter()
            .filter(|r| procedure.is_none_or(|p| r.procedure == p))
            .collect();
        let count = |o: Outcome| of.iter().filter(|r| r.outcome == o).count();
        let mut latencies: Vec<Duration> = of.iter().map(|r| r.latency).collect();
        latencies.sort_unstable();
        let _ = writeln!(
            out,
            "  {label:<9} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}",
            of.len(),
            count(Outcome::Ok),
            count(Outcome::NoEnt),
            count(Outcome::Error),
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
        );
    }
    out
}

/// The `q` quantile (nearest rank) in milliseconds, or `-` with no samples.
fn percentile_ms(sorted: &[Duration], q: f64) -> String {
    if sorted.is_empty() {
        return "-".to_string();
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    format!("{:.2}", sorted[rank - 1].as_secs_f64() * 1000.0)
}

/// A successful, sampled WRITE from the middle of the run (warm connections, batching at work).
fn choose_trace(records: &[OpRecord]) -> Option<String> {
    let writes: Vec<&String> = records
        .iter()
        .filter(|r| r.procedure == Procedure::Write && r.outcome == Outcome::Ok)
        .filter_map(|r| r.trace_id.as_ref())
        .collect();
    writes.get(writes.len() / 2).map(|id| (*id).clone())
}

/// The spans of `trace_id` at the receiver, once the trace is whole (every parent present) or
/// the wait is over. Every process has flushed by now, so this is normally immediate.
fn wait_for_trace(receiver: &Receiver, trace_id: &str) -> Vec<ferrotel_testkit::ReceivedSpan> {
    let deadline = Instant::now() + TRACE_WAIT;
    if let Err(e) = receiver.wait_for_spans(1, TRACE_WAIT) {
        eprintln!("storage-cluster: {e}");
        return Vec::new();
    }
    loop {
        let spans: Vec<_> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id_hex() == trace_id)
            .collect();
        if tree::is_whole(&spans) || Instant::now() >= deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The driver's own `/metrics` page in OpenMetrics (the format that carries exemplars).
fn metrics_page(addr: std::net::SocketAddr) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some(body.to_string())
}

/// The client latency buckets of the page that carry an exemplar: each names the trace
/// behind one sample, the link Grafana follows from a latency panel to Jaeger.
fn exemplar_excerpt(page: &str) -> String {
    let lines: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("rpc_client_call_duration_seconds_bucket") && l.contains(" # {"))
        .take(6)
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n/metrics of the driver (OpenMetrics; {} bucket lines carry an exemplar), for example:",
        page.lines().filter(|l| l.contains(" # {")).count()
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_mixes_every_procedure_and_starts_with_a_write() {
        assert_eq!(workload(0).procedure, Procedure::Write as i32);
        for p in PROCEDURES {
            let n = (0..200)
                .filter(|&i| workload(i).procedure == p as i32)
                .count();
            assert!(n >= 20, "{} appears {n} times in 200", procedure_name(p));
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&ms, 0.50), "50.00");
        assert_eq!(percentile_ms(&ms, 0.99), "99.00");
        assert_eq!(percentile_ms(&ms[..1], 0.99), "1.00");
        assert_eq!(percentile_ms(&[], 0.5), "-");
    }
}
