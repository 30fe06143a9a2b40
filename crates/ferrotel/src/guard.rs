//! The guard `init()` returns: it owns the pipelines and flushes them when dropped.

use std::time::Duration;

use ferrotel_config::{Config, ConfigIssue};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::pipelines::{ExportStats, Pipelines, ShutdownReport};

/// Keeps telemetry running; dropping it flushes every pending span, log record and metric and
/// shuts the pipelines down within a bound ([`crate::Builder::shutdown_timeout`]). It never
/// hangs: a dead collector costs at most that bound.
///
/// Keep it alive for as long as the service runs, typically as a `let _telemetry = …;` binding
/// at the top of `main`.
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct Guard {
    pub(crate) config: Config,
    pub(crate) issues: Vec<ConfigIssue>,
    pub(crate) pipelines: Pipelines,
    pub(crate) dispatch: Option<tracing::Dispatch>,
    /// The `OTEL_PROPAGATORS` composite, handed to the layers directly: no global lookup per
    /// request, and right even when the globals were not installed.
    pub(crate) propagator: std::sync::Arc<opentelemetry::propagation::TextMapCompositePropagator>,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shut_down: bool,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("service_name", &self.config.service_name)
            .field("sdk_disabled", &self.config.sdk_disabled)
            .field("traces", &self.pipelines.tracer_provider.is_some())
            .field("metrics", &self.pipelines.meter_provider.is_some())
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
            .exemplars(guard.pipelines.exemplars.clone())
            .propagator(guard.propagator.clone());
        if let Some(provider) = &guard.pipelines.tracer_provider {
            layer =
                layer.tracer_provider(&crate::tracer::Level2TracerProvider::new(provider.clone()));
            // The provider was built with this presampler's halves.
            if let Some(presampler) = &guard.pipelines.presampler {
                layer = layer.presampler(presampler.clone());
            }
        }
        if let Some(provider) = &guard.pipelines.meter_provider {
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

    /// The OpenTelemetry providers this guard runs, and tracers on them.
    pub fn providers(&self) -> Providers<'_> {
        Providers {
            pipelines: &self.pipelines,
        }
    }

    /// A server layer on this guard's providers, exemplar store, propagators and
    /// semantic-convention choice (`OTEL_SEMCONV_STABILITY_OPT_IN`):
    /// `tonic::transport::Server::builder().layer(telemetry.server_layer())`.
    pub fn server_layer(&self) -> ferrotel_tower::ServerLayer {
        with_guard_settings!(self, ferrotel_tower::ServerLayer::new())
    }

    /// A client layer for calls to `target`, on this guard's providers:
    /// `ServiceBuilder::new().layer(telemetry.client_layer(&uri)).service(channel)`.
    pub fn client_layer(&self, target: &http::Uri) -> ferrotel_tower::ClientLayer {
        with_guard_settings!(self, ferrotel_tower::ClientLayer::new().target(target))
    }

    /// ferrotel-ops on this guard's pipelines: NFS, storage and Raft instruments
    /// (`.nfs(side)`, `.storage(backend)`, `.raft(node_id)`), named by `FERROTEL_NFS_METRICS`,
    /// `FERROTEL_STORAGE_METRICS` and `FERROTEL_METRICS_PREFIX`, and sampled like the rest.
    #[cfg(feature = "ops")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
    pub fn ops(&self) -> ferrotel_ops::OpsTelemetry {
        let meter = self
            .pipelines
            .meter_provider
            .as_ref()
            .map(|p| p as &dyn opentelemetry::metrics::MeterProvider);
        let telemetry = ferrotel_ops::OpsTelemetry::new(
            self.pipelines.tracer_provider.as_ref(),
            meter,
            self.pipelines.exemplars.clone(),
        )
        .with_naming(&self.config.ops);
        match &self.pipelines.presampler {
            Some(presampler) => telemetry.with_presampler(presampler.clone()),
            None => telemetry,
        }
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
        let spans = self
            .pipelines
            .tracer_provider
            .as_ref()
            .map(crate::subscriber::span_layer);
        let records = self.pipelines.logger_provider.as_ref().map(|provider| {
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)
        });
        Box::new(tracing_subscriber::Layer::and_then(spans, records))
    }

    /// The tracing dispatcher ferrotel built, when it was asked not to install it globally
    /// ([`crate::Builder::install_subscriber`]). Use it with `tracing::dispatcher::with_default`.
    pub fn dispatch(&self) -> Option<&tracing::Dispatch> {
        self.dispatch.as_ref()
    }

    /// What every exporter has done so far: per span and log record pipeline, the items
    /// queued, exported, failed, dropped and pending; per OTLP metric exporter, the data
    /// points. Nothing is lost without being counted here.
    pub fn stats(&self) -> ExportStats {
        self.pipelines.stats()
    }

    /// Where the `/metrics` endpoint listens, when `OTEL_METRICS_EXPORTER` includes
    /// `prometheus`.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.pipelines
            .metrics_endpoint
            .as_ref()
            .map(ferrotel_prometheus::MetricsEndpoint::local_addr)
    }

    /// Flushes what is pending without shutting down, within the shutdown bound.
    pub fn flush(&self) -> ShutdownReport {
        self.pipelines.flush(self.shutdown_timeout)
    }

    /// Flushes and shuts everything down within the shutdown bound. Dropping the guard does
    /// the same; call this to learn how it went.
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
        self.pipelines.shutdown(self.shutdown_timeout)
    }
}

/// The OpenTelemetry providers behind a [`Guard`], for code that uses OpenTelemetry directly.
#[derive(Clone, Copy)]
pub struct Providers<'a> {
    pipelines: &'a Pipelines,
}

impl std::fmt::Debug for Providers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("traces", &self.pipelines.tracer_provider.is_some())
            .field("metrics", &self.pipelines.meter_provider.is_some())
            .field("logs", &self.pipelines.logger_provider.is_some())
            .finish()
    }
}

impl<'a> Providers<'a> {
    /// The SDK tracer provider, unless the SDK is disabled (`OTEL_TRACES_EXPORTER=none` still
    /// has one: spans are made and propagated, only not exported).
    pub fn tracer_provider(&self) -> Option<&'a SdkTracerProvider> {
        self.pipelines.tracer_provider.as_ref()
    }

    /// A tracer on the tracer provider (a no-op tracer when the SDK is disabled). Its spans
    /// keep the W3C random-trace-id flag ([`crate::tracer::Level2Tracer`]).
    pub fn tracer(&self, scope: &'static str) -> crate::tracer::Level2Tracer {
        crate::tracer::Level2Tracer::new(match &self.pipelines.tracer_provider {
            Some(provider) => provider.tracer(scope),
            None => SdkTracerProvider::builder()
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .build()
                .tracer(scope),
        })
    }

    /// The meter provider, with exemplars on every histogram and counter, when a metric
    /// exporter is configured: what [`crate::init`] installs as the global one.
    pub fn meter_provider(&self) -> Option<ferrotel_metrics::ExemplarMeterProvider> {
        self.pipelines.meter_provider.as_ref().map(|provider| {
            ferrotel_metrics::ExemplarMeterProvider::new(
                provider.clone(),
                self.pipelines.exemplars.clone(),
            )
        })
    }

    /// The logger provider of the logs signal, unless `OTEL_LOGS_EXPORTER=none` (or the SDK is
    /// disabled).
    pub fn logger_provider(&self) -> Option<&'a opentelemetry_sdk::logs::SdkLoggerProvider> {
        self.pipelines.logger_provider.as_ref()
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
