//! The OTLP metric exporter: the SDK's data converted to OTLP, exemplars written in, sent on
//! ferrotel's export runtime with the specification's retry rules.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use prost::Message;
use tokio::runtime::Handle;

use crate::exemplars::Exemplars;
use crate::retry::with_retries;
use crate::transport::{Accepted, MetricsTransport};

/// The largest request sent, measured before compression (OTLP: at most 64 MiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// What an [`OtlpMetricExporter`] has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricExportStats {
    /// Requests the receiver accepted (fully or partially).
    pub requests_ok: u64,
    /// Exports that failed: refused, unreachable, timed out, too large.
    pub requests_failed: u64,
    /// Data points in accepted requests.
    pub points_exported: u64,
    /// Data points in failed exports (lost), including exports abandoned before they finished
    /// (timed out by the caller, or cut off by shutdown).
    pub points_failed: u64,
    /// Data points handed to the exporter: always `points_exported + points_failed +
    /// points_in_flight` once no export is finishing.
    pub points_collected: u64,
    /// Data points in an export that has not finished yet.
    pub points_in_flight: u64,
    /// Data points the receiver rejected in a partial success (not retried).
    pub rejected_points: u64,
    /// The last error, or the last partial-success message.
    pub last_error: Option<String>,
    /// Data points carrying `otel.metric.overflow=true`: the SDK's cardinality limit was hit.
    pub overflow_points: u64,
    /// Measurements aggregated into overflow histogram points.
    pub overflow_measurements: u64,
    /// Measurements whose histogram's exemplar reservoir map was full (see
    /// [`InjectStats::reservoir_overflow`](crate::InjectStats::reservoir_overflow)).
    pub reservoir_overflow: u64,
    /// Exemplars sent.
    pub exemplars: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    points_exported: AtomicU64,
    points_failed: AtomicU64,
    points_collected: AtomicU64,
    points_in_flight: AtomicU64,
    rejected_points: AtomicU64,
    overflow_points: AtomicU64,
    overflow_measurements: AtomicU64,
    reservoir_overflow: AtomicU64,
    exemplars: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn set_last_error(&self, message: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
    }

    fn failed(&self, points: u64, message: String) -> OTelSdkError {
        self.requests_failed.fetch_add(1, Ordering::Relaxed);
        self.points_failed.fetch_add(points, Ordering::Relaxed);
        self.set_last_error(message.clone());
        OTelSdkError::InternalFailure(message)
    }
}

/// An OTLP metric exporter for a `PeriodicReader` that writes the [`Exemplars`] of its meter
/// provider into every request, which the SDK's own exporter cannot.
///
/// The send runs on `runtime` (ferrotel's export runtime): the periodic reader's thread polls
/// `export` with a plain executor, without tokio. Failures are retried per the OTLP
/// specification within the transport's timeout, counted in [`OtlpMetricExporter::stats`]
/// and returned as `OTelSdkError::InternalFailure`, which the SDK logs.
#[derive(Debug, Clone)]
pub struct OtlpMetricExporter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: MetricsTransport,
    exemplars: Exemplars,
    temporality: Temporality,
    runtime: Handle,
    counters: Counters,
    shut_down: AtomicBool,
    /// Scrubs the transport's secrets (header values, URL userinfo and query) out of errors.
    redactor: ferrotel_config::redact::Redactor,
}

impl OtlpMetricExporter {
    /// An exporter sending over `transport` on `runtime`, with `exemplars` injected and the
    /// given temporality (`Delta` and `LowMemory`, where histograms are delta, take the
    /// exemplars at each export; `Cumulative` keeps them). One exporter per store: a second
    /// delta exporter would find the reservoirs already emptied.
    pub fn new(
        transport: MetricsTransport,
        exemplars: Exemplars,
        temporality: Temporality,
        runtime: Handle,
    ) -> Self {
        let redactor = transport.redactor();
        OtlpMetricExporter {
            inner: Arc::new(Inner {
                redactor,
                transport,
                exemplars,
                temporality,
                runtime,
                counters: Counters::default(),
                shut_down: AtomicBool::new(false),
            }),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MetricExportStats {
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricExportStats {
            requests_ok: load(&c.requests_ok),
            requests_failed: load(&c.requests_failed),
            points_exported: load(&c.points_exported),
            points_failed: load(&c.points_failed),
            points_collected: load(&c.points_collected),
            points_in_flight: load(&c.points_in_flight),
            rejected_points: load(&c.rejected_points),
            last_error: c
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            overflow_points: load(&c.overflow_points),
            overflow_measurements: load(&c.overflow_measurements),
            reservoir_overflow: load(&c.reservoir_overflow),
            exemplars: load(&c.exemplars),
        }
    }

    /// Converts, injects exemplars and sends one collection.
    async fn export_request(&self, mut request: ExportMetricsServiceRequest) -> OTelSdkResult {
        let inner = &self.inner;
        let c = &inner.counters;
        // Histograms are delta under both `Delta` and `LowMemory`.
        let delta = matches!(
            inner.temporality,
            Temporality::Delta | Temporality::LowMemory
        );
        let injected = inner.exemplars.inject(&mut request, delta);
        c.exemplars
            .fetch_add(injected.exemplars as u64, Ordering::Relaxed);
        c.overflow_points
            .fetch_add(injected.overflow_points as u64, Ordering::Relaxed);
        c.overflow_measurements
            .fetch_add(injected.overflow_measurements, Ordering::Relaxed);
        c.reservoir_overflow
            .fetch_add(injected.reservoir_overflow, Ordering::Relaxed);

        let points = count_points(&request);
        if points == 0 {
            return Ok(());
        }
        c.points_collected.fetch_add(points, Ordering::Relaxed);
        // Counted while the export runs; settled as exported or failed when it ends, and as
        // failed if the future is dropped first (a caller's deadline, shutdown).
        let mut in_flight = InFlight::start(c, points);
        let size = request.encoded_len();
        if size > MAX_REQUEST_BYTES {
            in_flight.settle();
            return Err(c.failed(
                points,
                format!(
                    "OTLP metrics request of {size} bytes ({points} data points) exceeds the \
                     {MAX_REQUEST_BYTES}-byte limit; not sent (export more often or reduce \
                     cardinality)"
                ),
            ));
        }

        let task_inner = Arc::clone(inner);
        let started = Instant::now();
        let task = inner.runtime.spawn(async move {
            let transport = &task_inner.transport;
            let deadline = transport.timeout().map(|t| started + t);
            let prepared = transport.prepare(request)?;
            let send = with_retries(deadline, |left| transport.send(&prepared, left));
            let report = match transport.timeout() {
                // Also bounds an attempt that hangs past its own timeout.
                Some(limit) => match tokio::time::timeout(limit, send).await {
                    Ok(report) => report,
                    Err(_) => return Err(format!("export timed out after {limit:?}")),
                },
                None => send.await,
            };
            let attempts = report.attempts;
            report
                .result
                .map_err(|e| format!("{e}; {attempts} attempt(s)"))
        });
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) => Err(format!("the export runtime dropped the export task: {e}")),
        };
        in_flight.settle();
        let outcome = outcome.map_err(|message| inner.redactor.scrub(&message).into_owned());
        match outcome {
            Ok(accepted) => {
                self.accepted(points, accepted);
                Ok(())
            }
            Err(message) => Err(c.failed(
                points,
                format!(
                    "OTLP metrics export to {} failed ({points} data points lost after {:?}): \
                     {message}",
                    ferrotel_config::redact::redact_url(&inner.transport.target()),
                    round_ms(started.elapsed()),
                ),
            )),
        }
    }

    fn accepted(&self, points: u64, accepted: Accepted) {
        let c = &self.inner.counters;
        c.requests_ok.fetch_add(1, Ordering::Relaxed);
        c.points_exported.fetch_add(points, Ordering::Relaxed);
        if accepted.rejected > 0 || !accepted.message.is_empty() {
            let rejected = u64::try_from(accepted.rejected).unwrap_or(0);
            c.rejected_points.fetch_add(rejected, Ordering::Relaxed);
            c.set_last_error(format!(
                "OTLP metrics partial success: {rejected} of {points} data points rejected: {}",
                accepted.message
            ));
        }
    }
}

/// Data points of one export while it runs.
struct InFlight<'c> {
    counters: &'c Counters,
    points: u64,
    settled: bool,
}

impl<'c> InFlight<'c> {
    fn start(counters: &'c Counters, points: u64) -> Self {
        counters
            .points_in_flight
            .fetch_add(points, Ordering::Relaxed);
        Self {
            counters,
            points,
            settled: false,
        }
    }

    /// The export ended; its outcome is counted by the caller.
    fn settle(&mut self) {
        if !self.settled {
            self.settled = true;
            self.counters
                .points_in_flight
                .fetch_sub(self.points, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.settle();
            // Abandoned before it finished: those points are lost, and counted so.
            let _ = self.counters.failed(
                self.points,
                format!(
                    "OTLP metrics export abandoned before it finished (its deadline passed or \
                     shutdown cut it off): {} data points lost",
                    self.points
                ),
            );
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Data points in a request, over every metric type.
fn count_points(request: &ExportMetricsServiceRequest) -> u64 {
    let mut n = 0usize;
    for metric in request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        n += match &metric.data {
            Some(metric::Data::Gauge(g)) => g.data_points.len(),
            Some(metric::Data::Sum(s)) => s.data_points.len(),
            Some(metric::Data::Histogram(h)) => h.data_points.len(),
            Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(metric::Data::Summary(s)) => s.data_points.len(),
            None => 0,
        };
    }
    n as u64
}

impl PushMetricExporter for OtlpMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        if self.inner.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Synchronous, before any await: `metrics` is only borrowed.
        let request = ExportMetricsServiceRequest::from(metrics);
        self.export_request(request).await
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Nothing is buffered: every export is sent before `export` returns.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.inner.shut_down.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality
    }
}
