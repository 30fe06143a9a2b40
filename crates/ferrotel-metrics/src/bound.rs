//! Pre-bound instruments: an attribute set is resolved once, to a series handle, and each
//! measurement on the handle is a few relaxed atomic operations.
//!
//! The SDK (0.33.1) has no bound instruments: every `record`/`add` hashes the attribute set and
//! looks it up in the instrument's map, which costs more than the whole operation being
//! measured when that is an NFS procedure answered from cache or a Raft apply. Instrumentation
//! that knows its attribute sets in advance (a procedure, a share and an outcome) resolves each
//! once with [`BoundHistogram::series`] / [`BoundCounter::series`] and keeps the handle.
//!
//! - Counters and up-down counters are the SDK's observable instruments, whose callback reads
//!   the series' atomics at collection: they reach every reader and exporter of the meter
//!   provider, and the SDK applies the reader's temporality.
//! - Histograms are aggregated here (explicit buckets, sum, count, min and max) and written into
//!   the OTLP request by [`Exemplars::inject`], with their exemplars, as the exemplars of the
//!   SDK's histograms are. ferrotel's OTLP exporter and `/metrics` endpoint call it; an exporter
//!   of your own must too (see the crate example).
//!
//! A series is never forgotten, so cumulative values never restart; each instrument holds at
//! most its cardinality limit of series (2000 unless a view or the store's limits say
//! otherwise) and sends measurements for further attribute sets to one
//! `otel.metric.overflow=true` series, as the SDK does.
//!
//! The first of the store's views that selects a bound instrument applies to it as the SDK's
//! views apply to the SDK's instruments: name, description, explicit buckets, drop, kept
//! attribute keys (included and excluded) and cardinality limit. A histogram view asking for
//! another aggregation (exponential, sum, last value) makes the histogram record into the SDK's
//! histogram of its name once the store knows its meter provider
//! ([`Exemplars::attach_meter_provider`]): the SDK then aggregates it as the view says, at the
//! SDK's cost per measurement.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use ferrotel_config::{
    AttributeKeys, ExemplarFilter, InstrumentInfo, InstrumentType, ViewAggregation,
};
use opentelemetry::metrics::Meter;
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    InstrumentationScope as ProtoScope, KeyValue as ProtoKeyValue,
};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, AggregationTemporality, Histogram as ProtoHistogram, HistogramDataPoint, Metric,
    ScopeMetrics,
};

use crate::exemplars::{Exemplars, InjectStats};
use crate::histogram::{admit, valid_boundaries, DEFAULT_BOUNDARIES};
use crate::instrument::{sort_and_dedup, OVERFLOW_KEY};
use crate::reservoir::{bucket_index, now_unix_nanos, Measured, Sample, Series as Reservoir};
use crate::rng::thread_random;

/// A map of series by canonical attribute set, bounded, with an overflow series.
struct SeriesMap<S> {
    map: RwLock<HashMap<Vec<KeyValue>, Arc<S>>>,
    overflow: Arc<S>,
    limit: usize,
    /// The attribute keys a view keeps; others are dropped before the lookup.
    keys: Option<AttributeKeys>,
}

impl<S> SeriesMap<S> {
    fn new(limit: usize, keys: Option<AttributeKeys>, make: impl Fn(Vec<KeyValue>) -> S) -> Self {
        SeriesMap {
            map: RwLock::new(HashMap::new()),
            overflow: Arc::new(make(vec![KeyValue::new(OVERFLOW_KEY, true)])),
            limit,
            keys,
        }
    }

    /// The series of `attributes`, created if the limit allows; the overflow series otherwise.
    fn get_or_create(
        &self,
        attributes: &[KeyValue],
        make: impl FnOnce(Vec<KeyValue>) -> S,
    ) -> Arc<S> {
        let key = match &self.keys {
            None => sort_and_dedup(attributes),
            Some(keys) => {
                let kept: Vec<KeyValue> = attributes
                    .iter()
                    .filter(|kv| keys.keeps(kv.key.as_str()))
                    .cloned()
                    .collect();
                sort_and_dedup(&kept)
            }
        };
        if let Some(found) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(found);
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = map.get(&key) {
            return Arc::clone(found);
        }
        if map.len() >= self.limit {
            return Arc::clone(&self.overflow);
        }
        let series = Arc::new(make(key.clone()));
        map.insert(key, Arc::clone(&series));
        series
    }

    /// Every series, the overflow one last.
    fn all(&self) -> Vec<Arc<S>> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<Arc<S>> = map.values().cloned().collect();
        all.push(Arc::clone(&self.overflow));
        all
    }
}

/// One series of a counter or up-down counter.
struct SumSeries {
    attributes: Vec<KeyValue>,
    /// A `u64` for a counter; an `i64` in two's complement for an up-down counter.
    value: AtomicU64,
    /// Whether anything was added (the overflow series is reported only then).
    used: std::sync::atomic::AtomicBool,
}

impl SumSeries {
    fn new(attributes: Vec<KeyValue>) -> Self {
        SumSeries {
            attributes,
            value: AtomicU64::new(0),
            used: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// The series of one counter, shared by every handle to it and by the SDK's callback (which
/// the meter provider's pipeline keeps: the SDK's observable instrument handle is a marker).
struct SumState {
    series: SeriesMap<SumSeries>,
}

impl SumState {
    fn new(limit: usize, keys: Option<AttributeKeys>) -> Self {
        SumState {
            series: SeriesMap::new(limit, keys, SumSeries::new),
        }
    }

    fn series(&self, attributes: &[KeyValue]) -> Arc<SumSeries> {
        self.series.get_or_create(attributes, SumSeries::new)
    }

    /// The series to report: every created one, and the overflow one once used.
    fn reported(&self) -> impl Iterator<Item = Arc<SumSeries>> {
        let overflow = Arc::clone(&self.series.overflow);
        self.series
            .all()
            .into_iter()
            .filter(move |s| !Arc::ptr_eq(s, &overflow) || s.used.load(Ordering::Relaxed))
    }
}

/// What identifies a bound instrument within a store: instruments built twice (two servers in
/// one process) share their series, as the SDK shares an instrument built twice.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    scope: String,
    name: String,
    kind: &'static str,
}

/// The bound instruments of one store.
#[derive(Default)]
pub(crate) struct BoundRegistry {
    sums: Mutex<Vec<(Identity, Arc<SumState>)>>,
    histograms: RwLock<Vec<Arc<HistogramState>>>,
}

impl fmt::Debug for BoundRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let histograms = self.histograms.read().map(|h| h.len()).unwrap_or_default();
        f.debug_struct("BoundRegistry")
            .field("histograms", &histograms)
            .finish_non_exhaustive()
    }
}

macro_rules! sum_types {
    (
        $(#[$bdoc:meta])* $builder:ident,
        $(#[$idoc:meta])* $instrument:ident,
        $(#[$sdoc:meta])* $series:ident,
        $num:ty, $kind:literal, $itype:expr, $sdk:ident
    ) => {
        $(#[$bdoc])*
        #[derive(Debug)]
        #[must_use = "a builder does nothing until .build()"]
        pub struct $builder {
            exemplars: Exemplars,
            meter: Meter,
            scope: String,
            name: Cow<'static, str>,
            unit: Option<Cow<'static, str>>,
            description: Option<Cow<'static, str>>,
        }

        impl $builder {
            fn new(exemplars: &Exemplars, meter: &Meter, scope: &str, name: Cow<'static, str>) -> Self {
                $builder {
                    exemplars: exemplars.clone(),
                    meter: meter.clone(),
                    scope: scope.to_owned(),
                    name,
                    unit: None,
                    description: None,
                }
            }

            /// The unit (UCUM), e.g. `"By"` or `"{request}"`.
            pub fn with_unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
                self.unit = Some(unit.into());
                self
            }

            /// The description.
            pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
                self.description = Some(description.into());
                self
            }

            /// Registers the SDK's observable instrument (once per store, scope and name) and
            /// returns a handle to its series.
            pub fn build(self) -> $instrument {
                let identity = Identity {
                    scope: self.scope,
                    name: self.name.to_string(),
                    kind: $kind,
                };
                let registry = self.exemplars.bound();
                let mut sums = registry.sums.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((_, state)) = sums.iter().find(|(id, _)| *id == identity) {
                    return $instrument { state: Arc::clone(state) };
                }
                // The SDK applies the view's name, aggregation and keys to the observable
                // instrument; the series map must keep to its keys and limit as well.
                let unit_text = self.unit.as_deref().unwrap_or_default();
                let info = InstrumentInfo {
                    name: &identity.name,
                    kind: $itype,
                    unit: unit_text,
                    meter_name: &identity.scope,
                    meter_version: None,
                    meter_schema_url: None,
                };
                let view = self.exemplars.view(&info);
                let limit = view
                    .and_then(|v| v.stream.aggregation_cardinality_limit)
                    .unwrap_or_else(|| self.exemplars.cardinality_limits().of($itype));
                let keys = view.and_then(|v| v.stream.attribute_keys.clone());
                let state = Arc::new(SumState::new(limit, keys));
                let read = Arc::clone(&state);
                let mut sdk = self.meter.$sdk(self.name).with_callback(move |observer| {
                    for series in read.reported() {
                        // Reinterpreted as the instrument's own number type.
                        let value = series.value.load(Ordering::Relaxed) as $num;
                        observer.observe(value, &series.attributes);
                    }
                });
                if let Some(unit) = self.unit {
                    sdk = sdk.with_unit(unit);
                }
                if let Some(description) = self.description {
                    sdk = sdk.with_description(description);
                }
                // The handle is a marker; the pipeline keeps the callback.
                let _ = sdk.build();
                sums.push((identity, Arc::clone(&state)));
                $instrument { state }
            }
        }

        $(#[$idoc])*
        #[derive(Clone)]
        pub struct $instrument {
            state: Arc<SumState>,
        }

        impl fmt::Debug for $instrument {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($instrument)).finish_non_exhaustive()
            }
        }

        impl $instrument {
            /// The series of `attributes` (in any order), created on first use. Keep it: the
            /// lookup is the cost a bound instrument saves.
            pub fn series(&self, attributes: &[KeyValue]) -> $series {
                $series(self.state.series(attributes))
            }
        }

        $(#[$sdoc])*
        #[derive(Clone)]
        pub struct $series(Arc<SumSeries>);

        impl fmt::Debug for $series {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($series))
                    .field("attributes", &self.0.attributes)
                    .finish_non_exhaustive()
            }
        }

        impl $series {
            /// Adds `value`.
            #[inline]
            pub fn add(&self, value: $num) {
                // Two's complement: an i64 added as its u64 bits wraps to the same result.
                self.0.value.fetch_add(value as u64, Ordering::Relaxed);
                if !self.0.used.load(Ordering::Relaxed) {
                    self.0.used.store(true, Ordering::Relaxed);
                }
            }
        }
    };
}

sum_types!(
    /// Builds a [`BoundCounter`]; see [`Exemplars::bound_counter`].
    BoundCounterBuilder,
    /// A monotonic `u64` counter with pre-bound series, exported through the SDK's observable
    /// counter of the same name.
    BoundCounter,
    /// One series of a [`BoundCounter`].
    CounterSeries,
    u64,
    "counter",
    InstrumentType::ObservableCounter,
    u64_observable_counter
);

sum_types!(
    /// Builds a [`BoundUpDownCounter`]; see [`Exemplars::bound_up_down_counter`].
    BoundUpDownCounterBuilder,
    /// An `i64` up-down counter with pre-bound series, exported through the SDK's observable
    /// up-down counter of the same name.
    BoundUpDownCounter,
    /// One series of a [`BoundUpDownCounter`].
    UpDownSeries,
    i64,
    "up_down_counter",
    InstrumentType::ObservableUpDownCounter,
    i64_observable_up_down_counter
);

/// A snapshot of one histogram series.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    buckets: Vec<u64>,
    sum: f64,
}

impl Snapshot {
    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// One series of a histogram.
struct HistogramSeriesState {
    attributes: Vec<ProtoKeyValue>,
    /// The same attributes, for a histogram that records into the SDK's.
    kept: Vec<KeyValue>,
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
    created: u64,
    reservoir: Reservoir,
    /// What the previous delta collection reported.
    delta_base: Mutex<Snapshot>,
}

impl HistogramSeriesState {
    fn new(attributes: Vec<KeyValue>, cells: usize) -> Self {
        HistogramSeriesState {
            attributes: attributes.iter().map(Into::into).collect(),
            kept: attributes.clone(),
            buckets: (0..cells).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
            created: now_unix_nanos(),
            reservoir: Reservoir::new(Vec::new(), cells),
            delta_base: Mutex::new(Snapshot {
                buckets: vec![0; cells],
                sum: 0.0,
            }),
        }
    }

    #[inline]
    fn record(&self, bucket: usize, value: f64) {
        if let Some(cell) = self.buckets.get(bucket) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
        if value < f64::from_bits(self.min.load(Ordering::Relaxed)) {
            let _ = self
                .min
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    (value < f64::from_bits(bits)).then_some(value.to_bits())
                });
        }
        if value > f64::from_bits(self.max.load(Ordering::Relaxed)) {
            let _ = self
                .max
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                    (value > f64::from_bits(bits)).then_some(value.to_bits())
                });
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }
}

/// The series and description of one bound histogram.
struct HistogramState {
    scope: InstrumentationScope,
    name: Cow<'static, str>,
    unit: Cow<'static, str>,
    description: Cow<'static, str>,
    boundaries: Vec<f64>,
    filter: ExemplarFilter,
    /// A view dropped the stream: measurements are taken and nothing is exported.
    dropped: bool,
    /// The SDK histogram this one records into when the SDK aggregates it.
    delegate: Option<Delegate>,
    record_min_max: bool,
    series: SeriesMap<HistogramSeriesState>,
    /// When the previous delta collection ran (the start of the next delta point).
    last_delta: Mutex<u64>,
}

impl HistogramState {
    fn cells(&self) -> usize {
        self.boundaries.len() + 1
    }

    /// The data points of one collection; `delta` reports what changed since the previous
    /// delta collection. Series with nothing to report give no point.
    fn collect(&self, delta: bool, now: u64, stats: &mut InjectStats) -> Vec<HistogramDataPoint> {
        if self.dropped {
            return Vec::new();
        }
        let start_of_delta = if delta {
            let mut last = self
                .last_delta
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *last, now)
        } else {
            0
        };
        let overflow = Arc::clone(&self.series.overflow);
        let mut points = Vec::new();
        for series in self.series.all() {
            let current = series.snapshot();
            let (reported, start) = if delta {
                let mut base = series
                    .delta_base
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let diff = Snapshot {
                    buckets: current
                        .buckets
                        .iter()
                        .zip(&base.buckets)
                        .map(|(now, then)| now.saturating_sub(*then))
                        .collect(),
                    sum: current.sum - base.sum,
                };
                *base = current.clone();
                (diff, start_of_delta.max(series.created))
            } else {
                (current, series.created)
            };
            let count = reported.count();
            let samples = series.reservoir.collect(delta);
            if count == 0 {
                continue;
            }
            if Arc::ptr_eq(&series, &overflow) {
                stats.overflow_points += 1;
                stats.overflow_measurements += count;
            }
            // Min and max are since the series began: only a cumulative point can carry them.
            let (min, max) = if delta || !self.record_min_max {
                (None, None)
            } else {
                (
                    Some(f64::from_bits(series.min.load(Ordering::Relaxed))),
                    Some(f64::from_bits(series.max.load(Ordering::Relaxed))),
                )
            };
            let exemplars: Vec<_> = samples.iter().map(Sample::to_proto).collect();
            stats.exemplars += exemplars.len();
            points.push(HistogramDataPoint {
                attributes: series.attributes.clone(),
                start_time_unix_nano: start,
                time_unix_nano: now,
                count,
                sum: Some(reported.sum),
                bucket_counts: reported.buckets,
                explicit_bounds: self.boundaries.clone(),
                exemplars,
                flags: 0,
                min,
                max,
            });
        }
        points
    }
}

/// The SDK's histogram a bound histogram records into, with its reservoirs.
struct Delegate {
    sdk: opentelemetry::metrics::Histogram<f64>,
    sampler: crate::histogram::Sampler,
}

/// Builds a [`BoundHistogram`]; see [`Exemplars::bound_histogram`].
#[derive(Debug)]
#[must_use = "a builder does nothing until .build()"]
pub struct BoundHistogramBuilder {
    exemplars: Exemplars,
    scope: InstrumentationScope,
    name: Cow<'static, str>,
    unit: Cow<'static, str>,
    description: Cow<'static, str>,
    boundaries: Vec<f64>,
}

impl BoundHistogramBuilder {
    /// The unit (UCUM), e.g. `"s"` or `"By"`.
    pub fn with_unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
        self.unit = unit.into();
        self
    }

    /// The description.
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    /// The explicit bucket boundaries: finite and strictly increasing. Others are replaced by
    /// [`DEFAULT_BOUNDARIES`], where the SDK would drop the instrument.
    pub fn with_boundaries(mut self, boundaries: Vec<f64>) -> Self {
        self.boundaries = boundaries;
        self
    }

    /// Registers the histogram with the store (once per scope, name and boundaries), as the
    /// first of the store's views that selects it makes it.
    pub fn build(mut self) -> BoundHistogram {
        let info = InstrumentInfo {
            name: &self.name,
            kind: InstrumentType::Histogram,
            unit: &self.unit,
            meter_name: self.scope.name(),
            meter_version: self.scope.version(),
            meter_schema_url: self.scope.schema_url(),
        };
        let mut limit = self
            .exemplars
            .cardinality_limits()
            .of(InstrumentType::Histogram);
        let mut keys = None;
        let mut dropped = false;
        let mut record_min_max = true;
        let view = self.exemplars.view(&info).cloned();
        let delegate = self.delegate(view.as_ref());
        if let Some(view) = view {
            if let Some(name) = view.stream.name {
                self.name = Cow::Owned(name);
            }
            if let Some(description) = view.stream.description {
                self.description = Cow::Owned(description);
            }
            match view.stream.aggregation {
                Some(ViewAggregation::Drop) => dropped = true,
                Some(ViewAggregation::ExplicitBucketHistogram {
                    boundaries,
                    record_min_max: min_max,
                }) => {
                    self.boundaries = boundaries;
                    record_min_max = min_max;
                }
                _ => {}
            }
            limit = view.stream.aggregation_cardinality_limit.unwrap_or(limit);
            keys = view.stream.attribute_keys;
        }
        let boundaries = if valid_boundaries(&self.boundaries) {
            self.boundaries
        } else {
            DEFAULT_BOUNDARIES.to_vec()
        };
        let registry = self.exemplars.bound();
        let mut list = registry
            .histograms
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = list.iter().find(|h| {
            h.scope.name() == self.scope.name() && h.name == self.name && h.boundaries == boundaries
        }) {
            return BoundHistogram {
                state: Arc::clone(existing),
            };
        }
        let cells = boundaries.len() + 1;
        let state = Arc::new(HistogramState {
            scope: self.scope,
            name: self.name,
            unit: self.unit,
            description: self.description,
            boundaries,
            filter: self.exemplars.filter(),
            dropped: dropped || delegate.is_some(),
            record_min_max,
            delegate,
            series: SeriesMap::new(limit, keys, |attrs| HistogramSeriesState::new(attrs, cells)),
            last_delta: Mutex::new(now_unix_nanos()),
        });
        // The SDK exports a delegated histogram; the store must not export it again.
        if state.delegate.is_none() {
            list.push(Arc::clone(&state));
        }
        BoundHistogram { state }
    }

    /// The SDK histogram to record into when `view` (or the default aggregation) asks for one
    /// ferrotel does not do itself and the store knows its meter provider.
    fn delegate(&self, view: Option<&ferrotel_config::View>) -> Option<Delegate> {
        let (provider, exponential) = self.exemplars.sdk()?;
        let sdk_aggregates = match view.and_then(|v| v.stream.aggregation.as_ref()) {
            Some(
                ViewAggregation::Base2ExponentialBucketHistogram { .. }
                | ViewAggregation::Sum
                | ViewAggregation::LastValue,
            ) => true,
            None | Some(ViewAggregation::Default) => *exponential,
            Some(_) => false,
        };
        if !sdk_aggregates {
            return None;
        }
        use opentelemetry::metrics::MeterProvider as _;
        // The instrument as it was asked for: the SDK applies the view to it.
        let sdk = provider
            .meter_with_scope(self.scope.clone())
            .f64_histogram(self.name.clone())
            .with_unit(self.unit.clone())
            .with_description(self.description.clone())
            .with_boundaries(self.boundaries.clone())
            .build();
        let sampler = crate::histogram::Sampler::new(
            &self.exemplars,
            crate::histogram::Described {
                scope: Some(self.scope.name()),
                name: &self.name,
                unit: &self.unit,
                kind: InstrumentType::Histogram,
            },
            Some(&self.boundaries),
        );
        Some(Delegate { sdk, sampler })
    }
}

/// A histogram with pre-bound series, aggregated by ferrotel and written into the OTLP request
/// by [`Exemplars::inject`]. Clones share everything.
#[derive(Clone)]
pub struct BoundHistogram {
    state: Arc<HistogramState>,
}

impl fmt::Debug for BoundHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundHistogram")
            .field("name", &self.state.name)
            .finish_non_exhaustive()
    }
}

impl BoundHistogram {
    /// The series of `attributes` (in any order), created on first use. Keep it: the lookup
    /// is the cost a bound instrument saves.
    pub fn series(&self, attributes: &[KeyValue]) -> HistogramSeries {
        let cells = self.state.cells();
        HistogramSeries {
            histogram: Arc::clone(&self.state),
            series: self
                .state
                .series
                .get_or_create(attributes, |attrs| HistogramSeriesState::new(attrs, cells)),
        }
    }
}

/// One series of a [`BoundHistogram`].
#[derive(Clone)]
pub struct HistogramSeries {
    histogram: Arc<HistogramState>,
    series: Arc<HistogramSeriesState>,
}

impl fmt::Debug for HistogramSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramSeries")
            .field("histogram", &self.histogram.name)
            .finish_non_exhaustive()
    }
}

impl HistogramSeries {
    /// Records `value`; `cx` decides whether (and with which ids) it may become an exemplar.
    /// Non-finite values are ignored, as the SDK ignores them.
    #[inline]
    pub fn record(&self, value: f64, cx: &Context) {
        self.record_measured(Measured::F64(value), cx);
    }

    /// Records an integer `value` (a size in bytes); its exemplar is exported as `as_int`.
    #[inline]
    pub fn record_u64(&self, value: u64, cx: &Context) {
        self.record_measured(Measured::U64(value), cx);
    }

    #[inline]
    fn record_measured(&self, value: Measured, cx: &Context) {
        let as_f64 = value.as_f64();
        if !as_f64.is_finite() {
            return;
        }
        if let Some(delegate) = &self.histogram.delegate {
            delegate.sdk.record(as_f64, &self.series.kept);
            delegate.sampler.offer_in(value, &self.series.kept, cx);
            return;
        }
        let bucket = bucket_index(&self.histogram.boundaries, as_f64);
        self.series.record(bucket, as_f64);
        if let Some(ids) = admit(self.histogram.filter, cx) {
            self.series
                .reservoir
                .offer(bucket, thread_random(), move || Sample::now(value, ids));
        }
    }
}

impl Exemplars {
    /// A builder for a [`BoundCounter`] on `meter`, whose instrumentation scope is named
    /// `scope` (the store shares the series of counters built twice under one scope and name).
    pub fn bound_counter(
        &self,
        meter: &Meter,
        scope: &str,
        name: impl Into<Cow<'static, str>>,
    ) -> BoundCounterBuilder {
        BoundCounterBuilder::new(self, meter, scope, name.into())
    }

    /// A builder for a [`BoundUpDownCounter`] on `meter`; see [`Exemplars::bound_counter`].
    pub fn bound_up_down_counter(
        &self,
        meter: &Meter,
        scope: &str,
        name: impl Into<Cow<'static, str>>,
    ) -> BoundUpDownCounterBuilder {
        BoundUpDownCounterBuilder::new(self, meter, scope, name.into())
    }

    /// A builder for a [`BoundHistogram`] in `scope`, exported by [`Exemplars::inject`].
    pub fn bound_histogram(
        &self,
        scope: &InstrumentationScope,
        name: impl Into<Cow<'static, str>>,
    ) -> BoundHistogramBuilder {
        BoundHistogramBuilder {
            exemplars: self.clone(),
            scope: scope.clone(),
            name: name.into(),
            unit: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            boundaries: DEFAULT_BOUNDARIES.to_vec(),
        }
    }
}

/// Writes every bound histogram's points into `request`, into the scope's `ScopeMetrics` of the
/// first resource (added when the SDK exported nothing in that scope).
pub(crate) fn inject_histograms(
    registry: &BoundRegistry,
    request: &mut ExportMetricsServiceRequest,
    delta: bool,
    stats: &mut InjectStats,
) {
    let histograms: Vec<Arc<HistogramState>> = registry
        .histograms
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if histograms.is_empty() {
        return;
    }
    let now = now_unix_nanos();
    let temporality = if delta {
        AggregationTemporality::Delta
    } else {
        AggregationTemporality::Cumulative
    };
    for histogram in histograms {
        let points = histogram.collect(delta, now, stats);
        let Some(resource) = request.resource_metrics.first_mut() else {
            continue;
        };
        if points.is_empty() {
            continue;
        }
        let scope = &histogram.scope;
        let position = resource.scope_metrics.iter().position(|s| {
            s.scope.as_ref().is_some_and(|p| {
                p.name == scope.name() && p.version == scope.version().unwrap_or_default()
            })
        });
        let index = match position {
            Some(index) => index,
            None => {
                resource.scope_metrics.push(ScopeMetrics {
                    scope: Some(ProtoScope {
                        name: scope.name().to_owned(),
                        version: scope.version().unwrap_or_default().to_owned(),
                        attributes: scope.attributes().map(Into::into).collect(),
                        dropped_attributes_count: 0,
                    }),
                    metrics: Vec::new(),
                    schema_url: scope.schema_url().unwrap_or_default().to_owned(),
                });
                resource.scope_metrics.len() - 1
            }
        };
        let Some(scope_metrics) = resource.scope_metrics.get_mut(index) else {
            continue;
        };
        scope_metrics.metrics.push(Metric {
            name: histogram.name.to_string(),
            description: histogram.description.to_string(),
            unit: histogram.unit.to_string(),
            metadata: Vec::new(),
            data: Some(metric::Data::Histogram(ProtoHistogram {
                data_points: points,
                aggregation_temporality: temporality as i32,
            })),
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId};
    use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder("test-scope")
            .with_version("1.0")
            .build()
    }

    fn empty_request() -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics::default()],
        }
    }

    fn points(request: &ExportMetricsServiceRequest, name: &str) -> Vec<HistogramDataPoint> {
        request.resource_metrics[0]
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(metric::Data::Histogram(h)) => h.data_points.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn views_rename_rebucket_drop_and_filter_bound_histograms() {
        use ferrotel_config::{AttributeKeys, CardinalityLimits, View, ViewAggregation};
        let mut micro = View::named("io.duration");
        micro.stream.name = Some("io.latency".to_owned());
        micro.stream.aggregation = Some(ViewAggregation::ExplicitBucketHistogram {
            boundaries: vec![0.00001, 0.0001, 0.001],
            record_min_max: false,
        });
        micro.stream.attribute_keys = Some(AttributeKeys {
            included: None,
            excluded: vec!["client".to_owned()],
        });
        micro.stream.aggregation_cardinality_limit = Some(2);
        let mut drop = View::named("debug.*");
        drop.stream.aggregation = Some(ViewAggregation::Drop);
        let store = Exemplars::with_views(
            ExemplarFilter::AlwaysOn,
            vec![micro, drop],
            CardinalityLimits::default(),
        );
        let io = store.bound_histogram(&scope(), "io.duration").build();
        for (op, client) in [("read", "a"), ("read", "b"), ("write", "a"), ("sync", "a")] {
            io.series(&[KeyValue::new("op", op), KeyValue::new("client", client)])
                .record(0.00005, &sampled());
        }
        let debug = store.bound_histogram(&scope(), "debug.size").build();
        debug.series(&[]).record(1.0, &Context::new());

        let mut request = empty_request();
        let stats = store.inject(&mut request, false);
        assert!(points(&request, "io.duration").is_empty());
        assert!(points(&request, "debug.size").is_empty(), "dropped");
        let io = points(&request, "io.latency");
        // client dropped: read/a and read/b are one series; the limit of 2 sends sync to
        // the overflow series.
        assert_eq!(io.len(), 3, "{io:#?}");
        let overflow = io
            .iter()
            .find(|p| p.attributes[0].key == OVERFLOW_KEY)
            .expect("an overflow series");
        assert_eq!(overflow.count, 1);
        assert_eq!(stats.overflow_points, 1);
        let by_op = |op: &str| {
            io.iter()
                .find(|p| {
                    p.attributes.len() == 1
                        && p.attributes[0].value.as_ref().is_some_and(|v| {
                            v.value
                                == Some(
                                    opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                        op.to_owned(),
                                    ),
                                )
                        })
                })
                .unwrap_or_else(|| panic!("{op}: {io:#?}"))
        };
        let read = by_op("read");
        assert_eq!(read.count, 2);
        assert_eq!(read.explicit_bounds, [0.00001, 0.0001, 0.001]);
        assert_eq!(read.bucket_counts, [0, 2, 0, 0]);
        assert_eq!((read.min, read.max), (None, None), "record_min_max: false");
        // The exemplars follow the new buckets.
        assert_eq!(read.exemplars.len(), 1);
        assert_eq!(by_op("write").count, 1);
    }

    fn sampled() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            TraceFlags::SAMPLED,
            false,
            Default::default(),
        ))
    }

    #[test]
    fn histogram_points_cumulative_and_delta() {
        let store = Exemplars::new(ExemplarFilter::TraceBased);
        let h = store
            .bound_histogram(&scope(), "op.duration")
            .with_unit("s")
            .with_description("d")
            .with_boundaries(vec![1.0, 10.0])
            .build();
        let a = h.series(&[KeyValue::new("b", 2), KeyValue::new("a", "x")]);
        // The same set in another order is the same series.
        let again = h.series(&[KeyValue::new("a", "x"), KeyValue::new("b", 2)]);
        a.record(0.5, &Context::new());
        again.record(5.0, &sampled());
        a.record(50.0, &Context::new());
        a.record(f64::NAN, &Context::new());

        let mut request = empty_request();
        let stats = store.inject(&mut request, false);
        let scope_metrics = &request.resource_metrics[0].scope_metrics[0];
        assert_eq!(scope_metrics.scope.as_ref().unwrap().name, "test-scope");
        assert_eq!(scope_metrics.metrics[0].unit, "s");
        let got = points(&request, "op.duration");
        assert_eq!(got.len(), 1);
        let p = &got[0];
        assert_eq!(p.count, 3);
        assert_eq!(p.sum, Some(55.5));
        assert_eq!(p.bucket_counts, vec![1, 1, 1]);
        assert_eq!(p.explicit_bounds, vec![1.0, 10.0]);
        assert_eq!((p.min, p.max), (Some(0.5), Some(50.0)));
        assert_eq!(p.attributes.len(), 2);
        assert_eq!(p.attributes[0].key, "a", "sorted");
        assert_eq!(p.exemplars.len(), 1, "only the sampled measurement");
        assert_eq!(p.exemplars[0].trace_id, TraceId::from(7u128).to_bytes());
        assert_eq!(stats.exemplars, 1);

        // Delta: everything so far, then only what is new; nothing new gives no point.
        let mut first = empty_request();
        store.inject(&mut first, true);
        assert_eq!(points(&first, "op.duration")[0].count, 3);
        a.record(2.0, &Context::new());
        let mut second = empty_request();
        store.inject(&mut second, true);
        let p = &points(&second, "op.duration")[0];
        assert_eq!((p.count, p.sum, p.min), (1, Some(2.0), None));
        assert_eq!(p.bucket_counts, vec![0, 1, 0]);
        let mut third = empty_request();
        store.inject(&mut third, true);
        assert!(points(&third, "op.duration").is_empty());
        // Cumulative readers still see the whole history.
        let mut cumulative = empty_request();
        store.inject(&mut cumulative, false);
        assert_eq!(points(&cumulative, "op.duration")[0].count, 4);
    }

    #[test]
    fn built_twice_shares_series_and_joins_an_existing_scope() {
        let store = Exemplars::new(ExemplarFilter::AlwaysOff);
        let one = store.bound_histogram(&scope(), "h").build();
        let two = store.bound_histogram(&scope(), "h").build();
        one.series(&[]).record(1.0, &Context::new());
        two.series(&[]).record(1.0, &Context::new());
        let mut request = empty_request();
        request.resource_metrics[0]
            .scope_metrics
            .push(ScopeMetrics {
                scope: Some(ProtoScope {
                    name: "test-scope".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        store.inject(&mut request, false);
        assert_eq!(request.resource_metrics[0].scope_metrics.len(), 1);
        let got = points(&request, "h");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].count, 2);
        assert!(got[0].exemplars.is_empty(), "always_off keeps none");
    }

    #[test]
    fn series_beyond_the_limit_go_to_overflow() {
        let map: SeriesMap<SumSeries> = SeriesMap::new(2, None, SumSeries::new);
        let a = map.get_or_create(&[KeyValue::new("i", 1)], SumSeries::new);
        let _b = map.get_or_create(&[KeyValue::new("i", 2)], SumSeries::new);
        let c = map.get_or_create(&[KeyValue::new("i", 3)], SumSeries::new);
        assert!(Arc::ptr_eq(&c, &map.overflow));
        assert!(!Arc::ptr_eq(&a, &map.overflow));
        assert_eq!(c.attributes, vec![KeyValue::new(OVERFLOW_KEY, true)]);
        assert_eq!(map.all().len(), 3);
    }

    #[test]
    fn invalid_boundaries_fall_back_to_the_default() {
        let store = Exemplars::default();
        let h = store
            .bound_histogram(&scope(), "h")
            .with_boundaries(vec![2.0, 1.0])
            .build();
        assert_eq!(h.state.boundaries, DEFAULT_BOUNDARIES.to_vec());
    }
}
