//! Where every domain's instruments get their tracer, meter and exemplar store.

use std::borrow::Cow;

use ferrotel_metrics::{Exemplars, Histogram, U64Histogram};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, Span};

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

    /// The tracer the spans are started on.
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
    #[allow(dead_code)] // for the NFS and storage domains (sizes in bytes)
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

    /// Starts a span under `parent`. `attributes` is called only for the sampler's benefit
    /// (the sampling-relevant attributes, set at creation), so keep it to those.
    #[allow(dead_code)] // for the NFS and storage domains
    pub(crate) fn start_span(
        &self,
        name: &'static str,
        kind: SpanKind,
        parent: &Context,
        attributes: Vec<KeyValue>,
    ) -> Span {
        let builder = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes);
        self.tracer.build_with_context(builder, parent)
    }
}
