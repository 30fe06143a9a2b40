//! A meter provider whose every histogram and counter offers its measurements as exemplars,
//! so a plain `meter.f64_histogram(…)` from the global meter needs no special API.
//!
//! The API's `Meter` is a handle on an `InstrumentProvider`; [`ExemplarMeterProvider`] hands out
//! meters whose instrument provider builds each instrument on the SDK meter of the same scope
//! (aggregation, views and readers stay the SDK's) and, for histograms and counters, wraps it
//! in an instrument that also offers every measurement to the reservoir of its attribute set in
//! the provider's [`Exemplars`] store. Other instruments are the SDK's, untouched.

use std::cell::Cell;
use std::sync::Arc;

use opentelemetry::metrics::{
    AsyncInstrument, AsyncInstrumentBuilder, Counter, Gauge, Histogram, HistogramBuilder,
    InstrumentBuilder, InstrumentProvider, Meter, MeterProvider, ObservableCounter,
    ObservableGauge, ObservableUpDownCounter, SyncInstrument, UpDownCounter,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::metrics::SdkMeterProvider;

use crate::exemplars::Exemplars;
use crate::histogram::{Described, Sampler, DEFAULT_BOUNDARIES};
use crate::reservoir::Measured;
use ferrotel_config::{AttributeKeys, InstrumentInfo, InstrumentType};

thread_local! {
    /// Set while [`HistogramBuilder`](crate::HistogramBuilder) builds its SDK histogram: that
    /// histogram offers exemplars itself, so the provider must not wrap it a second time.
    static BUILDING_PLAIN: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's instruments built unwrapped (see [`BUILDING_PLAIN`]).
pub(crate) fn building_plain<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BUILDING_PLAIN.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BUILDING_PLAIN.with(|b| b.replace(true)));
    f()
}

fn wrapping() -> bool {
    !BUILDING_PLAIN.with(Cell::get)
}

/// A meter provider over an [`SdkMeterProvider`] whose histograms and counters carry exemplars
/// from `store`; what `ferrotel::init()` installs as the global meter provider.
///
/// ```
/// use ferrotel_metrics::{ExemplarFilter, ExemplarMeterProvider, Exemplars};
/// use opentelemetry::metrics::MeterProvider as _;
///
/// let sdk = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let meters = ExemplarMeterProvider::new(sdk, Exemplars::new(ExemplarFilter::TraceBased));
/// // Plain OpenTelemetry API: the measurement is offered as an exemplar too.
/// let latency = meters.meter("shop").f64_histogram("http.server.request.duration").build();
/// latency.record(0.3, &[]);
/// ```
#[derive(Clone, Debug)]
pub struct ExemplarMeterProvider {
    sdk: SdkMeterProvider,
    exemplars: Exemplars,
}

impl ExemplarMeterProvider {
    /// Wraps `sdk`; exemplars go to `exemplars`, which the export path must inject
    /// (ferrotel-otlp's `OtlpMetricExporter` does).
    pub fn new(sdk: SdkMeterProvider, exemplars: Exemplars) -> Self {
        Self { sdk, exemplars }
    }

    /// The SDK provider underneath (flush, shutdown).
    pub fn sdk(&self) -> &SdkMeterProvider {
        &self.sdk
    }

    /// The exemplar store.
    pub fn exemplars(&self) -> &Exemplars {
        &self.exemplars
    }
}

impl MeterProvider for ExemplarMeterProvider {
    fn meter_with_scope(&self, scope: InstrumentationScope) -> Meter {
        let scope_name = scope.name().to_owned();
        Meter::new(Arc::new(ExemplarInstruments {
            sdk: self.sdk.meter_with_scope(scope),
            scope: scope_name,
            exemplars: self.exemplars.clone(),
        }))
    }
}

/// The instrument provider of one meter: the SDK meter of the scope, and the store.
struct ExemplarInstruments {
    sdk: Meter,
    scope: String,
    exemplars: Exemplars,
}

impl ExemplarInstruments {
    /// The keys of the view selecting this instrument when it excludes some: the SDK keeps
    /// an allow-list only, so exclusion happens here.
    fn exclusion(
        &self,
        name: &str,
        unit: Option<&str>,
        kind: InstrumentType,
    ) -> Option<Arc<AttributeKeys>> {
        let info = InstrumentInfo {
            name,
            kind,
            unit: unit.unwrap_or_default(),
            meter_name: &self.scope,
            meter_version: None,
            meter_schema_url: None,
        };
        let keys = self.exemplars.view(&info)?.stream.attribute_keys.as_ref()?;
        (!keys.excluded.is_empty()).then(|| Arc::new(keys.clone()))
    }

    fn sampler(
        &self,
        name: &str,
        unit: &str,
        kind: InstrumentType,
        boundaries: Option<&[f64]>,
    ) -> Sampler {
        let described = Described {
            scope: Some(&self.scope),
            name,
            unit,
            kind,
        };
        Sampler::new(&self.exemplars, described, boundaries)
    }
}

/// Copies the name, unit and description of a sync instrument builder onto the SDK's, and
/// drops the attributes a view excludes before the SDK sees them.
macro_rules! forward_sync {
    ($this:expr, $method:ident, $builder:expr, $api:ident, $record:ident, $kind:expr) => {{
        let builder = $builder;
        let excluded = $this.exclusion(&builder.name, builder.unit.as_deref(), $kind);
        let mut sdk = $this.sdk.$method(builder.name.clone());
        if let Some(unit) = builder.unit.clone() {
            sdk = sdk.with_unit(unit);
        }
        if let Some(description) = builder.description.clone() {
            sdk = sdk.with_description(description);
        }
        let sdk = sdk.build();
        match excluded {
            None => sdk,
            Some(keys) => $api::new(Arc::new(Excluding {
                keys,
                record: move |v, attrs: &[KeyValue]| sdk.$record(v, attrs),
            })),
        }
    }};
}

/// Likewise for an asynchronous instrument, callbacks included.
macro_rules! forward_async {
    ($this:expr, $method:ident, $builder:expr, $kind:expr) => {{
        let builder = $builder;
        let excluded = $this.exclusion(&builder.name, builder.unit.as_deref(), $kind);
        let mut sdk = $this.sdk.$method(builder.name.clone());
        if let Some(unit) = builder.unit.clone() {
            sdk = sdk.with_unit(unit);
        }
        if let Some(description) = builder.description.clone() {
            sdk = sdk.with_description(description);
        }
        for callback in builder.callbacks {
            match excluded.clone() {
                None => sdk = sdk.with_callback(callback),
                Some(keys) => {
                    sdk = sdk.with_callback(move |observer| {
                        callback(&ExcludingObserver {
                            inner: observer,
                            keys: &keys,
                        })
                    })
                }
            }
        }
        sdk.build()
    }};
}

/// Likewise for a histogram, boundaries included.
macro_rules! forward_histogram {
    ($this:expr, $method:ident, $builder:expr) => {{
        let builder = $builder;
        let excluded = $this.exclusion(
            &builder.name,
            builder.unit.as_deref(),
            InstrumentType::Histogram,
        );
        let mut sdk = $this.sdk.$method(builder.name.clone());
        if let Some(unit) = builder.unit.clone() {
            sdk = sdk.with_unit(unit);
        }
        if let Some(description) = builder.description.clone() {
            sdk = sdk.with_description(description);
        }
        if let Some(boundaries) = builder.boundaries.clone() {
            sdk = sdk.with_boundaries(boundaries);
        }
        let sdk = sdk.build();
        match excluded {
            None => sdk,
            Some(keys) => Histogram::new(Arc::new(Excluding {
                keys,
                record: move |v, attrs: &[KeyValue]| sdk.record(v, attrs),
            })),
        }
    }};
}

impl InstrumentProvider for ExemplarInstruments {
    fn u64_counter(&self, builder: InstrumentBuilder<'_, Counter<u64>>) -> Counter<u64> {
        let name = builder.name.clone();
        let unit = builder.unit.clone().unwrap_or_default();
        let sdk = forward_sync!(
            self,
            u64_counter,
            builder,
            Counter,
            add,
            InstrumentType::Counter
        );
        if !wrapping() {
            return sdk;
        }
        Counter::new(Arc::new(Offering {
            sampler: self.sampler(&name, &unit, InstrumentType::Counter, Some(&[])),
            record: move |v: u64, attrs: &[KeyValue]| sdk.add(v, attrs),
            measured: Measured::U64,
        }))
    }

    fn f64_counter(&self, builder: InstrumentBuilder<'_, Counter<f64>>) -> Counter<f64> {
        let name = builder.name.clone();
        let unit = builder.unit.clone().unwrap_or_default();
        let sdk = forward_sync!(
            self,
            f64_counter,
            builder,
            Counter,
            add,
            InstrumentType::Counter
        );
        if !wrapping() {
            return sdk;
        }
        Counter::new(Arc::new(Offering {
            sampler: self.sampler(&name, &unit, InstrumentType::Counter, Some(&[])),
            record: move |v: f64, attrs: &[KeyValue]| sdk.add(v, attrs),
            measured: Measured::F64,
        }))
    }

    fn f64_histogram(&self, builder: HistogramBuilder<'_, Histogram<f64>>) -> Histogram<f64> {
        let name = builder.name.clone();
        let unit = builder.unit.clone().unwrap_or_default();
        let boundaries = builder.boundaries.clone();
        let sdk = forward_histogram!(self, f64_histogram, builder);
        if !wrapping() {
            return sdk;
        }
        Histogram::new(Arc::new(Offering {
            sampler: self.sampler(
                &name,
                &unit,
                InstrumentType::Histogram,
                Some(boundaries.as_deref().unwrap_or(&DEFAULT_BOUNDARIES)),
            ),
            record: move |v: f64, attrs: &[KeyValue]| sdk.record(v, attrs),
            measured: Measured::F64,
        }))
    }

    fn u64_histogram(&self, builder: HistogramBuilder<'_, Histogram<u64>>) -> Histogram<u64> {
        let name = builder.name.clone();
        let unit = builder.unit.clone().unwrap_or_default();
        let boundaries = builder.boundaries.clone();
        let sdk = forward_histogram!(self, u64_histogram, builder);
        if !wrapping() {
            return sdk;
        }
        Histogram::new(Arc::new(Offering {
            sampler: self.sampler(
                &name,
                &unit,
                InstrumentType::Histogram,
                Some(boundaries.as_deref().unwrap_or(&DEFAULT_BOUNDARIES)),
            ),
            record: move |v: u64, attrs: &[KeyValue]| sdk.record(v, attrs),
            measured: Measured::U64,
        }))
    }

    fn i64_up_down_counter(
        &self,
        builder: InstrumentBuilder<'_, UpDownCounter<i64>>,
    ) -> UpDownCounter<i64> {
        forward_sync!(
            self,
            i64_up_down_counter,
            builder,
            UpDownCounter,
            add,
            InstrumentType::UpDownCounter
        )
    }

    fn f64_up_down_counter(
        &self,
        builder: InstrumentBuilder<'_, UpDownCounter<f64>>,
    ) -> UpDownCounter<f64> {
        forward_sync!(
            self,
            f64_up_down_counter,
            builder,
            UpDownCounter,
            add,
            InstrumentType::UpDownCounter
        )
    }

    fn u64_gauge(&self, builder: InstrumentBuilder<'_, Gauge<u64>>) -> Gauge<u64> {
        forward_sync!(
            self,
            u64_gauge,
            builder,
            Gauge,
            record,
            InstrumentType::Gauge
        )
    }

    fn f64_gauge(&self, builder: InstrumentBuilder<'_, Gauge<f64>>) -> Gauge<f64> {
        forward_sync!(
            self,
            f64_gauge,
            builder,
            Gauge,
            record,
            InstrumentType::Gauge
        )
    }

    fn i64_gauge(&self, builder: InstrumentBuilder<'_, Gauge<i64>>) -> Gauge<i64> {
        forward_sync!(
            self,
            i64_gauge,
            builder,
            Gauge,
            record,
            InstrumentType::Gauge
        )
    }

    fn u64_observable_counter(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableCounter<u64>, u64>,
    ) -> ObservableCounter<u64> {
        forward_async!(
            self,
            u64_observable_counter,
            builder,
            InstrumentType::ObservableCounter
        )
    }

    fn f64_observable_counter(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableCounter<f64>, f64>,
    ) -> ObservableCounter<f64> {
        forward_async!(
            self,
            f64_observable_counter,
            builder,
            InstrumentType::ObservableCounter
        )
    }

    fn i64_observable_up_down_counter(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableUpDownCounter<i64>, i64>,
    ) -> ObservableUpDownCounter<i64> {
        forward_async!(
            self,
            i64_observable_up_down_counter,
            builder,
            InstrumentType::ObservableUpDownCounter
        )
    }

    fn f64_observable_up_down_counter(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableUpDownCounter<f64>, f64>,
    ) -> ObservableUpDownCounter<f64> {
        forward_async!(
            self,
            f64_observable_up_down_counter,
            builder,
            InstrumentType::ObservableUpDownCounter
        )
    }

    fn u64_observable_gauge(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableGauge<u64>, u64>,
    ) -> ObservableGauge<u64> {
        forward_async!(
            self,
            u64_observable_gauge,
            builder,
            InstrumentType::ObservableGauge
        )
    }

    fn i64_observable_gauge(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableGauge<i64>, i64>,
    ) -> ObservableGauge<i64> {
        forward_async!(
            self,
            i64_observable_gauge,
            builder,
            InstrumentType::ObservableGauge
        )
    }

    fn f64_observable_gauge(
        &self,
        builder: AsyncInstrumentBuilder<'_, ObservableGauge<f64>, f64>,
    ) -> ObservableGauge<f64> {
        forward_async!(
            self,
            f64_observable_gauge,
            builder,
            InstrumentType::ObservableGauge
        )
    }
}

/// The attributes of `attributes` that `keys` keep.
fn kept(keys: &AttributeKeys, attributes: &[KeyValue]) -> Vec<KeyValue> {
    attributes
        .iter()
        .filter(|kv| keys.keeps(kv.key.as_str()))
        .cloned()
        .collect()
}

/// A synchronous instrument that drops a view's excluded attributes before recording.
struct Excluding<R> {
    keys: Arc<AttributeKeys>,
    record: R,
}

impl<T, R> SyncInstrument<T> for Excluding<R>
where
    R: Fn(T, &[KeyValue]) + Send + Sync,
{
    fn measure(&self, measurement: T, attributes: &[KeyValue]) {
        (self.record)(measurement, &kept(&self.keys, attributes));
    }
}

/// The observer an asynchronous instrument's callback sees when a view excludes attributes.
struct ExcludingObserver<'a, T> {
    inner: &'a dyn AsyncInstrument<T>,
    keys: &'a AttributeKeys,
}

impl<T> AsyncInstrument<T> for ExcludingObserver<'_, T> {
    fn observe(&self, measurement: T, attributes: &[KeyValue]) {
        self.inner
            .observe(measurement, &kept(self.keys, attributes));
    }
}

/// A synchronous instrument that records into the SDK's and offers each measurement to the
/// reservoir of its attribute set.
struct Offering<T, R> {
    sampler: Sampler,
    record: R,
    measured: fn(T) -> Measured,
}

impl<T, R> SyncInstrument<T> for Offering<T, R>
where
    T: Copy + Send + Sync,
    R: Fn(T, &[KeyValue]) + Send + Sync,
{
    fn measure(&self, measurement: T, attributes: &[KeyValue]) {
        (self.record)(measurement, attributes);
        self.sampler
            .offer_current((self.measured)(measurement), attributes);
    }
}
