//! The exemplar store of one meter provider, and how its samples get into an OTLP request.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use ferrotel_config::{CardinalityLimits, ExemplarFilter, InstrumentInfo, View};
use opentelemetry::metrics::Meter;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue as ProtoKeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Exemplar};

use crate::bound::{inject_histograms, BoundRegistry};
use crate::histogram::{HistogramBuilder, U64HistogramBuilder};
use crate::instrument::{attributes_key, Collected, InstrumentState, OVERFLOW_KEY};
use crate::reservoir::{bucket_index, Sample};

/// The exemplar store of one meter provider: the reservoirs of every histogram built through
/// it, and the filter that decides which measurements may become exemplars.
///
/// Cheap to clone (an `Arc` inside). Build histograms with [`Exemplars::f64_histogram`] /
/// [`Exemplars::u64_histogram`] and let the metric export path call [`Exemplars::inject`]
/// (ferrotel-otlp's `OtlpMetricExporter` does).
#[derive(Clone)]
pub struct Exemplars {
    inner: Arc<Inner>,
}

struct Inner {
    filter: ExemplarFilter,
    /// The meter provider's views: bound instruments apply them, reservoirs follow them.
    views: Vec<View>,
    limits: CardinalityLimits,
    /// The SDK provider bound histograms hand aggregations ferrotel does not do itself to,
    /// and whether histograms default to exponential there.
    sdk: std::sync::OnceLock<(opentelemetry_sdk::metrics::SdkMeterProvider, bool)>,
    instruments: RwLock<Vec<Arc<InstrumentState>>>,
    bound: BoundRegistry,
}

impl fmt::Debug for Exemplars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let instruments = self
            .inner
            .instruments
            .read()
            .map(|list| list.len())
            .unwrap_or_default();
        f.debug_struct("Exemplars")
            .field("filter", &self.inner.filter)
            .field("instruments", &instruments)
            .finish()
    }
}

impl Default for Exemplars {
    /// A store with the default filter, `trace_based`.
    fn default() -> Self {
        Exemplars::new(ExemplarFilter::default())
    }
}

/// What one [`Exemplars::inject`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InjectStats {
    /// Exemplars written into histogram data points.
    pub exemplars: usize,
    /// Data points (of any metric type) carrying `otel.metric.overflow=true`: the SDK's
    /// cardinality limit (2000 attribute sets per instrument by default) was reached.
    pub overflow_points: usize,
    /// Measurements aggregated into overflow histogram data points (their `count`).
    pub overflow_measurements: u64,
    /// Measurements on new attribute sets that found the reservoir map of their histogram full
    /// (2000 sets) since the previous collection; they were offered to the overflow reservoir.
    pub reservoir_overflow: u64,
}

/// The process-wide store `ferrotel::init()` installs, read by instrumentation (the Tower
/// layers, the NFS/storage/Raft instruments) that is not handed a store explicitly.
static GLOBAL: RwLock<Option<Exemplars>> = RwLock::new(None);

impl Exemplars {
    /// The global store. Until one is installed it is an `always_off` store, so histograms
    /// built before telemetry starts cost what the SDK histogram costs.
    pub fn global() -> Exemplars {
        match GLOBAL.read() {
            Ok(global) => global
                .clone()
                .unwrap_or_else(|| Exemplars::new(ExemplarFilter::AlwaysOff)),
            Err(_) => Exemplars::new(ExemplarFilter::AlwaysOff),
        }
    }

    /// Installs `store` as the global one; histograms built afterwards use it.
    pub fn set_global(store: Exemplars) {
        if let Ok(mut global) = GLOBAL.write() {
            *global = Some(store);
        }
    }

    /// A store applying `filter` (`OTEL_METRICS_EXEMPLAR_FILTER`).
    pub fn new(filter: ExemplarFilter) -> Self {
        Exemplars::with_views(filter, Vec::new(), CardinalityLimits::default())
    }

    /// A store applying `filter`, for a meter provider with `views` and `limits`: bound
    /// instruments apply the first view that selects them (name, description, explicit
    /// buckets, drop, attribute keys, cardinality limit) as the SDK applies views to its own,
    /// and the reservoirs of the SDK's histograms follow a view's name, buckets and kept
    /// attributes, so exemplars survive it.
    pub fn with_views(filter: ExemplarFilter, views: Vec<View>, limits: CardinalityLimits) -> Self {
        Exemplars {
            inner: Arc::new(Inner {
                filter,
                views,
                limits,
                sdk: std::sync::OnceLock::new(),
                instruments: RwLock::new(Vec::new()),
                bound: BoundRegistry::default(),
            }),
        }
    }

    /// The bound instruments built through this store.
    pub(crate) fn bound(&self) -> &BoundRegistry {
        &self.inner.bound
    }

    /// The meter provider this store belongs to: bound histograms built afterwards whose view
    /// asks for an aggregation ferrotel does not do itself (exponential, sum, last value), or
    /// that default to exponential (`exponential_histograms`), record into the SDK's
    /// histogram of the same name instead, where the SDK applies the view. Set once; later
    /// calls are ignored.
    pub fn attach_meter_provider(
        &self,
        provider: opentelemetry_sdk::metrics::SdkMeterProvider,
        exponential_histograms: bool,
    ) {
        let _ = self.inner.sdk.set((provider, exponential_histograms));
    }

    /// The attached provider, and whether histograms default to exponential.
    pub(crate) fn sdk(&self) -> Option<&(opentelemetry_sdk::metrics::SdkMeterProvider, bool)> {
        self.inner.sdk.get()
    }

    /// The views this store's instruments follow.
    pub fn views(&self) -> &[View] {
        &self.inner.views
    }

    /// The cardinality limits of instruments without a view's own.
    pub fn cardinality_limits(&self) -> CardinalityLimits {
        self.inner.limits
    }

    /// The first view that selects `instrument`.
    pub(crate) fn view(&self, instrument: &InstrumentInfo<'_>) -> Option<&View> {
        self.inner
            .views
            .iter()
            .find(|view| view.matches(instrument))
    }

    /// The filter this store applies.
    pub fn filter(&self) -> ExemplarFilter {
        self.inner.filter
    }

    /// A builder for an `f64` histogram on `meter` that also offers its measurements as
    /// exemplars.
    pub fn f64_histogram(
        &self,
        meter: &Meter,
        name: impl Into<Cow<'static, str>>,
    ) -> HistogramBuilder {
        HistogramBuilder::new(self.clone(), meter.clone(), name.into())
    }

    /// A builder for a `u64` histogram (sizes in bytes, counts) on `meter`; its exemplars are
    /// exported as `as_int`.
    pub fn u64_histogram(
        &self,
        meter: &Meter,
        name: impl Into<Cow<'static, str>>,
    ) -> U64HistogramBuilder {
        U64HistogramBuilder::new(self.clone(), meter.clone(), name.into())
    }

    /// The reservoirs of an instrument, shared with an earlier histogram of the same scope,
    /// name and boundaries (the SDK aggregates those together too), or new. `None` when the
    /// filter is `always_off`: then nothing is kept at all.
    pub(crate) fn register(
        &self,
        scope: Option<String>,
        name: &str,
        boundaries: Vec<f64>,
        limit: usize,
    ) -> Option<Arc<InstrumentState>> {
        if self.inner.filter == ExemplarFilter::AlwaysOff {
            return None;
        }
        let mut list = self
            .inner
            .instruments
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = list
            .iter()
            .find(|i| i.scope == scope && i.name == name && i.boundaries == boundaries)
        {
            return Some(Arc::clone(existing));
        }
        let state = Arc::new(InstrumentState::new(
            scope,
            name.to_owned(),
            boundaries,
            limit,
        ));
        list.push(Arc::clone(&state));
        Some(state)
    }

    /// Fills the exemplars of every histogram and sum data point of `request` from the
    /// reservoirs, and adds the points of every [`BoundHistogram`](crate::BoundHistogram)
    /// built through this store.
    ///
    /// A data point gets the exemplars of the reservoir with the same scope name (or a
    /// histogram built without [`HistogramBuilder::with_scope`], which matches any scope),
    /// metric name and attribute set; points the store does not know get none. At most one
    /// exemplar per bucket of the point's `explicit_bounds` (exponential histograms: at most
    /// one per bucket of the builder's boundaries).
    ///
    /// `delta`: the exemplars are taken and every reservoir starts empty (and idle attribute
    /// sets are forgotten); otherwise (cumulative) each bucket keeps its latest exemplar across
    /// collections until a newer measurement in that bucket replaces it.
    ///
    /// `filtered_attributes` is always empty: exemplars are matched by the full attribute set,
    /// so a view that drops attributes (`with_allowed_attribute_keys`) leaves its points
    /// without exemplars rather than with misattributed ones.
    pub fn inject(&self, request: &mut ExportMetricsServiceRequest, delta: bool) -> InjectStats {
        let instruments: Vec<Arc<InstrumentState>> = self
            .inner
            .instruments
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut stats = InjectStats::default();
        let mut collected: Vec<Option<Collected>> = instruments.iter().map(|_| None).collect();
        if delta {
            // Every reservoir starts a new period, exported or not.
            for (slot, state) in collected.iter_mut().zip(&instruments) {
                *slot = Some(state.collect(true));
            }
        }

        for resource in &mut request.resource_metrics {
            for scope_metrics in &mut resource.scope_metrics {
                let scope = scope_metrics
                    .scope
                    .as_ref()
                    .map(|s| s.name.as_str())
                    .unwrap_or_default();
                for metric in &mut scope_metrics.metrics {
                    count_overflow(metric.data.as_ref(), &mut stats);
                    let Some(index) = find_instrument(&instruments, scope, &metric.name) else {
                        continue;
                    };
                    let Some(state) = instruments.get(index) else {
                        continue;
                    };
                    let Some(slot) = collected.get_mut(index) else {
                        continue;
                    };
                    let samples = &mut slot.get_or_insert_with(|| state.collect(false)).samples;
                    match metric.data.as_mut() {
                        Some(metric::Data::Histogram(h)) => {
                            for point in &mut h.data_points {
                                let Some(found) = take(samples, &point.attributes, delta) else {
                                    continue;
                                };
                                point.exemplars = per_bucket(&found, &point.explicit_bounds);
                                stats.exemplars += point.exemplars.len();
                            }
                        }
                        Some(metric::Data::Sum(sum)) => {
                            for point in &mut sum.data_points {
                                let Some(found) = take(samples, &point.attributes, delta) else {
                                    continue;
                                };
                                point.exemplars = found.iter().map(Sample::to_proto).collect();
                                stats.exemplars += point.exemplars.len();
                            }
                        }
                        Some(metric::Data::ExponentialHistogram(h)) => {
                            for point in &mut h.data_points {
                                let Some(found) = take(samples, &point.attributes, delta) else {
                                    continue;
                                };
                                point.exemplars = found.iter().map(Sample::to_proto).collect();
                                stats.exemplars += point.exemplars.len();
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        stats.reservoir_overflow = collected.iter().flatten().map(|c| c.dropped).sum();
        inject_histograms(&self.inner.bound, request, delta, &mut stats);
        stats
    }
}

/// The instrument for a metric: one built for exactly this scope first, else one built
/// without a scope.
fn find_instrument(instruments: &[Arc<InstrumentState>], scope: &str, name: &str) -> Option<usize> {
    let named = |i: &&Arc<InstrumentState>| i.name == name;
    instruments
        .iter()
        .position(|i| named(&i) && i.scope.as_deref() == Some(scope))
        .or_else(|| {
            instruments
                .iter()
                .position(|i| named(&i) && i.scope.is_none())
        })
}

/// The samples of a data point's attribute set: taken with `delta` (a second point with the
/// same set, in another scope, gets none), copied otherwise.
fn take(
    samples: &mut HashMap<Vec<u8>, Vec<Sample>>,
    attributes: &[ProtoKeyValue],
    delta: bool,
) -> Option<Vec<Sample>> {
    if samples.is_empty() {
        return None;
    }
    let key = attributes_key(attributes);
    if delta {
        samples.remove(&key)
    } else {
        samples.get(&key).cloned()
    }
}

/// At most one exemplar per bucket of `bounds` (the newest when a view changed the boundaries
/// so that several reservoir cells fall into one bucket), in bucket order.
fn per_bucket(samples: &[Sample], bounds: &[f64]) -> Vec<Exemplar> {
    let mut chosen: BTreeMap<usize, &Sample> = BTreeMap::new();
    for sample in samples {
        let bucket = bucket_index(bounds, sample.value.as_f64());
        let entry = chosen.entry(bucket).or_insert(sample);
        if sample.time_unix_nano > entry.time_unix_nano {
            *entry = sample;
        }
    }
    chosen.values().map(|s| s.to_proto()).collect()
}

fn is_overflow(attributes: &[ProtoKeyValue]) -> bool {
    attributes.iter().any(|kv| {
        kv.key == OVERFLOW_KEY
            && matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(any_value::Value::BoolValue(true))
            )
    })
}

fn count_overflow(data: Option<&metric::Data>, stats: &mut InjectStats) {
    let mut points = 0usize;
    let mut measurements = 0u64;
    match data {
        Some(metric::Data::Histogram(h)) => {
            for p in h.data_points.iter().filter(|p| is_overflow(&p.attributes)) {
                points += 1;
                measurements += p.count;
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in h.data_points.iter().filter(|p| is_overflow(&p.attributes)) {
                points += 1;
                measurements += p.count;
            }
        }
        Some(metric::Data::Sum(s)) => {
            points += s
                .data_points
                .iter()
                .filter(|p| is_overflow(&p.attributes))
                .count();
        }
        Some(metric::Data::Gauge(g)) => {
            points += g
                .data_points
                .iter()
                .filter(|p| is_overflow(&p.attributes))
                .count();
        }
        Some(metric::Data::Summary(s)) => {
            points += s
                .data_points
                .iter()
                .filter(|p| is_overflow(&p.attributes))
                .count();
        }
        None => {}
    }
    stats.overflow_points += points;
    stats.overflow_measurements += measurements;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::reservoir::Measured;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    };

    fn point(
        attributes: &[opentelemetry::KeyValue],
        bounds: &[f64],
        count: u64,
    ) -> HistogramDataPoint {
        HistogramDataPoint {
            attributes: attributes.iter().map(Into::into).collect(),
            explicit_bounds: bounds.to_vec(),
            count,
            ..Default::default()
        }
    }

    fn request(scopes: Vec<(&str, Vec<HistogramDataPoint>)>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: scopes
                    .into_iter()
                    .map(|(scope, points)| ScopeMetrics {
                        scope: Some(InstrumentationScope {
                            name: scope.into(),
                            ..Default::default()
                        }),
                        metrics: vec![Metric {
                            name: "h".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: points,
                                aggregation_temporality: 2,
                            })),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
        }
    }

    fn exemplars_of(req: &ExportMetricsServiceRequest, scope: usize, point: usize) -> Vec<f64> {
        let Some(metric::Data::Histogram(h)) =
            &req.resource_metrics[0].scope_metrics[scope].metrics[0].data
        else {
            panic!("histogram");
        };
        h.data_points[point]
            .exemplars
            .iter()
            .map(|e| match e.value {
                Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(v)) => v,
                _ => panic!("double"),
            })
            .collect()
    }

    #[test]
    fn matches_scope_name_and_attributes_and_counts_overflow() {
        let store = Exemplars::new(ExemplarFilter::AlwaysOn);
        let bounds = vec![1.0, 5.0, 10.0];
        let state = store
            .register(Some("s".into()), "h", bounds.clone(), 2000)
            .unwrap();
        let a = [opentelemetry::KeyValue::new("k", "a")];
        for v in [0.5, 3.0, 7.0, 20.0] {
            state.offer(&a, Measured::F64(v), None);
        }
        let overflow = [opentelemetry::KeyValue::new(OVERFLOW_KEY, true)];
        let mut req = request(vec![
            (
                "s",
                vec![
                    point(&a, &bounds, 4),
                    point(&[opentelemetry::KeyValue::new("k", "unknown")], &bounds, 1),
                    point(&overflow, &bounds, 7),
                ],
            ),
            ("other-scope", vec![point(&a, &bounds, 4)]),
        ]);
        let stats = store.inject(&mut req, false);
        assert_eq!(exemplars_of(&req, 0, 0), vec![0.5, 3.0, 7.0, 20.0]);
        assert!(exemplars_of(&req, 0, 1).is_empty(), "unknown attribute set");
        assert!(exemplars_of(&req, 0, 2).is_empty());
        assert!(
            exemplars_of(&req, 1, 0).is_empty(),
            "scoped instrument, other scope"
        );
        assert_eq!(
            stats,
            InjectStats {
                exemplars: 4,
                overflow_points: 1,
                overflow_measurements: 7,
                reservoir_overflow: 0,
            }
        );
    }

    #[test]
    fn rebuckets_when_a_view_changed_boundaries_and_unscoped_matches_any_scope() {
        let store = Exemplars::new(ExemplarFilter::AlwaysOn);
        let state = store
            .register(None, "h", vec![1.0, 5.0, 10.0], 2000)
            .unwrap();
        for v in [0.5, 3.0, 7.0, 20.0] {
            state.offer(&[], Measured::F64(v), None);
        }
        let mut req = request(vec![("any", vec![point(&[], &[100.0], 4)])]);
        let stats = store.inject(&mut req, true);
        assert_eq!(stats.exemplars, 1, "one bucket (-inf, 100] holds 0.5..20");
        assert_eq!(exemplars_of(&req, 0, 0).len(), 1);
        // Delta: taken.
        let mut again = request(vec![("any", vec![point(&[], &[100.0], 0)])]);
        assert_eq!(store.inject(&mut again, true).exemplars, 0);
    }

    #[test]
    fn always_off_registers_nothing() {
        let store = Exemplars::new(ExemplarFilter::AlwaysOff);
        assert!(store.register(None, "h", vec![], 2000).is_none());
        assert_eq!(store.filter(), ExemplarFilter::AlwaysOff);
    }
}
