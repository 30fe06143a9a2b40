//! `init()`, `try_init()` and the [`Builder`] behind them.

use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::redact::Redactor;
use ferrotel_config::{ConfigBuilder, Env, Resolved};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use crate::error::InitError;
use crate::guard::Guard;
use crate::health::LossReporter;
use crate::logging::{self, DispatchCell, Traced};
use crate::runtime::ExportRuntime;

/// Starts telemetry from the `OTEL_*` environment variables (or from the declarative
/// configuration file named by `OTEL_CONFIG_FILE`, which then replaces them), installs it
/// globally and returns the guard that flushes it on drop.
///
/// It never panics and never refuses to start the service: an invalid variable is reported as a
/// warning and its default used (the specification's rule); if setup fails outright, the reason
/// is printed to stderr and the service runs with telemetry off. Use [`try_init`] to handle the
/// error yourself, or [`Builder::strict`] to refuse invalid configuration.
pub fn init() -> Guard {
    match builder().try_init() {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("ferrotel: {err}; telemetry is off for this run");
            Guard::disabled()
        }
    }
}

/// Like [`init`], but returns the error instead of starting with telemetry off.
pub fn try_init() -> Result<Guard, InitError> {
    builder().try_init()
}

/// A builder for code-level settings; they win over every environment variable.
pub fn builder() -> Builder {
    Builder::default()
}

/// Code-level settings for [`try_init`](Builder::try_init). Every setting left alone comes from
/// the `OTEL_*` variables, then from the specification's defaults.
pub struct Builder {
    config: ConfigBuilder,
    env: Option<Env>,
    install_subscriber: bool,
    install_globals: bool,
    log_writer: Option<BoxMakeWriter>,
    shutdown_timeout: Option<Duration>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            config: ferrotel_config::Config::builder(),
            env: None,
            install_subscriber: true,
            install_globals: true,
            log_writer: None,
            shutdown_timeout: None,
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("install_subscriber", &self.install_subscriber)
            .field("install_globals", &self.install_globals)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Sets `service.name`, winning over `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config = self.config.service_name(name);
        self
    }

    /// Refuses to start when any variable is invalid, instead of warning and using its default.
    /// Also enabled by `FERROTEL_CONFIG_STRICT=true`.
    pub fn strict(mut self, strict: bool) -> Self {
        self.config = self.config.strict(strict);
        self
    }

    /// Changes any other setting in code, through the configuration builder.
    ///
    /// ```
    /// use ferrotel::config::Sampler;
    /// let builder = ferrotel::builder().configure(|c| c.sampler(Sampler::TraceIdRatio(0.1)));
    /// # drop(builder);
    /// ```
    pub fn configure(mut self, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        self.config = f(self.config);
        self
    }

    /// Reads the variables from `env` instead of the process environment (tests, embedding).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// Whether to install the tracing subscriber as the global default (default: yes). When
    /// not, [`Guard::dispatch`] holds it.
    pub fn install_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// Whether to install the tracer provider, meter provider and propagator as the
    /// OpenTelemetry globals (default: yes).
    pub fn install_globals(mut self, install: bool) -> Self {
        self.install_globals = install;
        self
    }

    /// Where log lines go (default: stdout).
    pub fn log_writer<W>(mut self, writer: W) -> Self
    where
        W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
    {
        self.log_writer = Some(BoxMakeWriter::new(writer));
        self
    }

    /// The bound on the guard's flush and shutdown. Default: the OTLP export timeout of the
    /// traces signal (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, 10 s), or 10 s when that is
    /// unlimited.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Resolves the configuration, builds the pipelines and installs them.
    pub fn try_init(self) -> Result<Guard, InitError> {
        let env = match self.env {
            Some(env) => env,
            None => Env::from_process(),
        };
        let file = crate::config_file::read(&env)?;
        let mut notes: Vec<String> = file
            .iter()
            .filter_map(crate::config_file::logs_note)
            .collect();
        let config_builder = match file {
            Some(file) => self.config.config_file(file),
            None => self.config,
        };
        let Resolved { config, issues } = config_builder.resolve(&env)?;
        let shutdown_timeout = self
            .shutdown_timeout
            .or(config.traces_otlp.timeout)
            .unwrap_or(Duration::from_secs(10));

        let mut runtime = None;
        let mut tracer_provider = None;
        let mut presampler = None;
        let mut pipelines = Vec::new();
        let mut logger_provider = None;
        let mut log_pipelines = Vec::new();
        let mut meter_provider = None;
        let mut exemplars =
            ferrotel_metrics::Exemplars::new(ferrotel_config::ExemplarFilter::AlwaysOff);
        let mut metric_exporters = Vec::new();
        let mut metrics_endpoint = None;
        let mut reporter: Option<Arc<LossReporter>> = None;
        if !config.sdk_disabled {
            // reqwest is built with `rustls-no-provider` here; when the application chose no
            // process-wide rustls provider, ring becomes it, so a plain `reqwest::Client::new()`
            // elsewhere in the service keeps working. An existing choice is left alone.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let export = ExportRuntime::start()
                .map_err(|e| InitError::setup(format!("cannot start the export runtime: {e}")))?;
            let handle = export.handle().clone();
            let resource = resource(&config);
            let reporter = Arc::clone(reporter.get_or_insert_with(|| {
                Arc::new(LossReporter::new(crate::health::REPORT_INTERVAL))
            }));
            {
                // The exporters' connections and the remote sampler's poller live on the export
                // runtime, whatever runtime (or none) the caller is on.
                let _enter = handle.enter();
                // Built even when OTEL_TRACES_EXPORTER=none: that means no exporter, not no
                // SDK, so spans are still created, sampled and propagated, and log lines still
                // carry their ids.
                let reporter_for_traces = Some(Arc::clone(&reporter));
                match crate::traces::tracer_provider(
                    &config,
                    resource.clone(),
                    &handle,
                    reporter_for_traces,
                ) {
                    Ok((provider, built_presampler, built)) => {
                        tracer_provider = Some(provider);
                        presampler = Some(built_presampler);
                        pipelines = built;
                    }
                    // An unreadable TLS file is not the service's fault: outside strict
                    // mode tracing export is off and the problem reported.
                    Err(e) if !config.strict => {
                        notes.push(format!("trace export is off for this run: {e}"));
                    }
                    Err(e) => return Err(e),
                }
                let (provider, built) = crate::logs::logger_provider(
                    &config,
                    resource.clone(),
                    &handle,
                    Some(Arc::clone(&reporter)),
                )?;
                logger_provider = provider;
                log_pipelines = built;
                let metrics = crate::meter::pipeline(
                    &config,
                    resource,
                    &handle,
                    Some(Arc::clone(&reporter)),
                )?;
                meter_provider = metrics.provider;
                exemplars = metrics.exemplars;
                metric_exporters = metrics.exporters;
                metrics_endpoint = metrics.endpoint;
                notes.extend(metrics.notes);
                if let Some(provider) = &meter_provider {
                    let span_kind =
                        if config.traces_otlp.protocol == ferrotel_config::Protocol::Grpc {
                            "otlp_grpc_span_exporter"
                        } else {
                            "otlp_http_span_exporter"
                        };
                    let log_kind = if config.logs_otlp.protocol == ferrotel_config::Protocol::Grpc {
                        "otlp_grpc_log_exporter"
                    } else {
                        "otlp_http_log_exporter"
                    };
                    crate::selfobs::register(
                        provider,
                        &pipelines,
                        span_kind,
                        &log_pipelines,
                        log_kind,
                        &metrics.components,
                    );
                }
            }
            runtime = Some(export);
        }

        let (filter, filter_note) = logging::filter(&env, config.log_level.as_str());
        notes.extend(filter_note);
        let dispatch_cell = DispatchCell::default();
        let writer = self
            .log_writer
            .unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout));
        let writer = logging::scrubbing(writer, Redactor::from_config(&config));
        // With the SDK disabled nothing needs spans, so the log layer takes events only: every
        // span callsite is then never enabled, and instrumentation costs next to nothing.
        // (An absent layer must not even be an `Option` layer: `None` still asks for spans.)
        let events_only = config.sdk_disabled;
        let fmt_cell = Arc::clone(&dispatch_cell);
        let built = match &tracer_provider {
            Some(provider) => {
                // busy_ns/idle_ns, thread and target attributes are not semantic conventions
                // and cost a clock read or an allocation per span; code.* locations stay.
                // The same filter as the logs: without one, every span of h2, hyper and tower
                // (TRACE and DEBUG level) would be exported, flooding the queue.
                let (span_filter, _) = logging::filter(&env, config.log_level.as_str());
                let otel = tracing_opentelemetry::layer()
                    .with_tracked_inactivity(false)
                    .with_threads(false)
                    .with_target(false)
                    .with_tracer(crate::tracer::Level2Tracer::new(
                        provider.tracer_with_scope(crate::tracer::scope("ferrotel")),
                    ))
                    .with_filter(span_filter);
                let fmt = logging::fmt_layer::<Traced>(config.log_format, fmt_cell, writer);
                // The logs signal: every event the log filter admits, as an OpenTelemetry log
                // record (the appender reads the ids from the context of the entered span).
                let records = logger_provider.as_ref().map(|provider| {
                    let (records_filter, _) = logging::filter(&env, config.log_level.as_str());
                    opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)
                        .with_filter(logging::log_filter(records_filter, true))
                });
                tracing::Dispatch::new(
                    tracing_subscriber::registry()
                        .with(otel)
                        .with(fmt.with_filter(logging::log_filter(filter, events_only)))
                        .with(records),
                )
            }
            None => {
                let fmt = logging::fmt_layer::<Registry>(config.log_format, fmt_cell, writer);
                let filter = logging::log_filter(filter, events_only);
                tracing::Dispatch::new(tracing_subscriber::registry().with(fmt.with_filter(filter)))
            }
        };

        let messages: Vec<String> = issues.iter().map(ToString::to_string).collect();
        let _ = dispatch_cell.set(built.downgrade());
        if let Some(reporter) = &reporter {
            reporter.set_dispatch(&built);
        }
        let mut dispatch = None;
        if self.install_subscriber {
            tracing::dispatcher::set_global_default(built).map_err(InitError::subscriber_taken)?;
            // `log` records become tracing events (and so log lines and log records); a logger
            // the application installed itself stays.
            let _ = tracing_log::LogTracer::init();
            report(&messages, &notes);
        } else {
            tracing::dispatcher::with_default(&built, || report(&messages, &notes));
            dispatch = Some(built);
        }
        // Globals only after the subscriber is in place: a refused init must not leave the
        // process pointing at pipelines that are about to be dropped.
        let propagator = std::sync::Arc::new(crate::propagation::composite(&config.propagators));
        if self.install_globals {
            opentelemetry::global::set_text_map_propagator(crate::propagation::composite(
                &config.propagators,
            ));
            if let Some(provider) = &tracer_provider {
                opentelemetry::global::set_tracer_provider(
                    crate::tracer::Level2TracerProvider::new(provider.clone()),
                );
            }
            if let Some(provider) = &meter_provider {
                // Every histogram and counter of the global meter carries exemplars.
                opentelemetry::global::set_meter_provider(
                    ferrotel_metrics::ExemplarMeterProvider::new(
                        provider.clone(),
                        exemplars.clone(),
                    ),
                );
            }
            ferrotel_metrics::Exemplars::set_global(exemplars.clone());
        }

        Ok(Guard {
            config,
            issues,
            tracer_provider,
            presampler,
            pipelines,
            logger_provider,
            log_pipelines,
            meter_provider,
            exemplars,
            metric_exporters,
            metrics_endpoint,
            runtime,
            dispatch,
            propagator,
            shutdown_timeout,
            shut_down: false,
        })
    }
}

fn report(issues: &[String], notes: &[String]) {
    for issue in issues {
        tracing::warn!(target: "ferrotel", "{issue}");
    }
    for note in notes {
        tracing::warn!(target: "ferrotel", "{note}");
    }
}

/// The resource is exactly what the configuration resolved, plus the SDK's `telemetry.sdk.*`
/// attributes. The SDK's own env detectors are left out: they read the process environment
/// with the opposite `service.name` precedence.
fn resource(config: &ferrotel_config::Config) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(
            opentelemetry_sdk::resource::TelemetryResourceDetector,
        ))
        .with_attributes(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}

impl Guard {
    /// A guard with nothing running, for when setup failed in [`init`].
    fn disabled() -> Self {
        let config = ferrotel_config::Config::builder()
            .resolve(&Env::new())
            .map(|r| r.config)
            .unwrap_or_default();
        Guard {
            config,
            issues: Vec::new(),
            tracer_provider: None,
            presampler: None,
            pipelines: Vec::new(),
            logger_provider: None,
            log_pipelines: Vec::new(),
            meter_provider: None,
            exemplars: ferrotel_metrics::Exemplars::new(ferrotel_config::ExemplarFilter::AlwaysOff),
            metric_exporters: Vec::new(),
            metrics_endpoint: None,
            runtime: None,
            dispatch: None,
            propagator: std::sync::Arc::new(crate::propagation::composite(&[])),
            shutdown_timeout: Duration::ZERO,
            shut_down: true,
        }
    }
}
