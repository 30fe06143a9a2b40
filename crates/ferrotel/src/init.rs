//! `init()`, `try_init()` and the [`Builder`] behind them.

use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::{ConfigBuilder, Env, Resolved};
use opentelemetry::propagation::TextMapCompositePropagator;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::MakeWriter;

use crate::error::InitError;
use crate::guard::Guard;
use crate::pipelines::Pipelines;

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

    /// The bound on the guard's flush and shutdown. Default:
    /// [`Config::shutdown_bound`](ferrotel_config::Config::shutdown_bound), the OTLP export
    /// timeout of the traces signal (`OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`, 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Resolves the configuration, builds the pipelines and installs them.
    pub fn try_init(self) -> Result<Guard, InitError> {
        let env = self.env.unwrap_or_else(Env::from_process);
        let Resolved { config, issues } = resolve(self.config, &env)?;
        let mut notes = Vec::new();
        let shutdown_timeout = self
            .shutdown_timeout
            .unwrap_or_else(|| config.shutdown_bound());
        let pipelines = Pipelines::start(&config, &mut notes)?;
        let dispatch =
            crate::subscriber::build(&env, &config, &pipelines, self.log_writer, &mut notes);
        if let Some(reporter) = &pipelines.reporter {
            reporter.set_dispatch(&dispatch);
        }
        let warnings: Vec<String> = issues
            .iter()
            .map(ToString::to_string)
            .chain(notes)
            .collect();
        let dispatch = if self.install_subscriber {
            tracing::dispatcher::set_global_default(dispatch)
                .map_err(InitError::subscriber_taken)?;
            // `log` records become tracing events (and so log lines and log records); a logger
            // the application installed itself stays.
            let _ = tracing_log::LogTracer::init();
            warn_all(&warnings);
            None
        } else {
            tracing::dispatcher::with_default(&dispatch, || warn_all(&warnings));
            Some(dispatch)
        };
        // Globals only after the subscriber is in place: a refused init must not leave the
        // process pointing at pipelines that are about to be dropped.
        let propagator = Arc::new(crate::propagation::composite(&config.propagators));
        if self.install_globals {
            install_globals(&pipelines, &propagator);
        }
        Ok(Guard {
            config,
            issues,
            pipelines,
            dispatch,
            propagator,
            shutdown_timeout,
            shut_down: false,
        })
    }
}

/// The configuration from code, `OTEL_CONFIG_FILE` (which replaces the variables) and the
/// variables.
fn resolve(builder: ConfigBuilder, env: &Env) -> Result<Resolved, InitError> {
    let builder = match crate::config_file::read(env)? {
        Some(file) => builder.config_file(file),
        None => builder,
    };
    Ok(builder.resolve(env)?)
}

/// The OpenTelemetry globals: propagator, tracer provider (with the W3C random flag) and meter
/// provider (every histogram and counter with exemplars).
fn install_globals(pipelines: &Pipelines, propagator: &Arc<TextMapCompositePropagator>) {
    opentelemetry::global::set_text_map_propagator(crate::propagation::Shared(Arc::clone(
        propagator,
    )));
    if let Some(provider) = &pipelines.tracer_provider {
        opentelemetry::global::set_tracer_provider(crate::tracer::Level2TracerProvider::new(
            provider.clone(),
        ));
    }
    if let Some(provider) = &pipelines.meter_provider {
        opentelemetry::global::set_meter_provider(ferrotel_metrics::ExemplarMeterProvider::new(
            provider.clone(),
            pipelines.exemplars.clone(),
        ));
    }
    ferrotel_metrics::Exemplars::set_global(pipelines.exemplars.clone());
}

fn warn_all(warnings: &[String]) {
    for warning in warnings {
        tracing::warn!(target: "ferrotel", "{warning}");
    }
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
            pipelines: Pipelines::off(),
            dispatch: None,
            propagator: Arc::new(crate::propagation::composite(&[])),
            shutdown_timeout: Duration::ZERO,
            shut_down: true,
        }
    }
}
