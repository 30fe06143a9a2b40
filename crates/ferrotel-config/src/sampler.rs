//! The trace sampler, from [`OTEL_TRACES_SAMPLER`](crate::vars::OTEL_TRACES_SAMPLER) and
//! [`OTEL_TRACES_SAMPLER_ARG`](crate::vars::OTEL_TRACES_SAMPLER_ARG).
//!
//! Jaeger remote sampling defaults: the specification names the argument keys but no default
//! values. ferrotel uses `endpoint=http://localhost:5778/sampling` (the Jaeger agent's HTTP
//! sampling endpoint, also the default of opentelemetry_sdk 0.33 and of the Go contrib sampler),
//! `pollingIntervalMs=60000` (Go and Java; opentelemetry_sdk's own default is 5 minutes) and
//! `initialSamplingRate=0.001` (Go and Java).

use std::fmt;
use std::time::Duration;

use crate::endpoint;
use crate::issue::{ConfigIssue, Severity};
use crate::parse::{self, keyword_enum};
use crate::precedence::{Candidate, Rejection, Resolver};
use crate::vars::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};

/// Default Jaeger remote sampling endpoint.
pub const DEFAULT_JAEGER_REMOTE_ENDPOINT: &str = "http://localhost:5778/sampling";
/// Default Jaeger remote polling interval (60 s).
pub const DEFAULT_JAEGER_REMOTE_POLLING_INTERVAL: Duration = Duration::from_millis(60_000);
/// Default Jaeger remote initial sampling rate.
pub const DEFAULT_JAEGER_REMOTE_INITIAL_SAMPLING_RATE: f64 = 0.001;

/// Which spans are recorded and exported.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// `always_on`: every span.
    AlwaysOn,
    /// `always_off`: no span.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, in `[0, 1]`, decided from the trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`: follow the
    /// parent's decision; use the inner sampler for root spans.
    ParentBased(Box<Sampler>),
    /// A parent-based sampler with a sampler of its own for each kind of parent, where
    /// [`Sampler::ParentBased`] follows the parent's decision. Only a configuration file's
    /// `parent_based` sampler with other than the default delegates makes one.
    ParentBasedWith(Box<ParentBasedSamplers>),
    /// `jaeger_remote` and `parentbased_jaeger_remote`: strategies polled from a Jaeger remote
    /// sampling endpoint (`OTEL_TRACES_SAMPLER_ARG`
    /// `endpoint=…,pollingIntervalMs=…,initialSamplingRate=…`).
    JaegerRemote {
        /// Where sampling strategies are fetched. Default [`DEFAULT_JAEGER_REMOTE_ENDPOINT`].
        endpoint: String,
        /// How often strategies are fetched. Default
        /// [`DEFAULT_JAEGER_REMOTE_POLLING_INTERVAL`].
        polling_interval: Duration,
        /// Ratio used until the first strategy arrives. Default
        /// [`DEFAULT_JAEGER_REMOTE_INITIAL_SAMPLING_RATE`].
        initial_sampling_rate: f64,
        /// `true` for `parentbased_jaeger_remote`: follow the parent's decision and use the
        /// remote strategy for root spans only.
        parent_based: bool,
    },
}

/// The samplers of [`Sampler::ParentBasedWith`], one per kind of parent.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentBasedSamplers {
    /// For spans without a (valid) parent.
    pub root: Sampler,
    /// For children of a sampled remote parent (the default is `always_on`).
    pub remote_parent_sampled: Sampler,
    /// For children of an unsampled remote parent (the default is `always_off`).
    pub remote_parent_not_sampled: Sampler,
    /// For children of a sampled local parent (the default is `always_on`).
    pub local_parent_sampled: Sampler,
    /// For children of an unsampled local parent (the default is `always_off`).
    pub local_parent_not_sampled: Sampler,
}

impl Sampler {
    /// `jaeger_remote` (or `parentbased_jaeger_remote`) with the default endpoint, polling
    /// interval and initial sampling rate.
    pub fn jaeger_remote_default(parent_based: bool) -> Self {
        Sampler::JaegerRemote {
            endpoint: DEFAULT_JAEGER_REMOTE_ENDPOINT.to_owned(),
            polling_interval: DEFAULT_JAEGER_REMOTE_POLLING_INTERVAL,
            initial_sampling_rate: DEFAULT_JAEGER_REMOTE_INITIAL_SAMPLING_RATE,
            parent_based,
        }
    }
}

impl Default for Sampler {
    /// `parentbased_always_on`.
    fn default() -> Self {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::AlwaysOn => f.write_str("always_on"),
            Sampler::AlwaysOff => f.write_str("always_off"),
            Sampler::TraceIdRatio(ratio) => write!(f, "traceidratio (ratio {ratio})"),
            Sampler::ParentBased(root) => write!(f, "parentbased_{root}"),
            Sampler::ParentBasedWith(samplers) => write!(
                f,
                "parent_based (root {}; remote parent sampled {}, not sampled {}; local parent \
                 sampled {}, not sampled {})",
                samplers.root,
                samplers.remote_parent_sampled,
                samplers.remote_parent_not_sampled,
                samplers.local_parent_sampled,
                samplers.local_parent_not_sampled,
            ),
            Sampler::JaegerRemote {
                endpoint,
                polling_interval,
                initial_sampling_rate,
                parent_based,
            } => write!(
                f,
                "{}jaeger_remote (endpoint {endpoint}, polling interval {} ms, initial sampling \
                 rate {initial_sampling_rate})",
                if *parent_based { "parentbased_" } else { "" },
                polling_interval.as_millis(),
            ),
        }
    }
}

keyword_enum! {
    /// The sampler names of `OTEL_TRACES_SAMPLER`.
    pub(crate) enum SamplerName {
        AlwaysOn => "always_on",
        AlwaysOff => "always_off",
        TraceIdRatio => "traceidratio",
        #[default]
        ParentBasedAlwaysOn => "parentbased_always_on",
        ParentBasedAlwaysOff => "parentbased_always_off",
        ParentBasedTraceIdRatio => "parentbased_traceidratio",
        ParentBasedJaegerRemote => "parentbased_jaeger_remote",
        JaegerRemote => "jaeger_remote",
    }
}

/// What the first precedence step picked: a sampler from code, or a name to complete with
/// the argument.
#[derive(Debug, Clone)]
enum Pick {
    Code(Sampler),
    Name(SamplerName),
}

/// Resolves the sampler: code > `OTEL_TRACES_SAMPLER` (+ `_ARG`) > `parentbased_always_on`.
/// The argument is read only when the named sampler takes one.
pub(crate) fn resolve(resolver: &mut Resolver<'_>, code: Option<Sampler>) -> Sampler {
    let env = resolver.env();
    let candidates = [
        Candidate::code("sampler", code.map(Pick::Code)),
        Candidate::env(env, OTEL_TRACES_SAMPLER),
    ];
    let show = |pick: &Pick| match pick {
        Pick::Code(sampler) => sampler.to_string(),
        Pick::Name(name) => name.to_string(),
    };
    let pick = resolver.resolve(
        candidates,
        &parse::keywords::<SamplerName>(),
        Pick::Name(SamplerName::default()),
        show,
        |_, text| parse::keyword(text).map(Pick::Name),
    );
    let name = match pick.value {
        Pick::Code(sampler) => return sampler,
        Pick::Name(name) => name,
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    match name {
        SamplerName::AlwaysOn => Sampler::AlwaysOn,
        SamplerName::AlwaysOff => Sampler::AlwaysOff,
        SamplerName::TraceIdRatio => Sampler::TraceIdRatio(ratio_arg(resolver)),
        SamplerName::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
        SamplerName::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
        SamplerName::ParentBasedTraceIdRatio => {
            parent_based(Sampler::TraceIdRatio(ratio_arg(resolver)))
        }
        SamplerName::ParentBasedJaegerRemote => jaeger_arg(resolver, true),
        SamplerName::JaegerRemote => jaeger_arg(resolver, false),
    }
}

/// The ratio argument, default `1.0`.
fn ratio_arg(resolver: &mut Resolver<'_>) -> f64 {
    let candidates = [Candidate::env(resolver.env(), OTEL_TRACES_SAMPLER_ARG)];
    resolver
        .resolve(
            candidates,
            parse::RATIO_ALLOWED,
            1.0,
            f64::to_string,
            |_, text| parse::ratio(text),
        )
        .value
}

const JAEGER_ARG_ALLOWED: &str =
    "endpoint=<http(s) URL>,pollingIntervalMs=<milliseconds>,initialSamplingRate=<0 to 1>";

/// The Jaeger remote argument. Keys are matched case-insensitively; each invalid key falls
/// back to its own default and is reported; unknown keys are reported and ignored.
fn jaeger_arg(resolver: &mut Resolver<'_>, parent_based: bool) -> Sampler {
    let mut endpoint_text = None;
    let mut interval_text = None;
    let mut rate_text = None;
    if let Some(arg) = resolver.env().get(OTEL_TRACES_SAMPLER_ARG) {
        for member in arg.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let (key, value) = member.split_once('=').unwrap_or(("", member));
            let key = key.trim();
            let slot = if key.eq_ignore_ascii_case("endpoint") {
                &mut endpoint_text
            } else if key.eq_ignore_ascii_case("pollingIntervalMs") {
                &mut interval_text
            } else if key.eq_ignore_ascii_case("initialSamplingRate") {
                &mut rate_text
            } else {
                resolver.report(ConfigIssue {
                    variable: OTEL_TRACES_SAMPLER_ARG.to_owned(),
                    value: arg.to_owned(),
                    allowed: JAEGER_ARG_ALLOWED.to_owned(),
                    fallback: "the other keys".to_owned(),
                    severity: Severity::Invalid,
                    reason: Some(format!("the member {member:?} is not a known key=value")),
                });
                continue;
            };
            *slot = Some(value);
        }
    }
    let endpoint = resolver.resolve(
        [Candidate::env_text(OTEL_TRACES_SAMPLER_ARG, endpoint_text)],
        "endpoint=<an http:// or https:// URL with a host>",
        DEFAULT_JAEGER_REMOTE_ENDPOINT.to_owned(),
        |url: &String| format!("endpoint={url}"),
        |_, text| {
            endpoint::check(text).map(|_| text.to_owned()).map_err(|r| {
                Rejection::because(format!(
                    "endpoint: {}",
                    r.reason.unwrap_or_else(|| "not a URL".to_owned())
                ))
            })
        },
    );
    let polling_interval = resolver.resolve(
        [Candidate::env_text(OTEL_TRACES_SAMPLER_ARG, interval_text)],
        "pollingIntervalMs=<a non-negative integer (milliseconds)>",
        DEFAULT_JAEGER_REMOTE_POLLING_INTERVAL,
        |d: &Duration| format!("pollingIntervalMs={}", d.as_millis()),
        |_, text| {
            parse::millis(text).map_err(|_| {
                Rejection::because("pollingIntervalMs is not a number of milliseconds")
            })
        },
    );
    let initial_sampling_rate = resolver.resolve(
        [Candidate::env_text(OTEL_TRACES_SAMPLER_ARG, rate_text)],
        "initialSamplingRate=<a number from 0 to 1>",
        DEFAULT_JAEGER_REMOTE_INITIAL_SAMPLING_RATE,
        |rate: &f64| format!("initialSamplingRate={rate}"),
        |_, text| {
            parse::ratio(text)
                .map_err(|_| Rejection::because("initialSamplingRate is not a number from 0 to 1"))
        },
    );
    Sampler::JaegerRemote {
        endpoint: endpoint.value,
        polling_interval: polling_interval.value,
        initial_sampling_rate: initial_sampling_rate.value,
        parent_based,
    }
}
