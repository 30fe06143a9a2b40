//! The telemetry pipelines: the export runtime, the tracer, logger and meter providers with
//! their processors and exporters, and how they flush and shut down within a bound.

mod limits;
mod logs;
mod metrics;
mod selfobs;
mod traces;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ferrotel_config::{BatchConfig, Config, ExemplarFilter, Protocol};
use ferrotel_metrics::Exemplars;
use ferrotel_otlp::{
    BatchSignal, ExportRuntime, LossReporter, MetricExportStats, OnExportRuntime,
    OtlpMetricExporter, PipelineCounters, PipelineStats, REPORT_INTERVAL,
};
use ferrotel_prometheus::MetricsEndpoint;
use ferrotel_tracer::Presampler;
use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use crate::error::InitError;

/// One batch pipeline (spans or log records): its exporter's name and its counters.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) exporter: &'static str,
    pub(crate) counters: Arc<PipelineCounters>,
}

impl Pipeline {
    /// A pipeline of `signal` through the exporter named `exporter`, with fresh counters for a
    /// queue of `batch.max_queue_size`: export errors are scrubbed of the configuration's
    /// secrets and losses reported while they happen.
    fn new(
        signal: BatchSignal,
        exporter: &'static str,
        batch: &BatchConfig,
        config: &Config,
        reporter: &Arc<LossReporter>,
    ) -> Self {
        Self {
            exporter,
            counters: Arc::new(PipelineCounters::new(
                signal,
                batch.max_queue_size,
                ferrotel_config::redact::Redactor::from_config(config),
                Some(Arc::clone(reporter)),
            )),
        }
    }

    /// `exporter` run on the export runtime within `batch.export_timeout`, counted here.
    fn on_runtime<E: Send + Sync + 'static>(
        &self,
        exporter: E,
        handle: &tokio::runtime::Handle,
        batch: &BatchConfig,
    ) -> OnExportRuntime<E> {
        OnExportRuntime::new(
            exporter,
            handle.clone(),
            batch.export_timeout,
            Arc::clone(&self.counters),
        )
    }

    fn snapshot(&self) -> PipelineStats {
        self.counters.snapshot(self.exporter)
    }
}

/// What every exporter has done so far; see [`crate::Guard::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// One entry per span exporter of `OTEL_TRACES_EXPORTER`.
    pub spans: Vec<PipelineStats>,
    /// One entry per log record exporter of `OTEL_LOGS_EXPORTER`.
    pub logs: Vec<PipelineStats>,
    /// One entry per OTLP metric exporter.
    pub metrics: Vec<MetricExportStats>,
}

/// What a shutdown achieved; returned by [`Guard::shutdown`](crate::Guard::shutdown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// How long the shutdown took.
    pub elapsed: Duration,
    /// Problems met on the way (an export that failed, a bound that was reached), as messages.
    /// Empty when everything was flushed.
    pub problems: Vec<String>,
}

/// Everything that carries telemetry out of the process.
pub(crate) struct Pipelines {
    runtime: Option<ExportRuntime>,
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    /// The tracer provider's sampler, for the layers and instruments to decide before they
    /// build a span.
    pub(crate) presampler: Option<Presampler>,
    spans: Vec<Pipeline>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    logs: Vec<Pipeline>,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) exemplars: Exemplars,
    metric_exporters: Vec<OtlpMetricExporter>,
    pub(crate) metrics_endpoint: Option<MetricsEndpoint>,
    pub(crate) reporter: Option<Arc<LossReporter>>,
}

impl Pipelines {
    /// Nothing running: the SDK is disabled, or setup failed.
    pub(crate) fn off() -> Self {
        Self {
            runtime: None,
            tracer_provider: None,
            presampler: None,
            spans: Vec::new(),
            logger_provider: None,
            logs: Vec::new(),
            meter_provider: None,
            exemplars: Exemplars::new(ExemplarFilter::AlwaysOff),
            metric_exporters: Vec::new(),
            metrics_endpoint: None,
            reporter: None,
        }
    }

    /// Starts the export runtime and builds every pipeline the configuration asks for. A
    /// problem that is not the service's fault (an unreadable TLS file, a busy port) switches
    /// that part off outside strict mode, with a note.
    pub(crate) fn start(config: &Config, notes: &mut Vec<String>) -> Result<Self, InitError> {
        if config.sdk_disabled {
            return Ok(Self::off());
        }
        // reqwest is built with `rustls-no-provider`; when the application chose no
        // process-wide rustls provider, ring becomes it, so a plain `reqwest::Client::new()`
        // elsewhere in the service keeps working. An existing choice is left alone.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The application's runtime, whose figures the process metrics report, before the
        // export runtime is entered below.
        let app_runtime = tokio::runtime::Handle::try_current().ok();
        let runtime = ExportRuntime::start()
            .map_err(|e| InitError::setup(format!("cannot start the export runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let resource = resource(config);
        let reporter = Arc::new(LossReporter::new(REPORT_INTERVAL));
        // The exporters' connections and the remote sampler's poller live on the export
        // runtime, whatever runtime (or none) the caller is on.
        let _enter = handle.enter();
        // Built even when OTEL_TRACES_EXPORTER=none: that means no exporter, not no SDK, so
        // spans are still created, sampled and propagated, and log lines carry their ids.
        let (tracer_provider, presampler, spans) =
            match traces::tracer_provider(config, resource.clone(), &handle, &reporter) {
                Ok((provider, presampler, spans)) => (Some(provider), Some(presampler), spans),
                Err(e) if !config.strict => {
                    notes.push(format!("trace export is off for this run: {e}"));
                    (None, None, Vec::new())
                }
                Err(e) => return Err(e),
            };
        let (logger_provider, logs) =
            logs::logger_provider(config, resource.clone(), &handle, &reporter, notes)?;
        let metrics = metrics::pipeline(config, resource, &handle, Some(Arc::clone(&reporter)))?;
        notes.extend(metrics.notes);
        if let Some(provider) = &metrics.provider {
            selfobs::register(
                provider,
                &spans,
                exporter_kind(config.traces_otlp.protocol, "span"),
                &logs,
                exporter_kind(config.logs_otlp.protocol, "log"),
                &metrics.components,
            );
            if config.process_metrics {
                crate::process_metrics::register(provider, app_runtime);
            }
        }
        Ok(Self {
            runtime: Some(runtime),
            tracer_provider,
            presampler,
            spans,
            logger_provider,
            logs,
            meter_provider: metrics.provider,
            exemplars: metrics.exemplars,
            metric_exporters: metrics.exporters,
            metrics_endpoint: metrics.endpoint,
            reporter: Some(reporter),
        })
    }

    pub(crate) fn stats(&self) -> ExportStats {
        ExportStats {
            spans: self.spans.iter().map(Pipeline::snapshot).collect(),
            logs: self.logs.iter().map(Pipeline::snapshot).collect(),
            metrics: self
                .metric_exporters
                .iter()
                .map(OtlpMetricExporter::stats)
                .collect(),
        }
    }

    /// Flushes what is pending without shutting down, within `bound`.
    pub(crate) fn flush(&self, bound: Duration) -> ShutdownReport {
        let tracer = self.tracer_provider.clone();
        let meter = self.meter_provider.clone();
        let logs = self.logger_provider.clone();
        let any = tracer.is_some() || meter.is_some() || logs.is_some();
        let mut report = run_bounded(bound, any, move || {
            let mut problems = Vec::new();
            if let Some(Err(e)) = logs.map(|l| l.force_flush()) {
                problems.push(format!("log flush: {e}"));
            }
            if let Some(Err(e)) = tracer.map(|t| t.force_flush()) {
                problems.push(format!("trace flush: {e}"));
            }
            if let Some(Err(e)) = meter.map(|m| m.force_flush()) {
                problems.push(format!("metric flush: {e}"));
            }
            problems
        });
        // An endpoint that does not serve a signal was told once, with the fix; the SDK's
        // flush error ("Failed to flush") would only repeat it, less clearly.
        let stats = self.stats();
        let unserved = [
            (
                "metric ",
                stats.metrics.iter().any(|m| m.unsupported.is_some()),
            ),
            ("log ", stats.logs.iter().any(|p| p.unsupported.is_some())),
            (
                "trace ",
                stats.spans.iter().any(|p| p.unsupported.is_some()),
            ),
        ];
        report.problems.retain(|problem| {
            !unserved
                .iter()
                .any(|(prefix, told)| *told && problem.starts_with(prefix))
        });
        report
    }

    /// Flushes and shuts everything down within `bound`, then stops the export runtime, and
    /// reports what was lost.
    pub(crate) fn shutdown(&mut self, bound: Duration) -> ShutdownReport {
        if let Some(endpoint) = self.metrics_endpoint.take() {
            endpoint.shutdown();
        }
        let tracer = self.tracer_provider.take();
        let meter = self.meter_provider.take();
        let logs = self.logger_provider.take();
        let any = tracer.is_some() || meter.is_some() || logs.is_some();
        let mut report = run_bounded(bound, any, move || {
            let mut problems = Vec::new();
            // Log records first: the last events of the service are in their queue, and what
            // the span and metric shutdowns log must not be waited for.
            if let Some(Err(e)) = logs.map(|l| l.shutdown_with_timeout(bound)) {
                problems.push(format!("log shutdown: {e}"));
            }
            // Traces and metrics shut down side by side, each within the bound.
            let metrics = meter.map(|m| {
                thread::Builder::new()
                    .name("ferrotel-shutdown-metrics".into())
                    .spawn(move || m.shutdown_with_timeout(bound))
            });
            if let Some(Err(e)) = tracer.map(|t| t.shutdown_with_timeout(bound)) {
                problems.push(format!("trace shutdown: {e}"));
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
        let stats = self.stats();
        let metrics: Vec<String> = stats
            .metrics
            .iter()
            .flat_map(|m| m.problems(bound))
            .collect();
        let logs: Vec<String> = stats.logs.iter().flat_map(|p| p.problems(bound)).collect();
        let spans: Vec<String> = stats.spans.iter().flat_map(|p| p.problems(bound)).collect();
        // The SDK's own shutdown error ("Failed to shutdown") only repeats, less clearly, a
        // failure the counts explain; it is kept when they found nothing.
        report.problems.retain(|problem| {
            let explained = if problem.starts_with("metric ") {
                &metrics
            } else if problem.starts_with("log ") {
                &logs
            } else if problem.starts_with("trace ") {
                &spans
            } else {
                return true;
            };
            explained.is_empty()
        });
        report.problems.extend(metrics);
        report.problems.extend(logs);
        report.problems.extend(spans);
        report
    }
}

/// The `otel.component.type` of an OTLP exporter of `signal` (`span`, `log`).
fn exporter_kind(protocol: Protocol, signal: &str) -> &'static str {
    match (protocol, signal) {
        (Protocol::Grpc, "span") => "otlp_grpc_span_exporter",
        (_, "span") => "otlp_http_span_exporter",
        (Protocol::Grpc, _) => "otlp_grpc_log_exporter",
        (_, _) => "otlp_http_log_exporter",
    }
}

/// The resource is what the configuration resolved plus what the selected resource detectors
/// find on this system ([`Config::detect_resource`]: bounded reads, never an error), plus the
/// SDK's `telemetry.sdk.*` attributes. The SDK's own env detectors are left out: they read the
/// process environment with the opposite `service.name` precedence.
fn resource(config: &Config) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(
            opentelemetry_sdk::resource::TelemetryResourceDetector,
        ))
        .with_attributes(
            config
                .detect_resource()
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v)),
        )
        .build()
}

/// Runs `work` on its own thread and waits at most `bound` (plus a little for the thread to
/// report), so no caller, in any runtime, waits longer than the bound.
fn run_bounded<F>(bound: Duration, any: bool, work: F) -> ShutdownReport
where
    F: FnOnce() -> Vec<String> + Send + 'static,
{
    let start = Instant::now();
    if !any {
        return ShutdownReport {
            elapsed: Duration::ZERO,
            problems: Vec::new(),
        };
    }
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("ferrotel-shutdown".into())
        .spawn(move || {
            let _ = tx.send(work());
        });
    let problems = match spawned {
        Err(e) => vec![format!("could not start the shutdown thread: {e}")],
        Ok(_) => match rx.recv_timeout(bound + Duration::from_millis(250)) {
            Ok(problems) => problems,
            Err(_) => vec![format!(
                "shutdown did not finish within {bound:?}; what was not exported is lost"
            )],
        },
    };
    ShutdownReport {
        elapsed: start.elapsed(),
        problems,
    }
}
