//! The guard `init()` returns: it owns the pipelines and flushes them when dropped.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ferrotel_config::{Config, ConfigIssue};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::runtime::ExportRuntime;
use crate::stats::{Pipeline, SpanExportStats};

/// Keeps telemetry running; dropping it flushes every pending span and metric and shuts the
/// pipelines down, within [`Guard::shutdown_timeout`]. It never hangs: a dead collector costs at
/// most that bound.
///
/// Keep it alive for as long as the service runs, typically as a `let _telemetry = …;` binding
/// at the top of `main`.
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct Guard {
    pub(crate) config: Config,
    pub(crate) issues: Vec<ConfigIssue>,
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    /// The tracer provider's sampler, for ferrotel-ops' instruments to decide before building.
    pub(crate) presampler: Option<ferrotel_tracer::Presampler>,
    pub(crate) pipelines: Vec<Pipeline>,
    pub(crate) logger_provider: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
    pub(crate) log_pipelines: Vec<Pipeline>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) exemplars: ferrotel_metrics::Exemplars,
    pub(crate) metric_exporters: Vec<ferrotel_metrics::OtlpMetricExporter>,
    pub(crate) metrics_endpoint: Option<ferrotel_prometheus::MetricsEndpoint>,
    pub(crate) runtime: Option<ExportRuntime>,
    pub(crate) dispatch: Option<tracing::Dispatch>,
    /// The `OTEL_PROPAGATORS` composite, handed to the layers directly: no global lookup per
    /// request, and right even when the globals were not installed.
    pub(crate) propagator: std::sync::Arc<opentelemetry::propagation::TextMapCompositePropagator>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shut_down: bool,
}

/// What a shutdown achieved; returned by [`Guard::shutdown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// How long the shutdown took.
    pub elapsed: Duration,
    /// Problems met on the way (an export that failed, a bound that was reached), as messages.
    /// Empty when everything was flushed.
    pub problems: Vec<String>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("service_name", &self.config.service_name)
            .field("sdk_disabled", &self.config.sdk_disabled)
            .field("traces", &self.tracer_provider.is_some())
            .field("metrics", &self.meter_provider.is_some())
            .finish_non_exhaustive()
    }
}

/// Gives either layer type (they share these builder methods) the guard's providers,
/// exemplar store, propagators and semantic-convention choice.
macro_rules! with_guard_settings {
    ($guard:expr, $layer:expr) => {{
        let guard: &Guard = $guard;
        let mut layer = $layer
            .semconv(guard.config.semconv_opt_in.rpc)
            .exemplars(guard.exemplars.clone())
            .propagator(guard.propagator.clone());
        if let Some(provider) = &guard.tracer_provider {
            layer =
                layer.tracer_provider(&crate::tracer::Level2TracerProvider::new(provider.clone()));
            // The provider was built with this presampler's halves (traces.rs).
            if let Some(presampler) = &guard.presampler {
                layer = layer.presampler(presampler.clone());
            }
        }
        if let Some(provider) = &guard.meter_provider {
            layer = layer.meter_provider(provider);
        }
        layer
    }};
}

impl Guard {
    /// The configuration ferrotel runs with, after defaults and overrides.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The problems found in the configuration (each names its variable, its value and the
    /// allowed values). They were also logged as warnings at start.
    pub fn config_issues(&self) -> &[ConfigIssue] {
        &self.issues
    }

    /// The SDK tracer provider, unless the SDK is disabled (`OTEL_TRACES_EXPORTER=none` still
    /// has one: spans are made and propagated, only not exported).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The meter provider, when a metric exporter is configured.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The meter provider with exemplars on every histogram and counter, when a metric
    /// exporter is configured: what [`crate::init`] installs as the global meter provider.
    pub fn exemplar_meter_provider(&self) -> Option<ferrotel_metrics::ExemplarMeterProvider> {
        self.meter_provider.as_ref().map(|provider| {
            ferrotel_metrics::ExemplarMeterProvider::new(provider.clone(), self.exemplars.clone())
        })
    }

    /// The exemplar store of this guard's metrics (`OTEL_METRICS_EXEMPLAR_FILTER`). Histograms
    /// of the global meter carry exemplars already; this is a convenience for a meter from
    /// elsewhere: every sample recorded in a sampled span carries that span's trace:
    ///
    /// ```no_run
    /// use ferrotel::opentelemetry::metrics::MeterProvider as _;
    /// let telemetry = ferrotel::init();
    /// let meter = ferrotel::opentelemetry::global::meter("volumes");
    /// let latency = telemetry
    ///     .exemplars()
    ///     .f64_histogram(&meter, "volume.flush.duration")
    ///     .with_unit("s")
    ///     .build();
    /// latency.record(0.012, &[]);
    /// ```
    pub fn exemplars(&self) -> &ferrotel_metrics::Exemplars {
        &self.exemplars
    }

    /// Where the `/metrics` endpoint listens, when `OTEL_METRICS_EXPORTER` includes
    /// `prometheus`.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_endpoint
            .as_ref()
            .map(ferrotel_prometheus::MetricsEndpoint::local_addr)
    }

    /// What each OTLP metric exporter has done so far.
    pub fn metric_export_stats(&self) -> Vec<ferrotel_metrics::MetricExportStats> {
        self.metric_exporters
            .iter()
            .map(ferrotel_metrics::OtlpMetricExporter::stats)
            .collect()
    }

    /// A server layer on this guard's providers, exemplar store and semantic-convention
    /// choice (`OTEL_SEMCONV_STABILITY_OPT_IN`):
    /// `tonic::transport::Server::builder().layer(telemetry.server_layer())`.
    pub fn server_layer(&self) -> ferrotel_tower::ServerLayer {
        with_guard_settings!(self, ferrotel_tower::ServerLayer::new())
    }

    /// A client layer for calls to `target`, on this guard's providers:
    /// `ServiceBuilder::new().layer(telemetry.client_layer(&uri)).service(channel)`.
    pub fn client_layer(&self, target: &http::Uri) -> ferrotel_tower::ClientLayer {
        with_guard_settings!(self, ferrotel_tower::ClientLayer::new().target(target))
    }

    /// The tracer, meter and exemplar store for ferrotel-ops' NFS, storage and Raft
    /// instruments, on this guard's pipelines.
    #[cfg(feature = "ops")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
    pub fn ops(&self) -> ferrotel_ops::OpsTelemetry {
        let meter = self
            .meter_provider
            .as_ref()
            .map(|p| p as &dyn opentelemetry::metrics::MeterProvider);
        let telemetry = ferrotel_ops::OpsTelemetry::new(
            self.tracer_provider.as_ref(),
            meter,
            self.exemplars.clone(),
        );
        match &self.presampler {
            Some(presampler) => telemetry.with_presampler(presampler.clone()),
            None => telemetry,
        }
    }

    /// NFS instruments for a server (or client) on this guard's pipelines, with the naming
    /// profile of `FERROTEL_NFS_METRICS` and the prefix of `FERROTEL_METRICS_PREFIX`.
    #[cfg(feature = "ops")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
    pub fn nfs(&self, side: ferrotel_ops::nfs::NfsSide) -> ferrotel_ops::nfs::NfsInstruments {
        let ops = &self.config.ops;
        ferrotel_ops::nfs::NfsInstruments::new(
            &self.ops(),
            side,
            ops.nfs_metrics,
            &ops.metrics_prefix,
        )
    }

    /// Storage instruments for `backend` (`s3`, `fs`, `memory`, …) on this guard's pipelines,
    /// with the naming profile of `FERROTEL_STORAGE_METRICS`.
    #[cfg(feature = "ops")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
    pub fn storage(&self, backend: &'static str) -> ferrotel_ops::storage::StorageInstruments {
        ferrotel_ops::storage::StorageInstruments::new(
            &self.ops(),
            backend,
            self.config.ops.storage_metrics,
        )
    }

    /// A tracer from this guard's provider (a no-op tracer when the SDK is disabled). Its
    /// spans keep the W3C random-trace-id flag ([`crate::tracer::Level2Tracer`]).
    pub fn tracer(&self, scope: &'static str) -> crate::tracer::Level2Tracer {
        crate::tracer::Level2Tracer::new(match &self.tracer_provider {
            Some(provider) => provider.tracer(scope),
            None => SdkTracerProvider::builder()
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .build()
                .tracer(scope),
        })
    }

    /// The OpenTelemetry part of ferrotel's subscriber as one `tracing` layer, for a service
    /// that installs its own subscriber ([`crate::Builder::install_subscriber`]`(false)`):
    /// spans go to this guard's tracer provider (random-trace-id flag kept) and events to its
    /// logs signal. Nothing is filtered here; add the filter your subscriber uses, or every
    /// span of h2, hyper and tower is exported:
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::Layer as _;
    /// let telemetry = ferrotel::builder().install_subscriber(false).try_init()?;
    /// let subscriber = tracing_subscriber::registry().with(
    ///     telemetry
    ///         .layer()
    ///         .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    /// );
    /// tracing::subscriber::set_global_default(subscriber)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer<S>(&self) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        let spans = self.tracer_provider.as_ref().map(|provider| {
            tracing_opentelemetry::layer()
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_target(false)
                .with_tracer(crate::tracer::Level2Tracer::new(
                    provider.tracer_with_scope(crate::tracer::scope("ferrotel")),
                ))
        });
        let records = self.logger_provider.as_ref().map(|provider| {
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)
        });
        Box::new(tracing_subscriber::Layer::and_then(spans, records))
    }

    /// The tracing dispatcher ferrotel built, when it was asked not to install it globally
    /// ([`crate::Builder::install_subscriber`]). Use it with `tracing::dispatcher::with_default`.
    pub fn dispatch(&self) -> Option<&tracing::Dispatch> {
        self.dispatch.as_ref()
    }

    /// What each span pipeline has done so far: spans queued, exported, failed, and not yet
    /// accounted for (in the queue, or, after shutdown, dropped because it was full).
    pub fn span_export_stats(&self) -> Vec<SpanExportStats> {
        self.pipelines.iter().map(Pipeline::snapshot).collect()
    }

    /// The logger provider of the logs signal, unless `OTEL_LOGS_EXPORTER=none` (or the SDK is
    /// disabled).
    pub fn logger_provider(&self) -> Option<&opentelemetry_sdk::logs::SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// What each log record pipeline has done so far, counted like spans: records emitted,
    /// exported, failed, dropped because the queue (`OTEL_BLRP_MAX_QUEUE_SIZE`) was full.
    pub fn log_export_stats(&self) -> Vec<SpanExportStats> {
        self.log_pipelines.iter().map(Pipeline::snapshot).collect()
    }

    /// The bound on flushing and shutting down.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Flushes what is pending without shutting down. Bounded like shutdown.
    pub fn flush(&self) -> ShutdownReport {
        let tracer = self.tracer_provider.clone();
        let meter = self.meter_provider.clone();
        let logs = self.logger_provider.clone();
        run_bounded(self.shutdown_timeout, tracer, meter, move |t, m| {
            let mut problems = Vec::new();
            if let Some(logs) = logs {
                if let Err(e) = logs.force_flush() {
                    problems.push(format!("log flush: {e}"));
                }
            }
            if let Some(t) = t {
                if let Err(e) = t.force_flush() {
                    problems.push(format!("trace flush: {e}"));
                }
            }
            if let Some(m) = m {
                if let Err(e) = m.force_flush() {
                    problems.push(format!("metric flush: {e}"));
                }
            }
            problems
        })
    }

    /// Flushes and shuts everything down, within [`Guard::shutdown_timeout`]. Dropping the guard
    /// does the same; call this to learn how it went.
    pub fn shutdown(mut self) -> ShutdownReport {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> ShutdownReport {
        if self.shut_down {
            return ShutdownReport {
                elapsed: Duration::ZERO,
                problems: Vec::new(),
            };
        }
        self.shut_down = true;
        if let Some(endpoint) = self.metrics_endpoint.take() {
            endpoint.shutdown();
        }
        let tracer = self.tracer_provider.take();
        let meter = self.meter_provider.take();
        let logs = self.logger_provider.take();
        let timeout = self.shutdown_timeout;
        let report = run_bounded(timeout, tracer, meter, move |t, m| {
            let mut problems = Vec::new();
            // Log records first: the last events of the service are in their queue, and what
            // the span and metric shutdowns log must not be waited for.
            if let Some(logs) = logs {
                if let Err(e) = logs.shutdown_with_timeout(timeout) {
                    problems.push(format!("log shutdown: {e}"));
                }
            }
            // Traces and metrics shut down side by side, each within the bound.
            let metrics = m.map(|m| {
                thread::Builder::new()
                    .name("ferrotel-shutdown-metrics".into())
                    .spawn(move || m.shutdown_with_timeout(timeout))
            });
            if let Some(t) = t {
                if let Err(e) = t.shutdown_with_timeout(timeout) {
                    problems.push(format!("trace shutdown: {e}"));
                }
            }
            match metrics {
                Some(Ok(handle)) => match handle.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => problems.push(format!("metric shutdown: {e}")),
                    Err(_) => problems.push("metric shutdown thread failed".to_string()),
                },
                Some(Err(e)) => problems.push(format!("metric shutdown not started: {e}")),
                None => {}
            }
            problems
        });
        if let Some(mut runtime) = self.runtime.take() {
            runtime.stop();
        }
        let mut report = report;
        for stats in self.metric_export_stats() {
            if stats.points_in_flight > 0 {
                report.problems.push(format!(
                    "{} metric data points were lost in an export that had not returned when \
                     shutdown hit its {:?} bound: the collector did not answer",
                    stats.points_in_flight, self.shutdown_timeout
                ));
            }
            if stats.points_failed > 0 {
                report.problems.push(format!(
                    "{} metric data points failed to export (last error: {})",
                    stats.points_failed,
                    stats.last_error.as_deref().unwrap_or("unknown")
                ));
            }
            if stats.overflow_points > 0 {
                report.problems.push(format!(
                    "{} metric data points went to otel.metric.overflow=true: an instrument \
                     exceeded its cardinality limit (2000 attribute sets)",
                    stats.overflow_points
                ));
            }
        }
        for stats in self.log_export_stats() {
            if stats.failed > 0 {
                report.problems.push(format!(
                    "{} of {} log records failed to export ({} exporter; last error: {})",
                    stats.failed,
                    stats.queued,
                    stats.exporter,
                    stats.last_error.as_deref().unwrap_or("unknown")
                ));
            }
            if stats.dropped_queue_full > 0 {
                report.problems.push(format!(
                    "{} of {} log records were dropped because the queue was full ({} \
                     exporter): the exporter could not keep up (raise OTEL_BLRP_MAX_QUEUE_SIZE \
                     only if the collector is healthy)",
                    stats.dropped_queue_full, stats.queued, stats.exporter
                ));
            }
            if stats.dropped_after_shutdown > 0 {
                report.problems.push(format!(
                    "{} log records were emitted after shutdown and were dropped ({} exporter)",
                    stats.dropped_after_shutdown, stats.exporter
                ));
            }
            if stats.in_flight + stats.in_queue > 0 {
                report.problems.push(format!(
                    "{} of {} log records were not exported when shutdown hit its {:?} bound \
                     ({} exporter)",
                    stats.in_flight + stats.in_queue,
                    stats.queued,
                    self.shutdown_timeout,
                    stats.exporter
                ));
            }
        }
        for stats in self.span_export_stats() {
            if stats.failed > 0 {
                report.problems.push(format!(
                    "{} of {} spans failed to export ({} exporter; last error: {})",
                    stats.failed,
                    stats.queued,
                    stats.exporter,
                    stats.last_error.as_deref().unwrap_or("unknown")
                ));
            }
            if stats.rejected > 0 {
                report.problems.push(format!(
                    "{} of {} spans were rejected by the collector (OTLP partial success; {} \
                     exporter)",
                    stats.rejected, stats.queued, stats.exporter
                ));
            }
            if stats.dropped_queue_full > 0 {
                report.problems.push(format!(
                    "{} of {} spans were dropped because the queue was full ({} exporter): the \
                     exporter could not keep up (raise OTEL_BSP_MAX_QUEUE_SIZE only if the \
                     collector is healthy)",
                    stats.dropped_queue_full, stats.queued, stats.exporter
                ));
            }
            if stats.dropped_after_shutdown > 0 {
                report.problems.push(format!(
                    "{} spans ended after shutdown and were dropped ({} exporter)",
                    stats.dropped_after_shutdown, stats.exporter
                ));
            }
            if stats.in_flight > 0 {
                report.problems.push(format!(
                    "{} of {} spans were lost in an export that had not returned when shutdown \
                     hit its {:?} bound ({} exporter): the collector did not answer",
                    stats.in_flight, stats.queued, self.shutdown_timeout, stats.exporter
                ));
            }
            if stats.in_queue > 0 {
                report.problems.push(format!(
                    "{} of {} spans were still queued when shutdown hit its {:?} bound ({} \
                     exporter)",
                    stats.in_queue, stats.queued, self.shutdown_timeout, stats.exporter
                ));
            }
        }
        report
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let report = self.shutdown_inner();
        for problem in &report.problems {
            tracing::warn!(target: "ferrotel", "telemetry shutdown: {problem}");
        }
    }
}

/// Runs `work` on its own thread and waits at most `timeout` (plus a little for the thread to
/// report), so no caller, in any runtime, waits longer than the bound.
fn run_bounded<F>(
    timeout: Duration,
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    work: F,
) -> ShutdownReport
where
    F: FnOnce(Option<SdkTracerProvider>, Option<SdkMeterProvider>) -> Vec<String> + Send + 'static,
{
    let start = Instant::now();
    if tracer.is_none() && meter.is_none() {
        return ShutdownReport {
            elapsed: Duration::ZERO,
            problems: Vec::new(),
        };
    }
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("ferrotel-shutdown".into())
        .spawn(move || {
            let _ = tx.send(work(tracer, meter));
        });
    let problems = match spawned {
        Err(e) => vec![format!("could not start the shutdown thread: {e}")],
        Ok(_) => match rx.recv_timeout(timeout + Duration::from_millis(250)) {
            Ok(problems) => problems,
            Err(_) => vec![format!(
                "shutdown did not finish within {timeout:?}; what was not exported is lost"
            )],
        },
    };
    ShutdownReport {
        elapsed: start.elapsed(),
        problems,
    }
}
