//! The W3C Trace Context Level 2 random-trace-id flag (`0x02`) on spans whose tracer loses it.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Span, SpanContext, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use ferrotel_propagation::w3c::RANDOM_TRACE_ID;

/// Whether a span started under `parent` has a random trace id: a valid parent passes its flag
/// on; without one the tracer generates the id (randomly, with the SDK's default generator).
pub fn random_under(parent: &Context) -> bool {
    let parent = parent.span();
    let sc = parent.span_context();
    !sc.is_valid() || sc.trace_flags() & RANDOM_TRACE_ID == RANDOM_TRACE_ID
}

/// `sc` with the random flag set when `random`; unchanged otherwise or when invalid.
pub fn with_random_flag(sc: &SpanContext, random: bool) -> SpanContext {
    if !random || !sc.is_valid() || sc.trace_flags() & RANDOM_TRACE_ID == RANDOM_TRACE_ID {
        return sc.clone();
    }
    SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags() | RANDOM_TRACE_ID,
        sc.is_remote(),
        sc.trace_state().clone(),
    )
}

/// A span reporting the span context with the random flag it should carry; every other call
/// goes to the span it wraps.
///
/// `opentelemetry_sdk` 0.33 builds a span's flags from the sampling result alone, so a root
/// (whose id is random) gets no `0x02` and an unsampled child of a `…-02` parent loses it.
/// Samplers cannot set flags and the SDK span's context cannot be changed from outside, so
/// [`RandomFlagSpan`] wraps any span with the context it should have had; propagators, log
/// lines and children read that one.
#[derive(Debug)]
pub struct RandomFlagSpan<S> {
    inner: S,
    span_context: SpanContext,
}

impl<S: Span> RandomFlagSpan<S> {
    /// Wraps `inner`, a span just started under a parent for which [`random_under`] said
    /// `random`.
    pub fn new(inner: S, random: bool) -> Self {
        let span_context = with_random_flag(inner.span_context(), random);
        RandomFlagSpan {
            inner,
            span_context,
        }
    }
}

impl<S: Span> Span for RandomFlagSpan<S> {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.inner
            .add_event_with_timestamp(name, timestamp, attributes);
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.inner.set_attribute(attribute);
    }

    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.inner.set_attributes(attributes);
    }

    fn set_status(&mut self, status: Status) {
        self.inner.set_status(status);
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name);
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.inner.add_link(span_context, attributes);
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_with_timestamp(timestamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn context(flags: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            TraceFlags::new(flags),
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn a_root_is_random_and_a_child_inherits_the_parents_flag() {
        assert!(random_under(&Context::new()));
        let under = |flags| random_under(&Context::new().with_remote_span_context(context(flags)));
        assert!(under(0x02));
        assert!(under(0x03));
        assert!(!under(0x01));
        assert!(!under(0x00));
    }

    #[test]
    fn the_flag_is_added_only_to_valid_contexts_that_should_have_it() {
        assert_eq!(
            with_random_flag(&context(0x01), true).trace_flags().to_u8(),
            0x03
        );
        assert_eq!(
            with_random_flag(&context(0x01), false)
                .trace_flags()
                .to_u8(),
            0x01
        );
        let invalid = SpanContext::empty_context();
        assert_eq!(with_random_flag(&invalid, true), invalid);
    }
}
