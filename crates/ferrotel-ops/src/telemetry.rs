//! Where every domain's instruments get their tracer, meter and exemplar store.
//!
//! The SDK builds a span's flags from the sampling result alone (`opentelemetry_sdk` 0.33.1,
//! `SdkTracer::build_with_context`): a root gets `00`/`01` although its trace id is random, and
//! a child the sampler drops loses its parent's random flag. [`OpsTelemetry::start_span`] wraps
//! each span ([`OpsSpan`]) with the context it should have had, as ferrotel's
//! [`Level2Tracer`](ferrotel_tracer::Level2Tracer) does for `tracing` spans, so propagation and
//! Raft entry contexts carry W3C Level 2's `0x02`.

use std::borrow::Cow;

use ferrotel_config::OpsConfig;
use ferrotel_metrics::{BoundCounter, BoundHistogram, BoundUpDownCounter, Exemplars};
use ferrotel_tracer::{random_under, scope, Presampler, RandomFlagSpan};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{
    Link, SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider, Span};

use crate::nfs::{NfsInstruments, NfsSide};
use crate::raft::RaftInstruments;
use crate::storage::StorageInstruments;

/// The instrumentation scope of every span and metric ferrotel-ops records.
pub const SCOPE: &str = "ferrotel-ops";

/// The tracer, meter and exemplar store that the NFS, storage and Raft instruments record
/// through. `ferrotel::Guard::ops()` builds one from the guard's pipelines; build your own with
/// [`OpsTelemetry::new`] for providers made in code.
#[derive(Clone, Debug)]
pub struct OpsTelemetry {
    pub(crate) tracer: SdkTracer,
    pub(crate) meter: Meter,
    pub(crate) exemplars: Exemplars,
    scope: InstrumentationScope,
    presampler: Option<Presampler>,
    /// The naming profiles and prefix of the instruments built from this.
    naming: OpsConfig,
}

impl OpsTelemetry {
    /// Instruments on these providers. Without a tracer provider no span is recorded (the
    /// metrics still are); without a meter provider the global one is used.
    pub fn new(
        tracer_provider: Option<&SdkTracerProvider>,
        meter_provider: Option<&dyn MeterProvider>,
        exemplars: Exemplars,
    ) -> Self {
        let scope = scope(SCOPE);
        let tracer = match tracer_provider {
            Some(provider) => provider.tracer_with_scope(scope.clone()),
            None => SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOff)
                .build()
                .tracer_with_scope(scope.clone()),
        };
        let meter = match meter_provider {
            Some(provider) => provider.meter_with_scope(scope.clone()),
            None => opentelemetry::global::meter_with_scope(scope.clone()),
        };
        OpsTelemetry {
            tracer,
            meter,
            exemplars,
            scope,
            presampler: None,
            naming: OpsConfig::default(),
        }
    }

    /// Names the instruments as `ops` says: `FERROTEL_NFS_METRICS`, `FERROTEL_STORAGE_METRICS`
    /// and `FERROTEL_METRICS_PREFIX` (default: the semantic conventions). `ferrotel::Guard::ops()`
    /// sets the guard's configuration.
    pub fn with_naming(mut self, ops: &OpsConfig) -> Self {
        self.naming = ops.clone();
        self
    }

    /// NFS instruments for a server or a client, named by the NFS profile.
    pub fn nfs(&self, side: NfsSide) -> NfsInstruments {
        NfsInstruments::new(
            self,
            side,
            self.naming.nfs_metrics,
            &self.naming.metrics_prefix,
        )
    }

    /// Storage instruments for `backend` (`s3`, `fs`, `memory`, …), named by the storage
    /// profile.
    pub fn storage(&self, backend: &'static str) -> StorageInstruments {
        StorageInstruments::new(self, backend, self.naming.storage_metrics)
    }

    /// Raft instruments for the node `node_id`.
    pub fn raft(&self, node_id: u64) -> RaftInstruments {
        RaftInstruments::new(self, node_id)
    }

    /// Raft instruments for the node `node_id` of the Raft group `group`, in a multi-Raft
    /// service: every Raft metric and span carries `raft.group`.
    pub fn raft_in_group(&self, node_id: u64, group: impl Into<String>) -> RaftInstruments {
        RaftInstruments::in_group(self, node_id, group)
    }

    /// Decides sampling before building spans, with `presampler`, which must be the one the
    /// tracer provider was built with (its sampler and id generator): an unsampled operation
    /// then gets a non-recording span context without the SDK's span builder. Without it every
    /// span goes through the SDK's builder, which decides there. `ferrotel::Guard::ops()` sets
    /// the guard's. A presampler the provider was not built with is noticed at the first span
    /// it keeps (the SDK does not take its decision), and from then on the SDK decides alone.
    pub fn with_presampler(mut self, presampler: Presampler) -> Self {
        self.presampler = Some(presampler);
        self
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

    /// A bound histogram in this crate's scope: each series is resolved once and recorded
    /// with atomics, its exemplars kept beside it (see `ferrotel_metrics::BoundHistogram`).
    pub(crate) fn bound_histogram(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        description: &'static str,
        boundaries: &[f64],
    ) -> BoundHistogram {
        self.exemplars
            .bound_histogram(&self.scope, name)
            .with_unit(unit)
            .with_description(description)
            .with_boundaries(boundaries.to_vec())
            .build()
    }

    /// A bound counter in this crate's scope; an empty `unit` is no unit, as in the SDK.
    pub(crate) fn bound_counter(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        description: &'static str,
    ) -> BoundCounter {
        self.exemplars
            .bound_counter(&self.meter, SCOPE, name)
            .with_unit(unit)
            .with_description(description)
            .build()
    }

    /// A bound up-down counter in this crate's scope; an empty `unit` is no unit.
    pub(crate) fn bound_up_down_counter(
        &self,
        name: impl Into<Cow<'static, str>>,
        unit: &'static str,
        description: &'static str,
    ) -> BoundUpDownCounter {
        self.exemplars
            .bound_up_down_counter(&self.meter, SCOPE, name)
            .with_unit(unit)
            .with_description(description)
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
        attributes: &[KeyValue],
    ) -> OpsSpan {
        let mut builder = self.tracer.span_builder(name).with_kind(kind);
        if !attributes.is_empty() {
            builder = builder.with_attributes(attributes.iter().cloned());
        }
        let random = random_under(parent);
        RandomFlagSpan::new(self.tracer.build_with_context(builder, parent), random)
    }

    /// [`OpsTelemetry::start_span`] with links to `links` (set at creation, as the sampler
    /// may read them).
    pub(crate) fn start_span_linked(
        &self,
        name: &'static str,
        kind: SpanKind,
        parent: &Context,
        links: Vec<Link>,
    ) -> OpsSpan {
        let builder = self
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_links(links);
        let random = random_under(parent);
        RandomFlagSpan::new(self.tracer.build_with_context(builder, parent), random)
    }
}

impl OpsTelemetry {
    /// A context holding a new span under `parent` (see [`OpsTelemetry::start_span`]); an
    /// unsampled span costs no SDK span when a [`Presampler`] decides first.
    pub(crate) fn start_context(
        &self,
        name: &'static str,
        kind: SpanKind,
        parent: &Context,
        attributes: &[KeyValue],
    ) -> Context {
        if let Some(presampler) = &self.presampler {
            return presampler.start_context(parent, name, &kind, attributes, || {
                parent.with_span(self.start_span(name, kind.clone(), parent, attributes))
            });
        }
        parent.with_span(self.start_span(name, kind, parent, attributes))
    }
}

/// An SDK span reporting the span context with the random flag it should carry.
pub(crate) type OpsSpan = RandomFlagSpan<Span>;
