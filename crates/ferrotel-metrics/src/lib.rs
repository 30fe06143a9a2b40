//! Exemplars for OpenTelemetry Rust histograms and counters, and bound instruments that record
//! a series with a few atomic operations.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! use ferrotel_metrics::{ExemplarFilter, Exemplars};
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! use opentelemetry::KeyValue;
//! use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
//! use opentelemetry_proto::tonic::metrics::v1::metric::Data;
//! use opentelemetry_sdk::error::OTelSdkResult;
//! use opentelemetry_sdk::metrics::data::ResourceMetrics;
//! use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
//! use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
//!
//! /// Keeps the last OTLP request, exemplars included, instead of sending it.
//! #[derive(Debug)]
//! struct Keep(Exemplars, Arc<Mutex<Option<ExportMetricsServiceRequest>>>);
//!
//! impl PushMetricExporter for Keep {
//!     async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
//!         let mut request = ExportMetricsServiceRequest::from(metrics);
//!         self.0.inject(&mut request, false);
//!         *self.1.lock().unwrap() = Some(request);
//!         Ok(())
//!     }
//!     fn force_flush(&self) -> OTelSdkResult { Ok(()) }
//!     fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult { Ok(()) }
//!     fn temporality(&self) -> Temporality { Temporality::Cumulative }
//! }
//!
//! let exemplars = Exemplars::new(ExemplarFilter::TraceBased);
//! let kept = Arc::new(Mutex::new(None));
//! let reader = PeriodicReader::builder(Keep(exemplars.clone(), kept.clone())).build();
//! let meters = SdkMeterProvider::builder().with_reader(reader).build();
//! let latency = exemplars
//!     .f64_histogram(&meters.meter("shop"), "http.server.request.duration")
//!     .with_unit("s")
//!     .with_boundaries(vec![0.1, 0.5, 1.0])
//!     .build();
//!
//! let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder().build().tracer("shop");
//! tracer.in_span("GET /cart", |_cx| {
//!     latency.record(0.3, &[KeyValue::new("http.route", "/cart")]); // inside a sampled span
//! });
//! latency.record(0.7, &[]); // no span: `trace_based` keeps no exemplar
//!
//! meters.force_flush()?;
//! let request = kept.lock().unwrap().take().expect("exported");
//! let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
//! let Some(Data::Histogram(histogram)) = &metric.data else { panic!("a histogram") };
//! for point in &histogram.data_points {
//!     if point.attributes.is_empty() {
//!         assert!(point.exemplars.is_empty());
//!     } else {
//!         assert_eq!(point.exemplars.len(), 1);
//!         assert_eq!(point.exemplars[0].trace_id.len(), 16); // the span's trace id
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## Why
//!
//! The Rust SDK (0.33.1) records no exemplars: its aggregations write empty lists, its
//! measurement path never sees a `Context`, and its data types cannot be built or changed
//! from outside. So ferrotel keeps its own exemplar reservoirs beside the SDK's aggregation
//! and writes them into the OTLP request (the protobuf structs are plain data) on its own
//! export path.
//!
//! ## How
//!
//! - An [`Exemplars`] store belongs to one meter provider and applies the
//!   `OTEL_METRICS_EXEMPLAR_FILTER` ([`ExemplarFilter`]): `trace_based` keeps only measurements
//!   made inside a sampled span, `always_on` all, `always_off` none.
//! - [`ExemplarMeterProvider`] wraps the SDK's meter provider: every histogram and counter its
//!   meters build (plain `meter.f64_histogram(…)`, the global meter included, once
//!   `ferrotel::init()` installed it) offers its measurements as exemplars; a counter keeps
//!   one exemplar per attribute set, written on its sum data point.
//! - [`Exemplars::f64_histogram`] (a convenience for meters from elsewhere) builds a [`Histogram`]: every `record` goes to the SDK
//!   histogram of the same name, unit, description and boundaries (the aggregation stays the
//!   SDK's) and, when the filter admits it, to the aligned-bucket reservoir of its attribute
//!   set — one cell per bucket, each keeping a uniformly random measurement of its bucket.
//! - Bound instruments ([`Exemplars::bound_histogram`], [`Exemplars::bound_counter`],
//!   [`Exemplars::bound_up_down_counter`]) resolve an attribute set once to a series handle;
//!   a measurement on the handle is a few atomic operations instead of the SDK's hash and map
//!   lookup. Their counters are the SDK's observable instruments; their histograms are
//!   aggregated here and written into the request by [`Exemplars::inject`].
//! - [`Exemplars::inject`] fills the exemplars of each histogram data point of an
//!   `ExportMetricsServiceRequest`, matching scope, metric name and attribute set.
//! - ferrotel's OTLP metric exporter (`ferrotel-otlp`) and its `/metrics` endpoint call
//!   [`Exemplars::inject`] on every request they send.
//!
//! ## Cost
//!
//! With `always_off` a record costs the SDK histogram alone plus one branch. Otherwise, for a
//! measurement the filter admits: a binary search for the bucket, one hash of the attribute
//! set, a read lock on one of eight shards, an atomic increment and a thread-local random
//! number; the time is read and a per-cell lock taken only when the measurement replaces the
//! kept one (ever more rarely as a collection period goes on). Under `trace_based`, a
//! measurement outside a sampled span costs only the context check.

mod bound;
mod exemplars;
mod histogram;
mod instrument;
mod provider;
mod reservoir;
mod rng;

pub use bound::{
    BoundCounter, BoundCounterBuilder, BoundHistogram, BoundHistogramBuilder, BoundUpDownCounter,
    BoundUpDownCounterBuilder, CounterSeries, HistogramSeries, UpDownSeries,
};
pub use exemplars::{Exemplars, InjectStats};
pub use ferrotel_config::ExemplarFilter;
pub use histogram::{
    Histogram, HistogramBuilder, U64Histogram, U64HistogramBuilder, DEFAULT_BOUNDARIES,
};
pub use provider::ExemplarMeterProvider;
