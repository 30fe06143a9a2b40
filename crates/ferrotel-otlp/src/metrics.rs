//! The OTLP metric exporter: the SDK's data converted to OTLP, ferrotel's exemplars and bound
//! histograms written in, sent like every other signal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use ferrotel_config::OtlpConfig;
use ferrotel_metrics::Exemplars;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use tokio::runtime::Handle;

use crate::error::SetupError;
use crate::sender::Sender;
use crate::signal::{Accepted, Metrics, Signal as _};

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
    /// [`InjectStats::reservoir_overflow`](ferrotel_metrics::InjectStats::reservoir_overflow)).
    pub reservoir_overflow: u64,
    /// Exemplars sent.
    pub exemplars: u64,
    /// Why the endpoint took no metrics at all, when it does not serve them (gRPC
    /// `UNIMPLEMENTED`, HTTP 404: a bare Jaeger), with the fix.
    pub unsupported: Option<String>,
}

impl MetricExportStats {
    /// What went wrong, one sentence each, for a shutdown report bounded by `bound`.
    pub fn problems(&self, bound: Duration) -> Vec<String> {
        let mut problems = Vec::new();
        if self.points_in_flight > 0 {
            problems.push(format!(
                "{} metric data points were lost in an export that had not returned when \
                 shutdown hit its {bound:?} bound: the collector did not answer",
                self.points_in_flight
            ));
        }
        if self.unsupported.is_some() {
            problems.push(format!(
                "{} metric data points were not sent: the endpoint does not accept metrics \
                 (see the warning above)",
                self.points_failed
            ));
        } else if self.points_failed > 0 {
            problems.push(format!(
                "{} metric data points failed to export (last error: {})",
                self.points_failed,
                self.last_error.as_deref().unwrap_or("unknown")
            ));
        }
        if self.overflow_points > 0 {
            problems.push(format!(
                "{} metric data points went to otel.metric.overflow=true: an instrument \
                 exceeded its cardinality limit",
                self.overflow_points
            ));
        }
        problems
    }
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
    unsupported: OnceLock<String>,
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
    sender: Sender<Metrics>,
    exemplars: Exemplars,
    temporality: Temporality,
    counters: Counters,
    shut_down: AtomicBool,
}

impl OtlpMetricExporter {
    /// An exporter for the metrics signal's settings, sending on `runtime`, with `exemplars`
    /// injected and the given temporality (`Delta` and `LowMemory`, where histograms are
    /// delta, take the exemplars at each export; `Cumulative` keeps them). One exporter per
    /// store: a second delta exporter would find the reservoirs already emptied.
    pub fn new(
        otlp: &OtlpConfig,
        exemplars: Exemplars,
        temporality: Temporality,
        runtime: &Handle,
    ) -> Result<Self, SetupError> {
        Ok(OtlpMetricExporter {
            inner: Arc::new(Inner {
                sender: Sender::new(otlp, runtime)?,
                exemplars,
                temporality,
                counters: Counters::default(),
                shut_down: AtomicBool::new(false),
            }),
        })
    }

    /// The endpoint, secrets hidden.
    pub fn target(&self) -> &str {
        self.inner.sender.target()
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
            unsupported: c.unsupported.get().cloned(),
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

        let points = Metrics::items(&request);
        if points == 0 {
            return Ok(());
        }
        c.points_collected.fetch_add(points, Ordering::Relaxed);
        // Counted while the export runs; settled as exported or failed when it ends, and as
        // failed if the future is dropped first (a caller's deadline, shutdown).
        let mut in_flight = InFlight::start(c, points);
        let outcome = inner.sender.send(request).await;
        in_flight.settle();
        match outcome {
            Ok(accepted) => {
                self.accepted(points, accepted);
                Ok(())
            }
            Err(error) => {
                if error.unsupported {
                    let _ = c.unsupported.set(error.message.clone());
                }
                Err(c.failed(points, error.message))
            }
        }
    }

    fn accepted(&self, points: u64, accepted: Accepted) {
        let c = &self.inner.counters;
        c.requests_ok.fetch_add(1, Ordering::Relaxed);
        c.points_exported.fetch_add(points, Ordering::Relaxed);
        if accepted.rejected > 0 || !accepted.message.is_empty() {
            let rejected = accepted.rejected;
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
