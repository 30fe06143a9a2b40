//! The tracer ferrotel hands out: the SDK's, with the W3C Trace Context Level 2 random flag
//! (`0x02`) kept where the SDK loses it.

use opentelemetry::trace::{SpanBuilder, TracerProvider};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use crate::{random_under, RandomFlagSpan};

/// A tracer provider over the SDK's whose spans keep the W3C random-trace-id flag; what
/// `ferrotel::init` installs as the global tracer provider and hands to the layers.
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

/// The SDK tracer, with the random flag kept.
///
/// `opentelemetry_sdk` 0.33.1 builds a span's flags in `SdkTracer::build_with_context` from
/// the sampling result alone: a root gets `00`/`01` although its trace id comes from the random
/// id generator, and a child the sampler drops gets `TraceFlags::default()`, so an incoming
/// `00-…-02` leaves as `…-00`. Samplers cannot set
/// flags, and the SDK span's context cannot be changed from outside, so [`Level2Tracer`] wraps
/// each span ([`Level2Span`], a [`RandomFlagSpan`] as ferrotel-ops' spans are too) with the
/// context it should have had: the parent's random flag kept whether sampled or not, and the
/// flag set on every root (ferrotel's providers always use the SDK's random id generator).
/// Propagators, log lines and children read that context. The SDK's own span data keeps the
/// flags it computed, so exported roots get the flag from the facade's trace pipeline
/// ([`with_random_flag`](crate::with_random_flag)).
#[derive(Clone, Debug)]
pub struct Level2Tracer {
    inner: SdkTracer,
}

impl Level2Tracer {
    /// Wraps `inner`, a tracer of a provider that generates random trace ids (the SDK's
    /// default generator).
    pub fn new(inner: SdkTracer) -> Self {
        Self { inner }
    }
}

impl opentelemetry::trace::Tracer for Level2Tracer {
    type Span = Level2Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Level2Span {
        let random = random_under(parent_cx);
        RandomFlagSpan::new(self.inner.build_with_context(builder, parent_cx), random)
    }
}

/// An SDK span reporting the span context with the random flag it should carry.
pub type Level2Span = RandomFlagSpan<opentelemetry_sdk::trace::Span>;
