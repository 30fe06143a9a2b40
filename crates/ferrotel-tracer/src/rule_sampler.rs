//! Per-operation sampling rules for root spans (`FERROTEL_SAMPLING_RULES`).

use std::sync::Arc;

use ferrotel_config::SamplingRule;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// A compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    glob: Box<[u8]>,
    attribute: Option<(String, String)>,
    /// The ratio as the upper bound of the trace-id test.
    bound: u64,
    ratio: f64,
}

impl Rule {
    fn matches(&self, name: &str, attributes: &[KeyValue]) -> bool {
        if !ferrotel_config::glob::matches(&self.glob, name.as_bytes()) {
            return false;
        }
        match &self.attribute {
            None => true,
            Some((key, value)) => attributes
                .iter()
                .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value.as_str()),
        }
    }
}

/// The specification's trace-id ratio test: the low 63 bits of the trace id's last 8 bytes
/// against `ratio * 2^63`.
fn ratio_bound(ratio: f64) -> u64 {
    (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64
}

fn keeps(bound: u64, ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

/// Root spans that start no trace unless a rule names them exactly: a Raft leader's empty
/// AppendEntries (`raft.heartbeat`) runs several times a second per follower and would
/// outnumber every other trace. Still counted in the metrics; `raft.heartbeat=0.001` in
/// `FERROTEL_SAMPLING_RULES` brings a fraction back.
pub const QUIET_ROOTS: &[&str] = &["raft.heartbeat"];

/// A sampler that applies the first matching rule to root spans and the configured sampler
/// to everything else.
///
/// A rule is a span-name glob, optionally with an attribute match, and a ratio:
/// `nfs.READ=0.01,nfs.GETATTR=0.001,raft.*=0.1,nfs.*[nfs.share=scratch]=0.5,*=1`. The first
/// rule that matches a root span decides it, by the same trace-id ratio test as the
/// specification's `TraceIdRatioBased` sampler, so every process that applies the same rule to
/// the same trace agrees.
///
/// Rules decide root spans only. A span with a parent goes to the configured sampler, which
/// under the default `parentbased_*` samplers follows the parent, so a trace is never cut in
/// half. A root that no rule matches goes to the configured sampler too: the rules compose with
/// `OTEL_TRACES_SAMPLER` by taking its place exactly where it would decide a root.
///
/// The attributes a rule sees are the ones given at span creation; ferrotel-ops' instruments
/// put their sampling-relevant attributes there (`onc_rpc.procedure.name`, `nfs.share`,
/// `storage.backend`, `storage.operation`, …). The [crate docs](crate) show a rule sampler
/// under a [`Presampler`](crate::Presampler).
#[derive(Debug, Clone)]
pub struct RuleSampler {
    rules: Arc<[Rule]>,
    fallback: Box<dyn ShouldSample>,
}

impl RuleSampler {
    /// Rules in order (first match wins) over the `fallback` sampler (the one
    /// `OTEL_TRACES_SAMPLER` configures). Each of the [`QUIET_ROOTS`] that no rule names
    /// exactly comes first, with ratio 0.
    pub fn new(rules: &[SamplingRule], fallback: impl Into<Box<dyn ShouldSample>>) -> Self {
        let quiet = QUIET_ROOTS
            .iter()
            .filter(|name| !rules.iter().any(|rule| rule.name == **name))
            .map(|name| Rule {
                glob: name.as_bytes().into(),
                attribute: None,
                bound: 0,
                ratio: 0.0,
            });
        let given = rules.iter().map(|rule| Rule {
            glob: rule.name.as_bytes().into(),
            attribute: rule.attribute.clone(),
            bound: ratio_bound(rule.ratio),
            ratio: rule.ratio,
        });
        RuleSampler {
            rules: quiet.chain(given).collect(),
            fallback: fallback.into(),
        }
    }
}

impl ShouldSample for RuleSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let has_parent = parent_context
            .map(|cx| cx.has_active_span() && cx.span().span_context().is_valid())
            .unwrap_or(false);
        if !has_parent {
            if let Some(rule) = self.rules.iter().find(|r| r.matches(name, attributes)) {
                let decision = if keeps(rule.bound, rule.ratio, trace_id) {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                };
                return SamplingResult {
                    decision,
                    attributes: Vec::new(),
                    trace_state: TraceState::default(),
                };
            }
        }
        self.fallback
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("*", "", true),
            ("*", "nfs.READ", true),
            ("nfs.READ", "nfs.READ", true),
            ("nfs.READ", "nfs.READDIR", false),
            ("nfs.*", "nfs.READ", true),
            ("nfs.*", "raft.apply", false),
            ("*.apply", "raft.apply", true),
            ("r?ft.*", "raft.append", true),
            ("*a*b*c", "xaxbxc", true),
            ("*a*b*c", "xaxbx", false),
            ("nfs.READ*", "nfs.READ", true),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(
                ferrotel_config::glob::matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} vs {text}"
            );
        }
    }

    #[test]
    fn ratio_edges() {
        let id = TraceId::from(u128::MAX);
        assert!(keeps(ratio_bound(1.0), 1.0, id));
        assert!(!keeps(ratio_bound(0.0), 0.0, TraceId::from(0u128)));
        assert!(keeps(ratio_bound(0.5), 0.5, TraceId::from(0u128)));
        assert!(!keeps(ratio_bound(0.5), 0.5, id));
    }
}
