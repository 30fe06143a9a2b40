//! Code overrides and the resolution entry point.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::batch::{self, BatchOverrides};
use crate::detect::{self, Detector, ResourceDetection};
use crate::env::Env;
use crate::exporter::{
    LogsExporter, MetricsExporter, TracesExporter, UNSUPPORTED_LOGS_EXPORTERS,
    UNSUPPORTED_METRICS_EXPORTERS, UNSUPPORTED_TRACES_EXPORTERS,
};
use crate::file::ConfigFile;
use crate::issue::{ConfigError, ConfigIssue, Severity};
use crate::limits::{self, LimitOverrides};
use crate::logging::{LogFormat, LogLevel};
use crate::metrics::{self, ExemplarFilter, HistogramAggregation, MetricsOverrides, Temporality};
use crate::otlp::{self, OtlpOverrides, Signal};
use crate::precedence::{Candidate, Resolver};
use crate::propagator::{default_propagators, Propagator, UNSUPPORTED_PROPAGATORS};
use crate::resource::{self, ResourceOverrides};
use crate::sampler::{self, Sampler};
use crate::semconv::{self, RpcSemconv, SemconvStability};
use crate::vars;
use crate::{Config, Resolved};

/// Settings made in code. Each one beats the variable(s) its documentation names; anything
/// left unset comes from the [`Env`] or the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigBuilder {
    strict: Option<bool>,
    sdk_disabled: Option<bool>,
    resource: ResourceOverrides,
    resource_detectors: Option<Vec<Detector>>,
    resource_detection_attributes: Option<(Vec<String>, Vec<String>)>,
    resource_detection_root: Option<PathBuf>,
    process_metrics: Option<bool>,
    log_level: Option<LogLevel>,
    log_format: Option<LogFormat>,
    propagators: Option<Vec<Propagator>>,
    sampler: Option<Sampler>,
    traces_exporter: Option<Vec<TracesExporter>>,
    metrics_exporter: Option<Vec<MetricsExporter>>,
    logs_exporter: Option<Vec<LogsExporter>>,
    batch: BatchOverrides,
    limits: LimitOverrides,
    metrics: MetricsOverrides,
    otlp: OtlpOverrides,
    traces_otlp: OtlpOverrides,
    metrics_otlp: OtlpOverrides,
    logs_otlp: OtlpOverrides,
    rpc_semconv: Option<RpcSemconv>,
    ops: crate::ops::OpsOverrides,
    views: Option<Vec<crate::View>>,
    cardinality_limits: Option<crate::CardinalityLimits>,
    file: Option<ConfigFile>,
}

/// Deduplicates while keeping the first occurrence.
fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut unique = Vec::new();
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

impl ConfigBuilder {
    /// Strict mode: any invalid value fails [`ConfigBuilder::resolve`] instead of being
    /// replaced by its default. Beats [`vars::FERROTEL_CONFIG_STRICT`]; default `false`.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }

    /// Whether the process and runtime metrics are reported. Beats
    /// [`vars::FERROTEL_PROCESS_METRICS`]; default `true`.
    pub fn process_metrics(mut self, on: bool) -> Self {
        self.process_metrics = Some(on);
        self
    }

    /// Disables telemetry. Beats [`vars::OTEL_SDK_DISABLED`].
    pub fn sdk_disabled(mut self, disabled: bool) -> Self {
        self.sdk_disabled = Some(disabled);
        self
    }

    /// The service name. Beats [`vars::OTEL_SERVICE_NAME`] and `service.name` in
    /// [`vars::OTEL_RESOURCE_ATTRIBUTES`] or in [`ConfigBuilder::resource_attribute`].
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.resource.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute, replacing a same-named one from
    /// [`vars::OTEL_RESOURCE_ATTRIBUTES`] (no percent-decoding: the value is taken as is).
    /// A `service.name` set here beats [`vars::OTEL_SERVICE_NAME`] but not
    /// [`ConfigBuilder::service_name`].
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        crate::parse::upsert(&mut self.resource.attributes, &key, value.into());
        self
    }

    /// The resource detectors (deduplicated; empty for none). Beats
    /// [`vars::FERROTEL_RESOURCE_DETECTORS`] and a configuration file's
    /// `resource.detection/development.detectors`.
    pub fn resource_detectors(mut self, detectors: impl IntoIterator<Item = Detector>) -> Self {
        self.resource_detectors = Some(dedup(detectors));
        self
    }

    /// Which detected attributes are kept: keys matching a pattern of `included` (all when
    /// empty) and none of `excluded`; `*` matches any run of characters, `?` one. Beats a
    /// configuration file's `resource.detection/development.attributes`. Default: all.
    pub fn resource_detection_attributes(
        mut self,
        included: impl IntoIterator<Item = impl Into<String>>,
        excluded: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.resource_detection_attributes = Some((
            included.into_iter().map(Into::into).collect(),
            excluded.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// The directory the system-reading resource detectors read `proc/`, `etc/` and `var/`
    /// below, instead of `/`: a faked tree for tests, or the host's root mounted elsewhere.
    pub fn resource_detection_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.resource_detection_root = Some(root.into());
        self
    }

    /// ferrotel's diagnostics level. Beats [`vars::OTEL_LOG_LEVEL`].
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = Some(level);
        self
    }

    /// ferrotel's diagnostics format. Beats [`vars::FERROTEL_LOG_FORMAT`].
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = Some(format);
        self
    }

    /// Propagators (deduplicated; empty for none). Beats [`vars::OTEL_PROPAGATORS`].
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = Some(dedup(propagators));
        self
    }

    /// The sampler. Beats [`vars::OTEL_TRACES_SAMPLER`] and [`vars::OTEL_TRACES_SAMPLER_ARG`].
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Span exporters (deduplicated; empty for none). Beats [`vars::OTEL_TRACES_EXPORTER`].
    pub fn traces_exporter(mut self, exporters: impl IntoIterator<Item = TracesExporter>) -> Self {
        self.traces_exporter = Some(dedup(exporters));
        self
    }

    /// Metric exporters (deduplicated; empty for none). Beats [`vars::OTEL_METRICS_EXPORTER`].
    pub fn metrics_exporter(
        mut self,
        exporters: impl IntoIterator<Item = MetricsExporter>,
    ) -> Self {
        self.metrics_exporter = Some(dedup(exporters));
        self
    }

    /// Delay between batch exports. Beats [`vars::OTEL_BSP_SCHEDULE_DELAY`].
    pub fn batch_schedule_delay(mut self, delay: Duration) -> Self {
        self.batch.schedule_delay = Some(delay);
        self
    }

    /// Batch queue size (0 is rejected). Beats [`vars::OTEL_BSP_MAX_QUEUE_SIZE`].
    pub fn batch_max_queue_size(mut self, size: usize) -> Self {
        self.batch.max_queue_size = Some(size);
        self
    }

    /// Spans per export (clamped to the queue size). Beats
    /// [`vars::OTEL_BSP_MAX_EXPORT_BATCH_SIZE`].
    pub fn batch_max_export_batch_size(mut self, size: usize) -> Self {
        self.batch.max_export_batch_size = Some(size);
        self
    }

    /// Batch export timeout, `None` for no limit. Beats [`vars::OTEL_BSP_EXPORT_TIMEOUT`].
    pub fn batch_export_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.batch.export_timeout = Some(timeout);
        self
    }

    /// General attribute value length limit, `None` for no limit. Beats
    /// [`vars::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`] (and is the fallback of the span limit).
    pub fn attribute_value_length_limit(mut self, limit: Option<usize>) -> Self {
        self.limits.attribute_value_length = Some(limit);
        self
    }

    /// General attribute count limit. Beats [`vars::OTEL_ATTRIBUTE_COUNT_LIMIT`] (and is the
    /// fallback of the span, event and link attribute count limits).
    pub fn attribute_count_limit(mut self, limit: usize) -> Self {
        self.limits.attribute_count = Some(limit);
        self
    }

    /// Span attribute value length limit, `None` for no limit. Beats
    /// [`vars::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`].
    pub fn span_attribute_value_length_limit(mut self, limit: Option<usize>) -> Self {
        self.limits.span_attribute_value_length = Some(limit);
        self
    }

    /// Span attribute count limit. Beats [`vars::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`].
    pub fn span_attribute_count_limit(mut self, limit: usize) -> Self {
        self.limits.span_attribute_count = Some(limit);
        self
    }

    /// Span event count limit. Beats [`vars::OTEL_SPAN_EVENT_COUNT_LIMIT`].
    pub fn span_event_count_limit(mut self, limit: usize) -> Self {
        self.limits.span_event_count = Some(limit);
        self
    }

    /// Span link count limit. Beats [`vars::OTEL_SPAN_LINK_COUNT_LIMIT`].
    pub fn span_link_count_limit(mut self, limit: usize) -> Self {
        self.limits.span_link_count = Some(limit);
        self
    }

    /// Event attribute count limit. Beats [`vars::OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`].
    pub fn event_attribute_count_limit(mut self, limit: usize) -> Self {
        self.limits.event_attribute_count = Some(limit);
        self
    }

    /// Link attribute count limit. Beats [`vars::OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`].
    pub fn link_attribute_count_limit(mut self, limit: usize) -> Self {
        self.limits.link_attribute_count = Some(limit);
        self
    }

    /// Interval between metric exports. Beats [`vars::OTEL_METRIC_EXPORT_INTERVAL`].
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.metrics.export_interval = Some(interval);
        self
    }

    /// Metric export timeout, `None` for no limit. Beats [`vars::OTEL_METRIC_EXPORT_TIMEOUT`].
    pub fn metric_export_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.metrics.export_timeout = Some(timeout);
        self
    }

    /// Exemplar filter. Beats [`vars::OTEL_METRICS_EXEMPLAR_FILTER`].
    pub fn exemplar_filter(mut self, filter: ExemplarFilter) -> Self {
        self.metrics.exemplar_filter = Some(filter);
        self
    }

    /// OTLP metric temporality. Beats
    /// [`vars::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`].
    pub fn temporality(mut self, temporality: Temporality) -> Self {
        self.metrics.temporality = Some(temporality);
        self
    }

    /// Default histogram aggregation. Beats
    /// [`vars::OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`].
    pub fn histogram_aggregation(mut self, aggregation: HistogramAggregation) -> Self {
        self.metrics.histogram_aggregation = Some(aggregation);
        self
    }

    /// Metrics endpoint address. Beats [`vars::FERROTEL_METRICS_ADDR`].
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics.addr = Some(addr);
        self
    }

    /// Scrapes of `/metrics` admitted per second, `0` for no limit. Beats
    /// [`vars::FERROTEL_METRICS_RATE_LIMIT`].
    pub fn metrics_rate_limit(mut self, per_second: u32) -> Self {
        self.metrics.rate_limit = Some(per_second);
        self
    }

    /// Scrapes of `/metrics` admitted back to back. Beats [`vars::FERROTEL_METRICS_BURST`].
    pub fn metrics_burst(mut self, burst: u32) -> Self {
        self.metrics.burst = Some(burst);
        self
    }

    /// Connections `/metrics` serves at once, and at most per peer address (`0`: no per-peer
    /// bound). Beat [`vars::FERROTEL_METRICS_MAX_CONNECTIONS`] and
    /// [`vars::FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER`].
    pub fn metrics_max_connections(mut self, total: usize, per_peer: usize) -> Self {
        self.metrics.max_connections = Some(total);
        self.metrics.max_connections_per_peer = Some(per_peer);
        self
    }

    /// OTLP settings for all signals. Beat the generic `OTEL_EXPORTER_OTLP_*` and per-signal
    /// `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_*` variables; lose to
    /// [`ConfigBuilder::traces_otlp`] / [`ConfigBuilder::metrics_otlp`]. Replaces earlier
    /// generic OTLP overrides.
    pub fn otlp(mut self, overrides: OtlpOverrides) -> Self {
        self.otlp = overrides;
        self
    }

    /// OTLP settings for traces. Beat every OTLP variable and [`ConfigBuilder::otlp`]. An
    /// endpoint set here is used exactly as given.
    pub fn traces_otlp(mut self, overrides: OtlpOverrides) -> Self {
        self.traces_otlp = overrides;
        self
    }

    /// The metric views, in order; they replace a configuration file's `meter_provider.views`.
    /// A view with a problem ([`View::problems`](crate::View::problems)) is reported under
    /// `views[i].<key>` and left out (strict mode: fails). Default: none.
    pub fn views(mut self, views: impl IntoIterator<Item = crate::View>) -> Self {
        self.views = Some(views.into_iter().collect());
        self
    }

    /// Attribute sets kept per instrument before the `otel.metric.overflow=true` series; beat a
    /// configuration file's readers' `cardinality_limits`. Default 2000 for every kind.
    pub fn cardinality_limits(mut self, limits: crate::CardinalityLimits) -> Self {
        self.cardinality_limits = Some(limits);
        self
    }

    /// OTLP settings for metrics. Beat every OTLP variable and [`ConfigBuilder::otlp`]. An
    /// endpoint set here is used exactly as given.
    pub fn metrics_otlp(mut self, overrides: OtlpOverrides) -> Self {
        self.metrics_otlp = overrides;
        self
    }

    /// Log record exporters (empty: none). Beats [`vars::OTEL_LOGS_EXPORTER`].
    pub fn logs_exporter(mut self, exporters: impl IntoIterator<Item = LogsExporter>) -> Self {
        self.logs_exporter = Some(dedup(exporters));
        self
    }

    /// OTLP settings for log records. Beat every OTLP variable and [`ConfigBuilder::otlp`]. An
    /// endpoint set here is used exactly as given.
    pub fn logs_otlp(mut self, overrides: OtlpOverrides) -> Self {
        self.logs_otlp = overrides;
        self
    }

    /// RPC semantic conventions. Beats the `rpc` entries of
    /// [`vars::OTEL_SEMCONV_STABILITY_OPT_IN`].
    pub fn rpc_semconv(mut self, rpc: RpcSemconv) -> Self {
        self.rpc_semconv = Some(rpc);
        self
    }

    /// The NFS metric names. Beats [`vars::FERROTEL_NFS_METRICS`].
    pub fn nfs_metrics(mut self, profile: crate::NfsMetrics) -> Self {
        self.ops.nfs_metrics = Some(profile);
        self
    }

    /// The storage metric names. Beats [`vars::FERROTEL_STORAGE_METRICS`].
    pub fn storage_metrics(mut self, profile: crate::StorageMetrics) -> Self {
        self.ops.storage_metrics = Some(profile);
        self
    }

    /// The prefix of the DittoFS-style metric names, validated like
    /// [`vars::FERROTEL_METRICS_PREFIX`], which it beats.
    pub fn metrics_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.ops.metrics_prefix = Some(prefix.into());
        self
    }

    /// Per-operation sampling rules for root spans, first match wins. Beats
    /// [`vars::FERROTEL_SAMPLING_RULES`]; build them with [`crate::parse_sampling_rules`] or
    /// as [`crate::SamplingRule`] values.
    pub fn sampling_rules(mut self, rules: Vec<crate::SamplingRule>) -> Self {
        self.ops.sampling_rules = Some(rules);
        self
    }

    /// Configures from a declarative configuration file instead of the `OTEL_*` variables:
    /// resolution reads the file's settings, never the other variables of the `env` given to
    /// [`ConfigBuilder::resolve`]. Code settings still win over the file.
    pub fn config_file(mut self, file: ConfigFile) -> Self {
        self.file = Some(file);
        self
    }

    /// Resolves the configuration against `env`.
    ///
    /// Lenient mode returns `Ok` with every problem in [`Resolved::issues`]. Strict mode
    /// returns `Err` listing every [`Severity::Invalid`] issue when there is at least one.
    pub fn resolve(&self, env: &Env) -> Result<Resolved, ConfigError> {
        let (config, issues) = self.resolve_lenient(env);
        if config.strict {
            let invalid: Vec<ConfigIssue> = issues
                .iter()
                .filter(|issue| issue.severity == Severity::Invalid)
                .cloned()
                .collect();
            if !invalid.is_empty() {
                return Err(ConfigError::strict(invalid));
            }
        }
        Ok(Resolved { config, issues })
    }

    /// Resolution proper: always yields a configuration, with every issue found.
    pub(crate) fn resolve_lenient(&self, env: &Env) -> (Config, Vec<ConfigIssue>) {
        let Some(file) = &self.file else {
            return self.resolve_from(env, env, None);
        };
        let (mut config, resolved) = self.resolve_from(file.env(), env, Some(file));
        if self.sampler.is_none() {
            config.sampler = file.sampler(config.sampler);
        }
        config.simple_span_exporters = config
            .traces_exporter
            .iter()
            .copied()
            .filter(|exporter| file.simple_span_exporters().contains(&exporter.as_str()))
            .collect();
        let mut issues = file.issues().to_vec();
        for mut issue in resolved {
            file.rename(&mut issue);
            issues.push(issue);
        }
        // In the file's order (`name:line: key`), then the rest as found.
        let line_of = |issue: &ConfigIssue| {
            issue
                .variable
                .strip_prefix(file.name())
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|rest| rest.split(':').next())
                .and_then(|line| line.parse::<usize>().ok())
        };
        issues.sort_by_key(|issue| line_of(issue).unwrap_or(usize::MAX));
        (config, issues)
    }

    /// Resolution against one environment: the process's, or the one a file stands for.
    /// `detection_env` is the process's: what the resource detectors read.
    fn resolve_from(
        &self,
        env: &Env,
        detection_env: &Env,
        file: Option<&ConfigFile>,
    ) -> (Config, Vec<ConfigIssue>) {
        let mut resolver = Resolver::new(env);
        let r = &mut resolver;
        let strict = r.flag(
            self.strict,
            "strict",
            &[vars::FERROTEL_CONFIG_STRICT],
            false,
        );
        let sdk_disabled = r.flag(
            self.sdk_disabled,
            "sdk_disabled",
            &[vars::OTEL_SDK_DISABLED],
            false,
        );
        let detectors = r.keyword_list(
            self.resource_detectors.clone(),
            "resource_detectors",
            vars::FERROTEL_RESOURCE_DETECTORS,
            &[],
            detect::default_detectors(),
        );
        let (included, excluded) = self
            .resource_detection_attributes
            .clone()
            .or_else(|| file.and_then(|file| file.detection_attributes().cloned()))
            .unwrap_or_default();
        let resource_detection = ResourceDetection {
            detectors,
            included,
            excluded,
            root: self
                .resource_detection_root
                .clone()
                .unwrap_or_else(|| PathBuf::from("/")),
            executable_name: detection_env.executable_name().map(str::to_owned),
            in_kubernetes: detection_env.get(detect::KUBERNETES_SERVICE_HOST).is_some(),
        };
        let (resource, service_name) =
            resource::resolve(r, &self.resource, &resource_detection, detection_env);
        let log_level = r.keyword(
            self.log_level,
            "log_level",
            vars::OTEL_LOG_LEVEL,
            LogLevel::default(),
        );
        let log_format = r.keyword(
            self.log_format,
            "log_format",
            vars::FERROTEL_LOG_FORMAT,
            LogFormat::default(),
        );
        let propagators = r.keyword_list(
            self.propagators.clone(),
            "propagators",
            vars::OTEL_PROPAGATORS,
            UNSUPPORTED_PROPAGATORS,
            default_propagators(),
        );
        let sampler = sampler::resolve(r, self.sampler.clone());
        let traces_exporter = r.keyword_list(
            self.traces_exporter.clone(),
            "traces_exporter",
            vars::OTEL_TRACES_EXPORTER,
            UNSUPPORTED_TRACES_EXPORTERS,
            vec![TracesExporter::Otlp],
        );
        let metrics_exporter = r.keyword_list(
            self.metrics_exporter.clone(),
            "metrics_exporter",
            vars::OTEL_METRICS_EXPORTER,
            UNSUPPORTED_METRICS_EXPORTERS,
            vec![MetricsExporter::Otlp],
        );
        let logs_exporter = r.keyword_list(
            self.logs_exporter.clone(),
            "logs_exporter",
            vars::OTEL_LOGS_EXPORTER,
            UNSUPPORTED_LOGS_EXPORTERS,
            vec![LogsExporter::Otlp],
        );
        let batch = batch::resolve(r, &self.batch);
        let logs_batch = batch::resolve_logs(r);
        let limits = limits::resolve(r, &self.limits);
        let metrics = metrics::resolve(r, &self.metrics);
        let traces_otlp = otlp::resolve(r, Signal::Traces, &self.otlp, &self.traces_otlp);
        let metrics_otlp = otlp::resolve(r, Signal::Metrics, &self.otlp, &self.metrics_otlp);
        let logs_otlp = otlp::resolve(r, Signal::Logs, &self.otlp, &self.logs_otlp);
        let rpc = r
            .resolve(
                [
                    Candidate::code("rpc_semconv", self.rpc_semconv),
                    Candidate::env(env, vars::OTEL_SEMCONV_STABILITY_OPT_IN),
                ],
                "a comma list of opt-ins such as rpc or rpc/dup",
                RpcSemconv::default(),
                RpcSemconv::to_string,
                |_, text| Ok(semconv::parse_opt_in(text)),
            )
            .value;
        // Other domains' entries are not ferrotel's to judge, but garbage is nobody's.
        if let (None, Some(text)) = (
            self.rpc_semconv,
            env.get(vars::OTEL_SEMCONV_STABILITY_OPT_IN),
        ) {
            let malformed = semconv::malformed(text);
            if !malformed.is_empty() {
                r.report(ConfigIssue {
                    variable: vars::OTEL_SEMCONV_STABILITY_OPT_IN.to_owned(),
                    value: text.to_owned(),
                    allowed: "a comma list of opt-ins, each a domain such as rpc or http, \
                              optionally followed by /dup"
                        .to_owned(),
                    fallback: "the well-formed entries".to_owned(),
                    severity: Severity::Advice,
                    reason: Some(format!("not an opt-in: {}", malformed.join(", "))),
                });
            }
        }
        let ops = crate::ops::resolve(r, &self.ops);
        let process_metrics = r.flag(
            self.process_metrics,
            "process_metrics",
            &[vars::FERROTEL_PROCESS_METRICS],
            true,
        );
        let (views, cardinality_limits) = self.resolve_views(r, file);
        let file = file.map(ConfigFile::name);
        let config_file = file.map(str::to_owned);
        if let (None, Some(path)) = (file, env.get(vars::OTEL_CONFIG_FILE)) {
            // Resolution is pure: the file is read by the caller (ferrotel::init does).
            r.report(ConfigIssue {
                variable: vars::OTEL_CONFIG_FILE.to_owned(),
                value: path.to_owned(),
                allowed: "a file given with ConfigBuilder::config_file".to_owned(),
                fallback: "the OTEL_* variables".to_owned(),
                severity: Severity::Invalid,
                reason: Some(
                    "the file was not read: parse it with ConfigFile::parse and pass it to \
                     ConfigBuilder::config_file (ferrotel::init does both)"
                        .to_owned(),
                ),
            });
        }

        let config = Config {
            strict,
            sdk_disabled,
            resource,
            service_name,
            resource_detection,
            log_level,
            log_format,
            propagators,
            sampler,
            traces_exporter,
            metrics_exporter,
            logs_exporter,
            batch,
            simple_span_exporters: Vec::new(),
            logs_batch,
            limits,
            metrics,
            views,
            cardinality_limits,
            traces_otlp,
            metrics_otlp,
            logs_otlp,
            semconv_opt_in: SemconvStability { rpc },
            ops,
            process_metrics,
            config_file,
        };
        (config, resolver.into_issues())
    }
}

impl ConfigBuilder {
    /// The views and cardinality limits: code's (checked here) or the file's (checked while
    /// the file was read).
    fn resolve_views(
        &self,
        r: &mut Resolver<'_>,
        file: Option<&ConfigFile>,
    ) -> (Vec<crate::View>, crate::CardinalityLimits) {
        let views = match &self.views {
            Some(views) => {
                let mut usable = Vec::new();
                for (index, view) in views.iter().enumerate() {
                    let problems = view.problems();
                    if problems.is_empty() {
                        usable.push(view.clone());
                    }
                    for problem in problems {
                        r.report(ConfigIssue {
                            variable: format!("views[{index}].{}", problem.key),
                            value: problem.value,
                            allowed: problem.allowed,
                            fallback: "the other views, without this one".to_owned(),
                            severity: Severity::Invalid,
                            reason: None,
                        });
                    }
                }
                usable
            }
            None => file.map(|f| f.views().to_vec()).unwrap_or_default(),
        };
        let limits = match self.cardinality_limits {
            Some(limits) => {
                let problems = limits.problems();
                for problem in &problems {
                    r.report(ConfigIssue {
                        variable: format!("cardinality_limits.{}", problem.key),
                        value: problem.value.clone(),
                        allowed: problem.allowed.clone(),
                        fallback: format!("{}", crate::DEFAULT_CARDINALITY_LIMIT),
                        severity: Severity::Invalid,
                        reason: None,
                    });
                }
                if problems.is_empty() {
                    limits
                } else {
                    crate::CardinalityLimits::default()
                }
            }
            None => file.map(|f| f.cardinality_limits()).unwrap_or_default(),
        };
        (views, limits)
    }
}
