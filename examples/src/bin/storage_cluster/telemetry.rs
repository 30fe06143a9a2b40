//! Telemetry for each process, and the pieces every role shares: traced channels, a listener
//! that announces its address, and the shutdown signal of a child.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferrotel::config::{vars, Env};
use ferrotel_tower::{ClientLayer, ClientService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceBuilder;

use crate::Error;

/// A tonic channel wrapped in ferrotel-tower's client layer.
pub(crate) type TracedChannel = ClientService<Channel>;

/// The line a child writes on stdout once it listens: `ready 127.0.0.1:PORT`.
pub(crate) const READY: &str = "ready";

/// The batch delay used when `OTEL_BSP_SCHEDULE_DELAY` is unset, so a short demo flushes fast.
const DEMO_SCHEDULE_DELAY_MS: &str = "200";

/// Whether an OTLP endpoint (or an explicit span exporter, or a configuration file) is
/// configured in the environment.
pub(crate) fn endpoint_configured() -> bool {
    [
        vars::OTEL_EXPORTER_OTLP_ENDPOINT,
        vars::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        vars::OTEL_TRACES_EXPORTER,
        // A configuration file says where everything goes.
        vars::OTEL_CONFIG_FILE,
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()))
}

/// The variables the driver adds to its own environment and its children's: the embedded
/// receiver's endpoint when none is configured, and a short batch delay unless one is set.
pub(crate) fn env_overrides(receiver_grpc: Option<&str>) -> Vec<(String, String)> {
    let mut overrides = Vec::new();
    if unset("RUST_LOG") {
        // Warnings and errors only; nfs3_server logs every NFS error reply (a LOOKUP of a
        // missing name) at ERROR, and openraft warns of every vote race of an election: the
        // protocols working, not faults.
        overrides.push((
            "RUST_LOG".to_string(),
            "warn,nfs3_server::nfs_handlers=off,openraft=off".to_string(),
        ));
    }
    if let Some(endpoint) = receiver_grpc {
        // The embedded receiver is there for the trace tree: log records would only fill it.
        if unset(vars::OTEL_LOGS_EXPORTER) {
            overrides.push((vars::OTEL_LOGS_EXPORTER.to_string(), "none".to_string()));
        }
        overrides.push((
            vars::OTEL_EXPORTER_OTLP_ENDPOINT.to_string(),
            endpoint.to_string(),
        ));
        overrides.push((
            vars::OTEL_EXPORTER_OTLP_PROTOCOL.to_string(),
            "grpc".to_string(),
        ));
    }
    // Every process serves its own /metrics page on a port of its own (five processes cannot
    // share 9464): OTLP stays on when it is configured, the page is added.
    if unset(vars::OTEL_METRICS_EXPORTER) {
        overrides.push((
            vars::OTEL_METRICS_EXPORTER.to_string(),
            "otlp,prometheus".to_string(),
        ));
    }
    if unset("FERROTEL_METRICS_ADDR") {
        overrides.push((
            "FERROTEL_METRICS_ADDR".to_string(),
            "127.0.0.1:0".to_string(),
        ));
    }
    if std::env::var(vars::OTEL_BSP_SCHEDULE_DELAY).map_or(true, |v| v.is_empty()) {
        overrides.push((
            vars::OTEL_BSP_SCHEDULE_DELAY.to_string(),
            DEMO_SCHEDULE_DELAY_MS.to_string(),
        ));
    }
    overrides
}

fn unset(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v.is_empty())
}

/// The resource attribute Jaeger's query service reads (as the process tag `ip`) to tell hosts
/// apart: its clock-skew adjuster compares a child with its parent only across hosts, and
/// treats a process without the tag as a host of its own (`host.name`, `host.ip` and
/// `host.id` are not read on the path its UI uses).
const JAEGER_HOST_TAG: &str = "ip";

/// Starts this process's telemetry: every `OTEL_*` variable (plus `overrides`), with
/// `service.name` and `service.instance.id` set in code so the cluster shows its shape, and
/// `ip` (the host's address, `host` here, unless `OTEL_RESOURCE_ATTRIBUTES` names one) so
/// Jaeger sees the five processes on one host, one clock. Logs go to stderr: stdout carries
/// the driver's report and a child's ready line.
pub(crate) fn init(
    service_name: &str,
    instance_id: &str,
    host: IpAddr,
    overrides: &[(String, String)],
) -> Result<ferrotel::Guard, Error> {
    let mut env = Env::from_process();
    for (name, value) in overrides {
        env.set(name.clone(), value.clone());
    }
    // An unspecified listen address names no host; the processes all run on this one.
    let host = if host.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host
    };
    let ip_given = std::env::var(vars::OTEL_RESOURCE_ATTRIBUTES).is_ok_and(|attrs| {
        attrs
            .split(',')
            .any(|pair| pair.split('=').next().map(str::trim) == Some(JAEGER_HOST_TAG))
    });
    let guard = ferrotel::builder()
        .service_name(service_name)
        .configure(|c| {
            let c = c.resource_attribute("service.instance.id", instance_id);
            if ip_given {
                c
            } else {
                c.resource_attribute(JAEGER_HOST_TAG, host.to_string())
            }
        })
        .env(env)
        .log_writer(std::io::stderr)
        .try_init()
        .map_err(|e| format!("telemetry for {instance_id}: {e}"))?;
    Ok(guard)
}

/// Flushes and shuts telemetry down, reporting what could not be exported and, in one line,
/// where every ended span went (exported, dropped or failed).
pub(crate) fn shutdown(guard: ferrotel::Guard, who: &str) {
    let flushed = guard.flush();
    let (mut exported, mut dropped, mut failed) = (0, 0, 0);
    for stats in guard.stats().spans {
        exported += stats.exported;
        dropped += stats.dropped_queue_full + stats.dropped_after_shutdown;
        failed += stats.failed;
    }
    // One write of the whole line: five processes share the driver's stderr, and a line
    // written in pieces interleaves with another process's.
    let line = format!(
        "storage-cluster: {who}: spans exported={exported} dropped={dropped} failed={failed}\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    for problem in flushed.problems {
        eprintln!("storage-cluster: {who}: telemetry: {problem}");
    }
    let report = guard.shutdown();
    for problem in report.problems {
        eprintln!("storage-cluster: {who}: telemetry: {problem}");
    }
}

/// The runtime every role runs on (two workers: the machine may be small and runs five of us).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Opens the process's traced channels, each behind the guard's client layer (its providers,
/// presampler and `OTEL_SEMCONV_STABILITY_OPT_IN` choice) with the channel's own target.
#[derive(Clone, Debug)]
pub(crate) struct Channels(ClientLayer);

impl Channels {
    /// Channels on `guard`'s pipelines.
    pub(crate) fn new(guard: &ferrotel::Guard) -> Self {
        // No peer yet: `open` names each channel's target.
        Channels(guard.client_layer(&http::Uri::default()))
    }

    /// A lazily connecting channel to `addr` (`IP:PORT`, or `HOST:PORT`, resolved at each
    /// connection attempt).
    pub(crate) fn open(&self, addr: impl std::fmt::Display) -> Result<TracedChannel, Error> {
        let uri: http::Uri = format!("http://{addr}").parse()?;
        let channel = Endpoint::from(uri.clone())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(ServiceBuilder::new()
            .layer(self.0.clone().target(&uri))
            .service(channel))
    }
}

/// Binds `listen` and writes the ready line with the bound address (and this process's
/// `/metrics` address) on stdout.
pub(crate) async fn listen_and_announce(
    listen: SocketAddr,
    metrics: Option<SocketAddr>,
) -> Result<TcpIncoming, Error> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    announce(listener.local_addr()?, metrics)?;
    Ok(TcpIncoming::from(listener).with_nodelay(Some(true)))
}

/// Writes the ready line: `ready ADDR METRICS_ADDR` (`-` when this process has no page).
pub(crate) fn announce(addr: SocketAddr, metrics: Option<SocketAddr>) -> Result<(), Error> {
    let metrics = metrics.map_or_else(|| "-".to_string(), |m| m.to_string());
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{READY} {addr} {metrics}")?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` to stdout; a closed stdout (the reader went away) is not worth a panic.
pub(crate) fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// A child's ready line, parsed: its address and its `/metrics` address.
pub(crate) fn parse_ready(line: &str) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let mut words = line.strip_prefix(READY)?.split_whitespace();
    let addr = words.next()?.parse().ok()?;
    let metrics = words.next().and_then(|m| m.parse().ok());
    Some((addr, metrics))
}

/// Completes when the driver closes our stdin (it is done, or it died) or on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 64];
            // Anything but data (end of file, an error) means the driver is gone.
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    let signal = ferrotel::shutdown_signal();
    if spawned.is_err() {
        // Without the watcher only a signal stops us; the driver kills us when it is done.
        signal.await;
        return;
    }
    tokio::select! {
        _ = rx => {}
        _ = signal => {}
    }
}
