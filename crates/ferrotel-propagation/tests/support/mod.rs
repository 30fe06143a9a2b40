//! Helpers shared by the integration tests of this crate.
#![allow(dead_code)]

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

pub(crate) const TRACE_ID: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
pub(crate) const TRACE_ID_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub(crate) const SPAN_ID: u64 = 0x00f0_67aa_0ba9_02b7;
pub(crate) const SPAN_ID_HEX: &str = "00f067aa0ba902b7";

/// A carrier holding `pairs`.
pub(crate) fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A context whose current span has the given ids (as a local span would).
pub(crate) fn context_with(trace_id: u128, span_id: u64, sampled: bool) -> Context {
    let flags = TraceFlags::default().with_sampled(sampled);
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        flags,
        false,
        TraceState::NONE,
    ))
}

/// Extracts from an empty context and returns the resulting span context.
pub(crate) fn extract(
    propagator: &dyn TextMapPropagator,
    carrier: &HashMap<String, String>,
) -> SpanContext {
    let cx = propagator.extract_with_context(&Context::new(), carrier);
    let span = cx.span();
    span.span_context().clone()
}

/// Injects `cx` into a fresh carrier.
pub(crate) fn inject(propagator: &dyn TextMapPropagator, cx: &Context) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    propagator.inject_context(cx, &mut carrier);
    carrier
}

/// The sorted header names of a carrier.
pub(crate) fn names(carrier: &HashMap<String, String>) -> Vec<&str> {
    let mut names: Vec<&str> = carrier.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

pub(crate) fn assert_send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}

/// A carrier that can hold a header several times, like an HTTP header map.
#[derive(Debug, Default)]
pub(crate) struct RepeatedHeaders(pub(crate) Vec<(&'static str, String)>);

impl opentelemetry::propagation::Extractor for RepeatedHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| *k).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

impl RepeatedHeaders {
    /// A carrier holding `pairs` in order, names as given (any letter case).
    pub(crate) fn of(pairs: &[(&'static str, &str)]) -> Self {
        Self(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    }
}

/// Extracts from an empty context with any extractor and returns the resulting span context.
pub(crate) fn extract_from(
    propagator: &dyn TextMapPropagator,
    carrier: &dyn opentelemetry::propagation::Extractor,
) -> SpanContext {
    let cx = propagator.extract_with_context(&Context::new(), carrier);
    let span = cx.span();
    span.span_context().clone()
}
