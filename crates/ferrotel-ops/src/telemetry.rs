//! Where every domain's instruments get their tracer, meter and exemplar store.
//!
//! The SDK builds a span's flags from the sampling result alone (`opentelemetry_sdk` 0.33.1,
//! `SdkTracer::build_with_context`): a root gets `00`/`01` although its trace id is random, and
//! a child the sampler drops loses its parent's random flag. [`OpsTelemetry::start_span`] wraps
//! each span ([`OpsSpan`]) with the context it should have had, as ferrotel's `Level2Tracer`
//! does for `tracing` spans, so propagation and Raft entry contexts carry W3C Level 2's `0x02`.

use std::borrow::Cow;
use std::time::SystemTime;

use ferrotel_metrics::{Exemplars, Histogram, U64Histogram};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, TraceFlags, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, Span};

/// Trace flag `0x02`: the trace id is random (W3C Trace Context Level 2).
const RANDOM_TRACE_ID: TraceFlags = TraceFlags::new(0x02);

/// The instrumentation scope of every span and metric ferrotel-ops records.
pub const SCOPE: &str = "ferrotel-ops";

/// The semantic conventions release the names follow where conventions exist.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.38.0";

/// The tracer, meter and exemplar store that the NFS, storage and Raft instruments record
/// through. `ferrotel::Guard::ops()` builds one from the guard's pipelines; build your own with
/// [`OpsTelemetry::new`] for providers made in code.
#[derive(Clone, Debug)]
pub struct OpsTelemetry {
    pub(crate) tracer: SdkTracer,
    pub(crate) meter: Meter,
    pub(crate) exemplars: Exemplars,
}

impl OpsTelemetry {
    /// Instruments on these providers. Without a tracer provider no span is recorded (the
    /// metrics still are); without a meter provider the global one is used.
    pub fn new(
        tracer_provider: Option<&SdkTracerProvider>,
        meter_provider: Option<&dyn MeterProvider>,
        exemplars: Exemplars,
    ) -> Self {
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_schema_url(SCHEMA_URL)
            .build();
        let tracer = match tracer_provider {
            Some(provider) => provider.tracer_with_scope(scope.clone()),
            None => SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOff)
                .build()
                .tracer_with_scope(scope.clone()),
        };
        let meter = match meter_provider {
            Some(provider) => provider.meter_with_scope(scope),
            None => opentelemetry::global::meter_with_scope(scope),
        };
        OpsTelemetry {
            tracer,
            meter,
            exemplars,
        }
    }

    /// The meter the instruments are created on.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The tracer the spans are started on. Spans started on it directly get the SDK's flags,
    /// without the W3C random-trace-id flag the instruments' own spans carry.
    pub fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// An exemplar-carrying `f64` histogram in this crate's scope.
    pub(crate) fn f64_histogram(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        description: &'static str,
        boundaries: &[f64],
    ) -> Histogram {
        self.exemplars
            .f64_histogram(&self.meter, name)
            .with_scope(SCOPE)
            .with_unit(unit)
            .with_description(description)
            .with_boundaries(boundaries.to_vec())
            .build()
    }

    /// An exemplar-carrying `u64` histogram in this crate's scope.
    pub(crate) fn u64_histogram(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        description: &'static str,
        boundaries: &[f64],
    ) -> U64Histogram {
        self.exemplars
            .u64_histogram(&self.meter, name)
            .with_scope(SCOPE)
            .with_unit(unit)
            .with_description(description)
            .with_boundaries(boundaries.to_vec())
            .build()
    }

    /// Starts a span under `parent`, carrying the random-trace-id flag (see the module docs).
    /// `attributes` is called only for the sampler's benefit (the sampling-relevant attributes,
    /// set at creation), so keep it to those.
    pub(crate) fn start_span(
        &self,
        name: &'static str,
        kind: SpanKind,
        parent: &Context,
        attributes: Vec<KeyValue>,
    ) -> OpsSpan {
        let builder = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes);
        let parent_sc = parent.span().span_context().clone();
        // A valid parent passes its flag on; without one the SDK generates a random trace id
        // (ferrotel's providers keep the SDK's random id generator).
        let random =
            !parent_sc.is_valid() || parent_sc.trace_flags() & RANDOM_TRACE_ID == RANDOM_TRACE_ID;
        let inner = self.tracer.build_with_context(builder, parent);
        let sc = inner.span_context();
        let span_context = if random && sc.is_valid() {
            SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags() | RANDOM_TRACE_ID,
                sc.is_remote(),
                sc.trace_state().clone(),
            )
        } else {
            sc.clone()
        };
        OpsSpan {
            inner,
            span_context,
        }
    }
}

/// An SDK span reporting the span context with the random flag it should carry.
#[derive(Debug)]
pub(crate) struct OpsSpan {
    inner: Span,
    span_context: SpanContext,
}

impl opentelemetry::trace::Span for OpsSpan {
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
