//! Histograms that record into the SDK's aggregation and offer each measurement to the
//! exemplar reservoir of its attribute set.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use ferrotel_config::{
    AttributeKeys, ExemplarFilter, InstrumentInfo, InstrumentType, ViewAggregation,
};
use opentelemetry::metrics::Meter;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::exemplars::Exemplars;
use crate::instrument::InstrumentState;
use crate::reservoir::Measured;

/// The SDK's default explicit-bucket boundaries (opentelemetry_sdk 0.33.1,
/// `default_aggregation_selector`), used when no boundaries are given.
pub const DEFAULT_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The ids a measurement's exemplar carries, or `None` when the filter refuses it. The outer
/// `Option` is the decision, the inner one the ids (none outside a span under `always_on`).
type Admission = Option<Option<([u8; 16], [u8; 8])>>;

#[inline]
pub(crate) fn admit(filter: ExemplarFilter, cx: &Context) -> Admission {
    if filter == ExemplarFilter::AlwaysOff
        || (filter == ExemplarFilter::TraceBased && !cx.has_active_span())
    {
        return None;
    }
    let span = cx.span();
    let sc = span.span_context();
    // Decide before copying ids: the common refusal (an unsampled span) stays cheap.
    if filter == ExemplarFilter::TraceBased && !sc.is_sampled() {
        return None;
    }
    let ids = sc
        .is_valid()
        .then(|| (sc.trace_id().to_bytes(), sc.span_id().to_bytes()));
    match filter {
        ExemplarFilter::TraceBased => ids.is_some().then_some(ids),
        _ => Some(ids),
    }
}

/// Valid boundaries for the SDK: finite, strictly increasing. Others make the SDK drop the
/// instrument, so no reservoir is kept for them either.
pub(crate) fn valid_boundaries(boundaries: &[f64]) -> bool {
    boundaries.iter().all(|b| b.is_finite()) && boundaries.windows(2).all(|w| w[0] < w[1])
}

/// The reservoir side of a histogram (or a counter: no boundaries, one cell).
#[derive(Clone)]
pub(crate) struct Sampler {
    filter: ExemplarFilter,
    state: Option<Arc<InstrumentState>>,
    /// The attributes a view keeps: the reservoir is keyed like the exported points.
    keys: Option<Arc<AttributeKeys>>,
}

/// What the reservoirs of an instrument must be like to match its exported stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Described<'a> {
    pub(crate) scope: Option<&'a str>,
    pub(crate) name: &'a str,
    pub(crate) unit: &'a str,
    pub(crate) kind: InstrumentType,
}

impl Sampler {
    /// The reservoirs of an instrument: under the name, buckets, kept attributes and limit
    /// of the first view that selects it (the stream the SDK exports), none when it is
    /// dropped.
    pub(crate) fn new(
        exemplars: &Exemplars,
        instrument: Described<'_>,
        boundaries: Option<&[f64]>,
    ) -> Self {
        let info = InstrumentInfo {
            name: instrument.name,
            kind: instrument.kind,
            unit: instrument.unit,
            meter_name: instrument.scope.unwrap_or_default(),
            meter_version: None,
            meter_schema_url: None,
        };
        let mut name = instrument.name;
        let mut boundaries = boundaries.unwrap_or(&DEFAULT_BOUNDARIES);
        let mut limit = exemplars.cardinality_limits().of(instrument.kind);
        let mut keys = None;
        let mut dropped = false;
        if let Some(view) = exemplars.view(&info) {
            name = view.stream.name.as_deref().unwrap_or(name);
            match &view.stream.aggregation {
                Some(ViewAggregation::Drop) => dropped = true,
                Some(ViewAggregation::ExplicitBucketHistogram { boundaries: b, .. })
                    if instrument.kind == InstrumentType::Histogram =>
                {
                    boundaries = b;
                }
                _ => {}
            }
            limit = view.stream.aggregation_cardinality_limit.unwrap_or(limit);
            keys = view.stream.attribute_keys.clone().map(Arc::new);
        }
        let state = (valid_boundaries(boundaries) && !dropped)
            .then(|| {
                let scope = instrument.scope.map(str::to_owned);
                exemplars.register(scope, name, boundaries.to_vec(), limit)
            })
            .flatten();
        Sampler {
            filter: exemplars.filter(),
            state,
            keys,
        }
    }

    #[inline]
    pub(crate) fn offer_current(&self, value: Measured, attributes: &[KeyValue]) {
        let Some(state) = &self.state else {
            return;
        };
        if let Some(ids) = Context::map_current(|cx| admit(self.filter, cx)) {
            self.offer_kept(state, attributes, value, ids);
        }
    }

    #[inline]
    pub(crate) fn offer_in(&self, value: Measured, attributes: &[KeyValue], cx: &Context) {
        let Some(state) = &self.state else {
            return;
        };
        if let Some(ids) = admit(self.filter, cx) {
            self.offer_kept(state, attributes, value, ids);
        }
    }

    #[inline]
    fn offer_kept(
        &self,
        state: &InstrumentState,
        attributes: &[KeyValue],
        value: Measured,
        ids: Option<([u8; 16], [u8; 8])>,
    ) {
        match &self.keys {
            None => state.offer(attributes, value, ids),
            Some(keys) => {
                let kept: Vec<KeyValue> = attributes
                    .iter()
                    .filter(|kv| keys.keeps(kv.key.as_str()))
                    .cloned()
                    .collect();
                state.offer(&kept, value, ids);
            }
        }
    }
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("filter", &self.filter)
            .field("reservoir", &self.state.is_some())
            .finish()
    }
}

macro_rules! histogram_types {
    (
        $(#[$bdoc:meta])* $builder:ident,
        $(#[$hdoc:meta])* $histogram:ident,
        $num:ty, $sdk_builder:ident, $measured:expr
    ) => {
        $(#[$bdoc])*
        #[derive(Debug)]
        #[must_use = "a builder does nothing until .build()"]
        pub struct $builder {
            exemplars: Exemplars,
            meter: Meter,
            name: Cow<'static, str>,
            unit: Option<Cow<'static, str>>,
            description: Option<Cow<'static, str>>,
            boundaries: Option<Vec<f64>>,
            scope: Option<String>,
        }

        impl $builder {
            pub(crate) fn new(exemplars: Exemplars, meter: Meter, name: Cow<'static, str>) -> Self {
                $builder {
                    exemplars,
                    meter,
                    name,
                    unit: None,
                    description: None,
                    boundaries: None,
                    scope: None,
                }
            }

            /// The unit (UCUM), e.g. `"s"` or `"By"`.
            pub fn with_unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
                self.unit = Some(unit.into());
                self
            }

            /// The description.
            pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
                self.description = Some(description.into());
                self
            }

            /// The explicit bucket boundaries, for the SDK's aggregation and the reservoir
            /// alike (default: [`DEFAULT_BOUNDARIES`]).
            pub fn with_boundaries(mut self, boundaries: Vec<f64>) -> Self {
                self.boundaries = Some(boundaries);
                self
            }

            /// The name of the meter's instrumentation scope. The API's `Meter` does not tell
            /// it, so without this the exemplars go to a histogram of this name in any scope;
            /// give it when several meters create histograms with the same name.
            pub fn with_scope(mut self, scope_name: impl Into<String>) -> Self {
                self.scope = Some(scope_name.into());
                self
            }

            /// Builds the SDK histogram and registers its reservoirs.
            pub fn build(self) -> $histogram {
                let mut sdk = self.meter.$sdk_builder(self.name.clone());
                let unit_text = self.unit.clone().unwrap_or_default();
                if let Some(unit) = self.unit {
                    sdk = sdk.with_unit(unit);
                }
                if let Some(description) = self.description {
                    sdk = sdk.with_description(description);
                }
                if let Some(boundaries) = self.boundaries.clone() {
                    sdk = sdk.with_boundaries(boundaries);
                }
                let unit = &unit_text;
                let sampler = Sampler::new(
                    &self.exemplars,
                    Described {
                        scope: self.scope.as_deref(),
                        name: &self.name,
                        unit,
                        kind: InstrumentType::Histogram,
                    },
                    self.boundaries.as_deref(),
                );
                $histogram {
                    // This histogram offers its own exemplars: a meter of an
                    // `ExemplarMeterProvider` must not wrap it again.
                    sdk: crate::provider::building_plain(|| sdk.build()),
                    sampler,
                }
            }
        }

        $(#[$hdoc])*
        #[derive(Clone)]
        pub struct $histogram {
            sdk: opentelemetry::metrics::Histogram<$num>,
            sampler: Sampler,
        }

        impl fmt::Debug for $histogram {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($histogram))
                    .field("sampler", &self.sampler)
                    .finish_non_exhaustive()
            }
        }

        impl $histogram {
            /// Records `value` with the current OpenTelemetry context (inside a `tracing` span
            /// with tracing-opentelemetry, that span's context).
            #[inline]
            pub fn record(&self, value: $num, attributes: &[KeyValue]) {
                self.sdk.record(value, attributes);
                self.sampler.offer_current($measured(value), attributes);
            }

            /// Records `value`; `cx` decides whether (and with which ids) it may become an
            /// exemplar.
            #[inline]
            pub fn record_with_context(&self, value: $num, attributes: &[KeyValue], cx: &Context) {
                self.sdk.record(value, attributes);
                self.sampler.offer_in($measured(value), attributes, cx);
            }

            /// The SDK histogram underneath (measurements recorded there offer no exemplars).
            pub fn sdk(&self) -> &opentelemetry::metrics::Histogram<$num> {
                &self.sdk
            }
        }
    };
}

histogram_types!(
    /// Builds a [`Histogram`]; see [`Exemplars::f64_histogram`].
    HistogramBuilder,
    /// An `f64` histogram whose measurements may become exemplars. Clones share everything.
    Histogram,
    f64,
    f64_histogram,
    Measured::F64
);

histogram_types!(
    /// Builds a [`U64Histogram`]; see [`Exemplars::u64_histogram`].
    U64HistogramBuilder,
    /// A `u64` histogram (sizes, counts) whose measurements may become exemplars (`as_int`).
    U64Histogram,
    u64,
    u64_histogram,
    Measured::U64
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn cx(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            false,
            TraceState::default(),
        ))
    }

    #[test]
    fn filters() {
        let ids = Some((
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
            [0, 0, 0, 0, 0, 0, 0, 9],
        ));
        let none = Context::new();
        assert_eq!(admit(ExemplarFilter::TraceBased, &cx(true)), Some(ids));
        assert_eq!(admit(ExemplarFilter::TraceBased, &cx(false)), None);
        assert_eq!(admit(ExemplarFilter::TraceBased, &none), None);
        assert_eq!(admit(ExemplarFilter::AlwaysOn, &cx(false)), Some(ids));
        assert_eq!(admit(ExemplarFilter::AlwaysOn, &none), Some(None));
        assert_eq!(admit(ExemplarFilter::AlwaysOff, &cx(true)), None);
    }

    #[test]
    fn always_off_keeps_no_reservoir_and_bad_boundaries_none_either() {
        let off = Exemplars::new(ExemplarFilter::AlwaysOff);
        let h = Described {
            scope: None,
            name: "h",
            unit: "",
            kind: InstrumentType::Histogram,
        };
        assert!(Sampler::new(&off, h, None).state.is_none());
        let on = Exemplars::new(ExemplarFilter::AlwaysOn);
        assert!(Sampler::new(&on, h, Some(&[1.0, 1.0])).state.is_none());
        assert!(Sampler::new(&on, h, Some(&[1.0, f64::NAN])).state.is_none());
        let a = Sampler::new(&on, h, None).state.unwrap();
        let b = Sampler::new(&on, h, Some(&DEFAULT_BOUNDARIES))
            .state
            .unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "same scope, name and boundaries share reservoirs"
        );
    }
}
