//! Declarative configuration: the YAML file named by
//! [`OTEL_CONFIG_FILE`](crate::vars::OTEL_CONFIG_FILE), `file_format: "1.1"`
//! (opentelemetry-configuration 1.1).
//!
//! See [`ConfigFile`] for an example.
//!
//! # How a file becomes a [`Config`](crate::Config)
//!
//! [`ConfigFile::parse`] is pure: it takes the file's contents and the environment (for
//! `${VAR}` substitution only) and does no I/O; the facade reads the file. Parsing applies
//! substitution to scalar values ([`substitute`]), types plain scalars with the YAML 1.2 core
//! schema afterwards ([`yaml`]), then reads each section and translates it into the
//! `OTEL_*` variables it stands for (`tracer_provider.processors[0].batch.schedule_delay`
//! → `OTEL_BSP_SCHEDULE_DELAY`, an `otlp_grpc` exporter → `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc`
//! and its per-signal endpoint, …). Resolution then runs on those variables *instead of* the
//! process environment, so every value goes through the same checks, defaults and single
//! precedence function as a variable, and the other `OTEL_*` variables are ignored as the
//! specification requires (ferrotel's own `FERROTEL_*` variables still apply). Every issue is
//! renamed back to the place it came from: `otel.yaml:12: tracer_provider.…schedule_delay`.
//! The three things no variable can say, `simple` span processors, `parent_based` delegates
//! other than the defaults and the resource detectors' attribute filters, are kept aside and
//! applied to the resolved configuration
//! ([`Config::simple_span_exporters`](crate::Config::simple_span_exporters),
//! [`Sampler::ParentBasedWith`](crate::Sampler::ParentBasedWith),
//! [`ResourceDetection`](crate::ResourceDetection)). A file's
//! `resource.detection/development.detectors` becomes `FERROTEL_RESOURCE_DETECTORS` (`none`
//! when the file lists none: only the listed detectors run).
//!
//! A file that cannot be read as configuration (bad YAML, an invalid `${…}` reference, a
//! missing or foreign `file_format`) is an error with the file and the line; bad values and
//! keys ferrotel does not support are [issues](crate::ConfigIssue) (warnings, or errors in
//! strict mode) that name the file, the line and the key.
//!
//! The `logger_provider` section becomes the logs signal's variables (`OTEL_LOGS_EXPORTER`,
//! `OTEL_BLRP_*`, `OTEL_EXPORTER_OTLP_LOGS_*`, `OTEL_LOGRECORD_*`), kept apart in
//! [`LoggerProviderSection`] for the logs pipeline.

mod exporter;
mod providers;
mod sampler;
mod sections;
mod substitute;
mod views;
mod walk;
mod yaml;

use std::fmt;

use crate::env::Env;
use crate::issue::{ConfigError, ConfigIssue, Severity};
use crate::sampler::{ParentBasedSamplers, Sampler};
use crate::vars;
use walk::{Section, Walk};
use yaml::Substituted;

/// A parsed declarative configuration file, ready for
/// [`ConfigBuilder::config_file`](crate::ConfigBuilder::config_file).
///
/// ```
/// use ferrotel_config::{Config, ConfigFile, Env, Protocol, Sampler};
///
/// let yaml = r#"
/// file_format: "1.1"
/// resource:
///   attributes:
///     - name: service.name
///       value: ${SERVICE:-checkout}
/// propagator:
///   composite: [{tracecontext: }, {baggage: }]
/// tracer_provider:
///   processors:
///     - batch:
///         schedule_delay: 200
///         exporter:
///           otlp_grpc:
///             endpoint: http://collector:4317
///   sampler:
///     parent_based:
///       root:
///         trace_id_ratio_based: { ratio: 0.25 }
/// "#;
/// // The file replaces the OTEL_* variables: OTEL_SERVICE_NAME is ignored here.
/// let env = Env::from_pairs([("OTEL_SERVICE_NAME", "ignored")]);
/// let file = ConfigFile::parse("otel.yaml", yaml, &env)?;
/// let config = Config::builder().config_file(file).resolve(&env)?.config;
///
/// assert_eq!(config.service_name, "checkout");
/// assert_eq!(config.traces_otlp.protocol, Protocol::Grpc);
/// assert_eq!(config.traces_otlp.endpoint, "http://collector:4317");
/// assert_eq!(config.sampler, Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(0.25))));
/// assert!(config.metrics_exporter.is_empty()); // no meter_provider: no metric exporter
/// # Ok::<(), ferrotel_config::ConfigError>(())
/// ```
///
/// Its `Debug` output names the file and the variables it sets, never their values (header
/// values are secrets).
#[derive(Clone, PartialEq)]
pub struct ConfigFile {
    name: String,
    /// The variables the file stands for, plus the `FERROTEL_*` ones of the real environment.
    env: Env,
    /// Variable → `file:line: key` it came from.
    places: Vec<(&'static str, String)>,
    issues: Vec<ConfigIssue>,
    logger_provider: Option<LoggerProviderSection>,
    /// The span exporters (`otlp`, `console`) behind a `simple` processor.
    simple_span_exporters: Vec<&'static str>,
    /// Non-default `parent_based` delegates (see [`Walk::parent_delegates`]).
    parent_delegates: Option<[Sampler; 4]>,
    /// `meter_provider.views` without problems.
    views: Vec<crate::views::View>,
    /// The readers' `cardinality_limits`, the tightest per kind.
    cardinality_limits: crate::views::CardinalityLimits,
    /// The scalars that hold variables' values, which messages must not print.
    substituted: Vec<Substituted>,
    /// `resource.detection/development.attributes`: included and excluded key patterns.
    detection_attributes: Option<(Vec<String>, Vec<String>)>,
}

/// The `logger_provider` section, as the variables of the logs signal it stands for
/// (`OTEL_LOGS_EXPORTER`, `OTEL_BLRP_*`, `OTEL_EXPORTER_OTLP_LOGS_*`,
/// `OTEL_LOGRECORD_ATTRIBUTE_*_LIMIT`), so that the logs pipeline resolves it with the same
/// rules as its variables. They are also part of the file's environment.
#[derive(Clone, PartialEq, Eq)]
pub struct LoggerProviderSection {
    variables: Vec<(String, String)>,
}

impl LoggerProviderSection {
    /// The variables, in the order the file set them. Header values are included: keep them
    /// out of logs.
    pub fn variables(&self) -> &[(String, String)] {
        &self.variables
    }
}

impl fmt::Debug for LoggerProviderSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .variables
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("LoggerProviderSection")
            .field("variables", &names)
            .finish()
    }
}

impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.places.iter().map(|(var, _)| *var).collect();
        f.debug_struct("ConfigFile")
            .field("name", &self.name)
            .field("variables", &names)
            .field("issues", &self.issues.len())
            .field("logger_provider", &self.logger_provider)
            .finish()
    }
}

impl ConfigFile {
    /// The largest file ferrotel reads: a configuration is a few kilobytes.
    pub const MAX_BYTES: usize = 4 << 20;

    /// [`ConfigFile::parse`] for the file's raw bytes, as read: refuses more than
    /// [`ConfigFile::MAX_BYTES`] and text that is not UTF-8, naming the file and the line.
    pub fn from_bytes(
        name: impl Into<String>,
        contents: &[u8],
        env: &Env,
    ) -> Result<Self, ConfigError> {
        let name = name.into();
        let line_at = |end: usize| {
            contents
                .get(..end)
                .map_or(1, |head| 1 + head.iter().filter(|b| **b == b'\n').count())
        };
        if contents.len() > Self::MAX_BYTES {
            return Err(ConfigError::file(
                &name,
                line_at(Self::MAX_BYTES),
                too_large(),
            ));
        }
        match std::str::from_utf8(contents) {
            Ok(text) => Self::parse(name, text, env),
            Err(err) => Err(ConfigError::file(
                &name,
                line_at(err.valid_up_to()),
                format!(
                    "not UTF-8 text: an invalid byte at offset {}",
                    err.valid_up_to()
                ),
            )),
        }
    }

    /// Parses the contents of the file called `name` (used in messages; normally the value of
    /// `OTEL_CONFIG_FILE`), substituting `${VAR}` references from `env`.
    ///
    /// Fails, naming the file and the line, when the text is longer than
    /// [`ConfigFile::MAX_BYTES`], is not YAML, expands (aliases and substitutions) to more
    /// than four times that, holds an invalid substitution reference, or lacks a `file_format`
    /// of major version 1. Everything else (bad values, unsupported keys) is kept as issues for
    /// resolution to report. A value that came from a variable is never printed: its issue
    /// names the field and the variable.
    pub fn parse(name: impl Into<String>, contents: &str, env: &Env) -> Result<Self, ConfigError> {
        let name = name.into();
        if contents.len() > Self::MAX_BYTES {
            let line = 1 + contents
                .as_bytes()
                .iter()
                .take(Self::MAX_BYTES)
                .filter(|b| **b == b'\n')
                .count();
            return Err(ConfigError::file(&name, line, too_large()));
        }
        let mut expansion = yaml::Expansion::default();
        let root = yaml::parse(contents, env, &mut expansion)
            .map_err(|err| ConfigError::file(&name, err.line, err.message))?;
        let referenced = expansion.referenced;
        let yaml::Value::Map(entries) = &root.value else {
            return Err(ConfigError::file(
                &name,
                root.line,
                "the file must be a YAML mapping that starts with file_format".to_owned(),
            ));
        };
        let mut walk = Walk::new(&name);
        let mut top = Section::root(entries);
        sections::file_format(&mut walk, &mut top)
            .map_err(|(line, message)| ConfigError::file(&name, line, message))?;
        sections::general(&mut walk, &mut top);
        sections::attribute_limits(&mut walk, &mut top);
        let detection = sections::resource(&mut walk, &mut top);
        sections::propagator(&mut walk, &mut top);
        providers::tracer(&mut walk, &mut top);
        providers::meter(&mut walk, &mut top);
        providers::logger(&mut walk, &mut top);
        sections::instrumentation(&mut walk, &mut top);
        walk.finish(
            top,
            &[
                "file_format",
                "disabled",
                "log_level",
                "attribute_limits",
                "resource",
                "propagator",
                "tracer_provider",
                "meter_provider",
                "logger_provider",
                "instrumentation/development",
            ],
            &["distribution"],
        );

        let mut issues = walk.issues;
        for issue in &mut issues {
            hide_substituted(&expansion.substituted, &name, issue);
        }
        if !name.ends_with(".yaml") && !name.ends_with(".yml") {
            issues.insert(
                0,
                ConfigIssue {
                    variable: vars::OTEL_CONFIG_FILE.to_owned(),
                    value: name.clone(),
                    allowed: "a file name ending in .yaml or .yml".to_owned(),
                    fallback: "the file as YAML".to_owned(),
                    severity: Severity::Advice,
                    reason: Some(
                        "the specification requires the .yaml or .yml extension".to_owned(),
                    ),
                },
            );
        }
        let ignored: Vec<&str> = env
            .names()
            .filter(|var| var.starts_with("OTEL_") && *var != vars::OTEL_CONFIG_FILE)
            .filter(|var| !referenced.iter().any(|used| used == var))
            .filter(|var| {
                !detection
                    .detectors
                    .iter()
                    .any(|d| d.variables().contains(var))
            })
            .filter(|var| env.get(var).is_some())
            .collect();
        if !ignored.is_empty() {
            // Names only: the values may be secrets (OTEL_EXPORTER_OTLP_HEADERS).
            issues.push(ConfigIssue {
                variable: ignored.join(", "),
                value: String::new(),
                allowed: String::new(),
                fallback: String::new(),
                severity: Severity::Advice,
                reason: Some(format!(
                    "ignored, because {} names a configuration file ({name}); the file can \
                     use a variable by referencing it as ${{NAME}}",
                    vars::OTEL_CONFIG_FILE
                )),
            });
        }

        let simple_span_exporters = std::mem::take(&mut walk.simple_span_exporters);
        let parent_delegates = walk.parent_delegates.take();
        let views = std::mem::take(&mut walk.views);
        let cardinality_limits = walk.cardinality_limits.take().unwrap_or_default();
        let settings = walk.settings;
        let own: Vec<(String, String)> = env
            .names()
            .filter(|var| var.starts_with("FERROTEL_"))
            .filter(|var| !settings.iter().any(|setting| setting.var == *var))
            .filter_map(|var| Some((var.to_owned(), env.raw(var)?.to_owned())))
            .collect();
        let logs: Vec<(String, String)> = settings
            .iter()
            .filter(|setting| providers::is_logs_var(setting.var))
            .map(|setting| (setting.var.to_owned(), setting.value.clone()))
            .collect();
        let logger_provider = entries
            .iter()
            .any(|entry| entry.key == "logger_provider")
            .then_some(LoggerProviderSection { variables: logs });
        let file_env = env.derived(
            own.into_iter().chain(
                settings
                    .iter()
                    .map(|setting| (setting.var.to_owned(), setting.value.clone())),
            ),
        );
        Ok(Self {
            name,
            env: file_env,
            places: settings
                .into_iter()
                .map(|setting| (setting.var, setting.place))
                .collect(),
            issues,
            logger_provider,
            simple_span_exporters,
            parent_delegates,
            views,
            cardinality_limits,
            substituted: expansion.substituted,
            detection_attributes: detection.attributes,
        })
    }

    /// The file's name, as given to [`ConfigFile::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `logger_provider` section, when the file has one.
    pub fn logger_provider(&self) -> Option<&LoggerProviderSection> {
        self.logger_provider.as_ref()
    }

    /// The sampler the file asks for once `resolved` (its `OTEL_TRACES_SAMPLER` form) is
    /// known: `resolved` itself, or a parent-based sampler with the file's own delegates.
    pub(crate) fn sampler(&self, resolved: Sampler) -> Sampler {
        let Some([remote_sampled, remote_not_sampled, local_sampled, local_not_sampled]) =
            self.parent_delegates.clone()
        else {
            return resolved;
        };
        let root = match resolved {
            Sampler::ParentBased(root) => *root,
            Sampler::JaegerRemote {
                endpoint,
                polling_interval,
                initial_sampling_rate,
                parent_based: true,
            } => Sampler::JaegerRemote {
                endpoint,
                polling_interval,
                initial_sampling_rate,
                parent_based: false,
            },
            other => return other,
        };
        Sampler::ParentBasedWith(Box::new(ParentBasedSamplers {
            root,
            remote_parent_sampled: remote_sampled,
            remote_parent_not_sampled: remote_not_sampled,
            local_parent_sampled: local_sampled,
            local_parent_not_sampled: local_not_sampled,
        }))
    }

    /// The file's metric views (`meter_provider.views`), those without problems.
    pub(crate) fn views(&self) -> &[crate::views::View] {
        &self.views
    }

    /// The readers' `cardinality_limits`, the tightest per kind (default 2000).
    pub(crate) fn cardinality_limits(&self) -> crate::views::CardinalityLimits {
        self.cardinality_limits
    }

    /// The detected attributes the file keeps: included and excluded key patterns.
    pub(crate) fn detection_attributes(&self) -> Option<&(Vec<String>, Vec<String>)> {
        self.detection_attributes.as_ref()
    }

    /// The span exporters the file puts behind a `simple` processor.
    pub(crate) fn simple_span_exporters(&self) -> &[&'static str] {
        &self.simple_span_exporters
    }

    /// The environment resolution reads instead of the process environment.
    pub(crate) fn env(&self) -> &Env {
        &self.env
    }

    /// The problems found in the file itself.
    pub(crate) fn issues(&self) -> &[ConfigIssue] {
        &self.issues
    }

    /// Renames the variables in issues found while resolving the file's variables to the
    /// places in the file they came from.
    pub(crate) fn rename(&self, issue: &mut ConfigIssue) {
        let place_of = |var: &str| {
            self.places
                .iter()
                .find(|(known, _)| *known == var)
                .map(|(_, place)| place.clone())
        };
        if let Some(place) = place_of(&issue.variable) {
            issue.variable = place;
        }
        hide_substituted(&self.substituted, &self.name, issue);
        // Fallbacks and reasons may name other variables of the file ("128 from …").
        let mut longest_first: Vec<&(&'static str, String)> = self.places.iter().collect();
        longest_first.sort_by_key(|(var, _)| std::cmp::Reverse(var.len()));
        for (var, place) in longest_first {
            let key = place
                .split_once(": ")
                .map_or(place.as_str(), |(_, key)| key);
            if issue.fallback.contains(var) {
                issue.fallback = issue.fallback.replace(var, key);
            }
            if let Some(reason) = &mut issue.reason {
                if reason.contains(var) {
                    *reason = reason.replace(var, key);
                }
            }
        }
    }
}

/// The message for a file over [`ConfigFile::MAX_BYTES`].
fn too_large() -> String {
    format!(
        "the file is larger than {}, the most ferrotel reads",
        substitute::human_bytes(ConfigFile::MAX_BYTES)
    )
}

/// Replaces the value of an issue about a value that came from variables by the names of the
/// variables: the value may be a secret. Scalars on the issue's line are matched first.
fn hide_substituted(substituted: &[Substituted], file: &str, issue: &mut ConfigIssue) {
    let value = issue.value.trim();
    if value.is_empty() {
        return;
    }
    let line = issue
        .variable
        .strip_prefix(file)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| rest.split(':').next())
        .and_then(|line| line.parse::<usize>().ok());
    let holds = |scalar: &&Substituted| {
        let text = scalar.text.trim();
        !text.is_empty()
            && (text == value
                || (text.len() >= crate::redact::MIN_SCRUBBED_LEN && value.contains(text)))
    };
    let Some(found) = substituted
        .iter()
        .filter(holds)
        .find(|scalar| Some(scalar.line) == line)
        .or_else(|| substituted.iter().find(holds))
    else {
        return;
    };
    let names: Vec<String> = found.vars.iter().map(|var| format!("${{{var}}}")).collect();
    let names = names.join(", ");
    issue.value.clear();
    let text = found.text.trim();
    if text.len() >= crate::redact::MIN_SCRUBBED_LEN {
        for field in [&mut issue.allowed, &mut issue.fallback]
            .into_iter()
            .chain(issue.reason.as_mut())
        {
            if field.contains(text) {
                *field = field.replace(text, &names);
            }
        }
    }
    let origin = format!("the value comes from {names} and is not shown");
    issue.reason = Some(match issue.reason.take() {
        Some(reason) => format!("{origin}; {reason}"),
        None => origin,
    });
}
