//! The tracer ferrotel hands out: the SDK's, with the W3C Trace Context Level 2 random flag
//! (`0x02`) kept where the SDK loses it.
//!
//! `opentelemetry_sdk` 0.33.1 builds a span's flags in `SdkTracer::build_with_context`
//! (`trace/tracer.rs`) from the sampling result alone: a root gets `00`/`01` although its trace
//! id comes from the random id generator, and a child the sampler drops gets
//! `TraceFlags::default()`, so an incoming `00-…-02` leaves as `…-00`. Samplers cannot set
//! flags, and the SDK span's context cannot be changed from outside, so [`Level2Tracer`] wraps
//! each span ([`Level2Span`]) with the context it should have had: the parent's random flag
//! kept whether sampled or not, and the flag set on every root (ferrotel's providers always use
//! the SDK's random id generator). Propagators, log lines and children read that context.
//! Exported root spans get the flag from the trace pipeline (`traces.rs`), since the SDK's own
//! span data keeps the flags it computed.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, Status, TraceContextExt, TraceFlags, TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The instrumentation scope of a span source ferrotel itself creates: ferrotel's version and
/// the schema of the semantic conventions it follows.
pub(crate) fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(ferrotel_tower::SCHEMA_URL)
        .build()
}

/// Trace flag `0x02`: the trace id is random (W3C Trace Context Level 2).
pub(crate) const RANDOM_TRACE_ID: TraceFlags = ferrotel_propagation::w3c::RANDOM_TRACE_ID;

/// A tracer provider over the SDK's whose spans keep the W3C random-trace-id flag; what
/// [`crate::init`] installs as the global tracer provider and hands to the layers.
#[derive(Clone, Debug)]
pub struct Level2TracerProvider {
    inner: SdkTracerProvider,
}

impl Level2TracerProvider {
    /// Wraps `inner`, which must generate random trace ids (the SDK's default generator).
    pub fn new(inner: SdkTracerProvider) -> Self {
        Self { inner }
    }

    /// The SDK provider underneath (for flushing and shutdown).
    pub fn sdk(&self) -> &SdkTracerProvider {
        &self.inner
    }
}

impl TracerProvider for Level2TracerProvider {
    type Tracer = Level2Tracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Level2Tracer {
        Level2Tracer {
            inner: self.inner.tracer_with_scope(scope),
        }
    }
}

/// The SDK tracer, with the random flag kept; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Level2Tracer {
    inner: SdkTracer,
}

impl Level2Tracer {
    pub(crate) fn new(inner: SdkTracer) -> Self {
        Self { inner }
    }
}

impl opentelemetry::trace::Tracer for Level2Tracer {
    type Span = Level2Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Level2Span {
        let parent = parent_cx.span();
        let parent_sc = parent.span_context();
        // A valid parent passes its flag on; without one the SDK generates a random trace id.
        let random = if parent_sc.is_valid() {
            parent_sc.trace_flags() & RANDOM_TRACE_ID == RANDOM_TRACE_ID
        } else {
            true
        };
        let inner = self.inner.build_with_context(builder, parent_cx);
        let span_context = with_random_flag(inner.span_context(), random);
        Level2Span {
            inner,
            span_context,
        }
    }
}

/// `sc` with the random flag set when `random`; unchanged otherwise or when invalid.
pub(crate) fn with_random_flag(sc: &SpanContext, random: bool) -> SpanContext {
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

/// An SDK span reporting the span context with the random flag it should carry.
#[derive(Debug)]
pub struct Level2Span {
    inner: opentelemetry_sdk::trace::Span,
    span_context: SpanContext,
}

impl opentelemetry::trace::Span for Level2Span {
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
