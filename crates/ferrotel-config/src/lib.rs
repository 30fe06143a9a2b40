//! Typed ferrotel configuration from the standard `OTEL_*` environment variables, or a
//! declarative configuration file ([`ConfigFile`], `OTEL_CONFIG_FILE`), and code overrides.
//!
//! ```
//! use ferrotel_config::{Config, Env, Protocol, Sampler};
//!
//! let env = Env::from_pairs([
//!     ("OTEL_SERVICE_NAME", "checkout"),
//!     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
//!     ("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio"),
//!     ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
//!     ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
//! ]);
//! let resolved = Config::builder().resolve(&env)?;
//! let config = resolved.config;
//!
//! assert_eq!(config.service_name, "checkout");
//! assert_eq!(config.traces_otlp.protocol, Protocol::HttpProtobuf);
//! assert_eq!(config.traces_otlp.endpoint, "http://collector:4318/v1/traces");
//! assert_eq!(
//!     config.sampler,
//!     Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25)))
//! );
//! // Lenient mode (the default): the bad value is reported and the default used.
//! assert_eq!(config.batch.max_queue_size, 2048);
//! assert!(resolved.issues[0].to_string().contains("OTEL_BSP_MAX_QUEUE_SIZE=\"lots\""));
//!
//! // Strict mode refuses it instead.
//! let error = Config::builder().strict(true).resolve(&env).unwrap_err();
//! assert_eq!(error.issues().len(), 1);
//! # Ok::<(), ferrotel_config::ConfigError>(())
//! ```
//!
//! # Why a separate, pure crate
//!
//! Resolution reads an [`Env`] map, never the process environment, and does no I/O, so every
//! rule is a unit test away. [`Env::from_process`] takes the one snapshot a program needs.
//! The resource detectors that read the system ([`detect`]) run apart, in
//! [`Config::detect_resource`], below a root directory a test can fake.
//!
//! # Rules
//!
//! - Precedence, everywhere: code setting ([`ConfigBuilder`]) > per-signal variable > generic
//!   variable > default. It lives in one function (`precedence::Resolver::resolve`).
//! - Empty values are unset, whitespace is trimmed, enum values are case-insensitive, booleans
//!   are true only for `true`, durations are milliseconds and a timeout of `0` means no limit.
//! - Invalid values are never swallowed: each becomes a [`ConfigIssue`] naming the variable,
//!   the value, what is allowed and what is used instead. In lenient mode (default) they are
//!   returned in [`Resolved::issues`]; in strict mode ([`ConfigBuilder::strict`] or
//!   `FERROTEL_CONFIG_STRICT=true`) any [`Severity::Invalid`] issue makes
//!   [`ConfigBuilder::resolve`] fail with a [`ConfigError`] listing all of them.
//!   [`Severity::Advice`] issues (such as port 4317 with the default HTTP protocol) never fail.
//! - Only the values that decide the outcome are validated: a variable shadowed by a code
//!   setting or by a per-signal variable is not read. Values set in code as typed Rust values
//!   are taken as given; code endpoints (text) are validated like variables.
//! - The OTLP settings of both signals are always resolved (and validated), whichever exporters
//!   are selected.
//! - Variable names are in [`vars`].
//! - With a declarative configuration file ([`vars::OTEL_CONFIG_FILE`], [`ConfigFile`]) the
//!   file takes the place of the `OTEL_*` variables: code setting > file > default. Reading
//!   the file is the caller's one piece of I/O; [`ConfigFile::parse`] takes its contents.

mod batch;
pub mod bounds;
mod builder;
pub mod detect;
mod endpoint;
mod env;
pub mod escape;
mod exporter;
mod file;
pub mod glob;
mod issue;
mod limits;
mod logging;
mod metrics;
mod ops;
mod otlp;
mod parse;
mod precedence;
mod propagator;
pub mod redact;
mod resource;
mod sampler;
mod semconv;
pub mod vars;
mod views;

pub use batch::BatchConfig;
pub use builder::ConfigBuilder;
pub use detect::{Detector, ResourceDetection};
pub use env::Env;
pub use exporter::{
    LogsExporter, MetricsExporter, TracesExporter, UNSUPPORTED_LOGS_EXPORTERS,
    UNSUPPORTED_METRICS_EXPORTERS, UNSUPPORTED_TRACES_EXPORTERS,
};
pub use file::{ConfigFile, LoggerProviderSection};
pub use issue::{ConfigError, ConfigIssue, Severity};
pub use limits::{SpanLimits, DEFAULT_COUNT_LIMIT};
pub use logging::{LogFormat, LogLevel};
pub use metrics::{
    ExemplarFilter, HistogramAggregation, MetricsConfig, Temporality, DEFAULT_METRICS_ADDR,
};
pub use ops::{
    parse_sampling_rules, NfsMetrics, OpsConfig, SamplingRule, StorageMetrics,
    DEFAULT_METRICS_PREFIX, MAX_SAMPLING_RULES, SAMPLING_RULES_GRAMMAR,
};
pub use otlp::{
    Compression, OtlpConfig, OtlpOverrides, Protocol, DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT,
    DEFAULT_OTLP_TIMEOUT,
};
pub use propagator::{default_propagators, Propagator, UNSUPPORTED_PROPAGATORS};
pub use resource::{SERVICE_INSTANCE_ID, SERVICE_NAME};
pub use sampler::{
    ParentBasedSamplers, Sampler, DEFAULT_JAEGER_REMOTE_ENDPOINT,
    DEFAULT_JAEGER_REMOTE_INITIAL_SAMPLING_RATE, DEFAULT_JAEGER_REMOTE_POLLING_INTERVAL,
};
pub use semconv::{RpcSemconv, SemconvStability};
pub use views::{
    exponential_buckets, AttributeKeys, BucketsError, CardinalityLimits, InstrumentInfo,
    InstrumentType, View, ViewAggregation, ViewProblem, ViewSelector, ViewStream,
    DEFAULT_CARDINALITY_LIMIT, DEFAULT_VIEW_BOUNDARIES, MAX_CARDINALITY_LIMIT,
    MAX_EXPONENTIAL_BUCKETS,
};

/// The resolved configuration. Every field is final: defaults applied, invalid values
/// replaced, precedence settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Whether strict mode was on ([`ConfigBuilder::strict`], [`vars::FERROTEL_CONFIG_STRICT`]).
    pub strict: bool,
    /// Telemetry is switched off entirely ([`vars::OTEL_SDK_DISABLED`], default `false`).
    pub sdk_disabled: bool,
    /// Resource attributes from variables, code and the variable-reading detectors,
    /// `service.name` first, always with `service.name` and `service.instance.id`
    /// ([`vars::OTEL_RESOURCE_ATTRIBUTES`], [`vars::OTEL_SERVICE_NAME`]). What is exported is
    /// [`Config::detect_resource`]: these plus the system-reading detectors' finds.
    pub resource: Vec<(String, String)>,
    /// Copy of the `service.name` attribute.
    pub service_name: String,
    /// The resource detectors and their filters ([`vars::FERROTEL_RESOURCE_DETECTORS`]). Those
    /// that read variables are already in [`Config::resource`]; the others run in
    /// [`Config::detect_resource`].
    pub resource_detection: ResourceDetection,
    /// Level of ferrotel's own diagnostics ([`vars::OTEL_LOG_LEVEL`], default `info`).
    pub log_level: LogLevel,
    /// Format of ferrotel's own diagnostics ([`vars::FERROTEL_LOG_FORMAT`], default `text`).
    pub log_format: LogFormat,
    /// Propagators in order, deduplicated, empty for `none` ([`vars::OTEL_PROPAGATORS`],
    /// default `tracecontext, baggage`).
    pub propagators: Vec<Propagator>,
    /// Sampler ([`vars::OTEL_TRACES_SAMPLER`], [`vars::OTEL_TRACES_SAMPLER_ARG`], default
    /// `parentbased_always_on`).
    pub sampler: Sampler,
    /// Span exporters, deduplicated, empty for `none` ([`vars::OTEL_TRACES_EXPORTER`],
    /// default `otlp`).
    pub traces_exporter: Vec<TracesExporter>,
    /// Metric exporters, deduplicated, empty for `none` ([`vars::OTEL_METRICS_EXPORTER`],
    /// default `otlp`).
    pub metrics_exporter: Vec<MetricsExporter>,
    /// Log record exporters, deduplicated, empty for `none` ([`vars::OTEL_LOGS_EXPORTER`],
    /// default `otlp`). They export `tracing` events (and `log` records); the log lines on
    /// standard output stay as they are whatever this says.
    pub logs_exporter: Vec<LogsExporter>,
    /// Batch span processor (`OTEL_BSP_*`).
    pub batch: BatchConfig,
    /// The span exporters fed by a simple processor, which exports each span as it ends,
    /// instead of the batch processor. Only a configuration file's `simple` processors set
    /// it; default: none.
    pub simple_span_exporters: Vec<TracesExporter>,
    /// Batch log record processor (`OTEL_BLRP_*`; schedule delay default 1000 ms).
    pub logs_batch: BatchConfig,
    /// Span limits (`OTEL_*_LIMIT`).
    pub limits: SpanLimits,
    /// Metrics SDK settings.
    pub metrics: MetricsConfig,
    /// Metric views, in order ([`ConfigBuilder::views`], or a file's `meter_provider.views`;
    /// default: none). Every view that selects an instrument makes one stream of it.
    pub views: Vec<View>,
    /// Attribute sets kept per instrument before the overflow series
    /// ([`ConfigBuilder::cardinality_limits`], or a file's readers' `cardinality_limits`;
    /// default 2000 for every kind).
    pub cardinality_limits: CardinalityLimits,
    /// OTLP exporter for traces (`OTEL_EXPORTER_OTLP_[TRACES_]*`).
    pub traces_otlp: OtlpConfig,
    /// OTLP exporter for metrics (`OTEL_EXPORTER_OTLP_[METRICS_]*`).
    pub metrics_otlp: OtlpConfig,
    /// OTLP exporter for log records (`OTEL_EXPORTER_OTLP_[LOGS_]*`).
    pub logs_otlp: OtlpConfig,
    /// Whether the process and runtime metrics are reported
    /// ([`vars::FERROTEL_PROCESS_METRICS`], default `true`).
    pub process_metrics: bool,
    /// Semantic-convention opt-ins ([`vars::OTEL_SEMCONV_STABILITY_OPT_IN`]).
    pub semconv_opt_in: SemconvStability,
    /// Settings of the NFS, storage and Raft instruments and the per-operation sampling rules
    /// (`FERROTEL_NFS_METRICS`, `FERROTEL_STORAGE_METRICS`, `FERROTEL_METRICS_PREFIX`,
    /// `FERROTEL_SAMPLING_RULES`).
    pub ops: OpsConfig,
    /// The declarative configuration file this configuration came from
    /// ([`vars::OTEL_CONFIG_FILE`], see [`ConfigFile`]); while one is used the other `OTEL_*`
    /// variables are ignored.
    pub config_file: Option<String>,
}

impl Config {
    /// A builder for code overrides; finish with [`ConfigBuilder::resolve`].
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The resource to export: [`Config::resource`] plus what the system-reading detectors
    /// find ([`ResourceDetection::detect_system`]), each only where no other source set its
    /// key, so `OTEL_RESOURCE_ATTRIBUTES`, a file's attributes and code win. This is the one
    /// piece of resolution that reads files (bounded, below [`ResourceDetection::root`]); it
    /// never fails.
    pub fn detect_resource(&self) -> Vec<(String, String)> {
        let mut resource = self.resource.clone();
        for (key, value) in self.resource_detection.detect_system() {
            if !resource.iter().any(|(known, _)| *known == key) {
                resource.push((key, value));
            }
        }
        resource
    }

    /// The default bound on flushing and shutting telemetry down: the traces signal's OTLP
    /// export timeout, or 10 s when that is unlimited, so a dead collector costs at most one
    /// export's wait.
    pub fn shutdown_bound(&self) -> std::time::Duration {
        self.traces_otlp
            .timeout
            .unwrap_or(std::time::Duration::from_secs(10))
    }
}

impl Default for Config {
    /// Every default: what an empty [`Env`] without code overrides resolves to (with a fresh
    /// random `service.instance.id`).
    fn default() -> Self {
        ConfigBuilder::default().resolve_lenient(&Env::new()).0
    }
}

/// A successful resolution: the configuration and the problems met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The configuration to use.
    pub config: Config,
    /// Every issue, in the order found: in lenient mode the invalid values (replaced by their
    /// fallbacks), in both modes the advice.
    pub issues: Vec<ConfigIssue>,
}
