//! What the ferrotel-ops tests share: a guard exporting traces and metrics to the in-process
//! receiver, one "process" of pipelines per Raft node, and readers for what reached it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "openraft")]
pub(crate) mod openraft_mem;

use ferrotel::Guard;
use ferrotel_testkit::opentelemetry_proto::tonic::common::v1::KeyValue;
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Exemplar, HistogramDataPoint, NumberDataPoint,
};
use ferrotel_testkit::{any_value_to_string, ReceivedSpan, Receiver};

use ferrotel::otlp::OtlpMetricExporter;
use ferrotel_metrics::{ExemplarFilter, Exemplars};
use ferrotel_ops::OpsTelemetry;
use ferrotel_testkit::ReceivedMetric;
use ferrotel_tracer::Presampler;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;

#[allow(unused_imports)] // each test file uses its own subset
pub(crate) use ferrotel_testkit::guard::WAIT;

/// A guard sending traces and metrics over OTLP/gRPC to `receiver`, with `extra` variables,
/// nothing installed globally; metrics leave on flush only. Strict: a test's bad variable
/// fails it.
pub(crate) fn guard(receiver: &Receiver, extra: &[(&str, &str)]) -> Guard {
    let mut pairs = vec![
        ("OTEL_SERVICE_NAME", "ops-test"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100000"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
    ];
    pairs.extend_from_slice(extra);
    ferrotel_testkit::guard::builder(ferrotel_testkit::guard::sending_to(
        receiver, "grpc", &pairs,
    ))
    .strict(true)
    .try_init()
    .expect("ferrotel starts")
}

/// Flushes the guard and waits until `spans` spans and the metric `metric` have arrived.
pub(crate) fn flush_and_wait(guard: &Guard, receiver: &Receiver, spans: usize, metric: &str) {
    let report = guard.flush();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    receiver.wait_for_spans(spans, WAIT).unwrap();
    receiver.wait_for_metric(metric, WAIT).unwrap();
}

/// The spans named `name`.
pub(crate) fn spans_named(receiver: &Receiver, name: &str) -> Vec<ReceivedSpan> {
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.name() == name)
        .collect()
}

/// Attributes as sorted `(key, value)` strings.
pub(crate) fn attrs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = attributes
        .iter()
        .map(|kv| (kv.key.clone(), any_value_to_string(kv.value.as_ref())))
        .collect();
    out.sort();
    out
}

/// `pairs` sorted, as owned strings, to compare with [`attrs`].
pub(crate) fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    out.sort();
    out
}

/// The newest (cumulative) export of metric `name`: the last one that arrived.
fn latest(receiver: &Receiver, name: &str) -> Data {
    receiver
        .metrics()
        .into_iter()
        .rev()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no metric {name}; got {:?}", names(receiver)))
        .metric
        .data
        .expect("metric data")
}

/// Every metric name that arrived.
pub(crate) fn names(receiver: &Receiver) -> Vec<String> {
    let mut names: Vec<String> = receiver
        .metrics()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The histogram points of metric `name`.
pub(crate) fn histogram(receiver: &Receiver, name: &str) -> Vec<HistogramDataPoint> {
    match latest(receiver, name) {
        Data::Histogram(h) => h.data_points,
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

/// The number points (sum or gauge) of metric `name`, with whether it is monotonic.
pub(crate) fn numbers(receiver: &Receiver, name: &str) -> (Vec<NumberDataPoint>, bool) {
    match latest(receiver, name) {
        Data::Sum(s) => (s.data_points, s.is_monotonic),
        Data::Gauge(g) => (g.data_points, false),
        other => panic!("{name} is not a sum or gauge: {other:?}"),
    }
}

/// The value of a number point as an `i64`.
pub(crate) fn int(point: &NumberDataPoint) -> i64 {
    match point.value {
        Some(number_data_point::Value::AsInt(v)) => v,
        Some(number_data_point::Value::AsDouble(v)) => v as i64,
        None => panic!("empty point"),
    }
}

/// The point of `points` whose attributes are exactly `want`.
pub(crate) fn point_with<'a, P>(
    points: &'a [P],
    attributes: impl Fn(&P) -> &[KeyValue],
    want: &[(&str, &str)],
) -> &'a P {
    let want = expect(want);
    points
        .iter()
        .find(|p| attrs(attributes(p)) == want)
        .unwrap_or_else(|| {
            let seen: Vec<_> = points.iter().map(|p| attrs(attributes(p))).collect();
            panic!("no point with {want:?}; seen {seen:?}")
        })
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that every exemplar of `points` names an exported span, and returns them.
pub(crate) fn exemplars_link_to_spans(
    receiver: &Receiver,
    points: &[HistogramDataPoint],
) -> Vec<Exemplar> {
    let spans = receiver.spans();
    let mut all = Vec::new();
    for point in points {
        for e in &point.exemplars {
            let (trace, span) = (hex(&e.trace_id), hex(&e.span_id));
            assert!(
                spans
                    .iter()
                    .any(|s| s.trace_id_hex() == trace && s.span_id_hex() == span),
                "exemplar {trace}/{span} names no exported span"
            );
            all.push(e.clone());
        }
    }
    all
}

/// One node's telemetry pipelines. Call inside a multi-thread tokio runtime.
pub(crate) struct NodeTelemetry {
    pub(crate) service: String,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) telemetry: OpsTelemetry,
}

impl NodeTelemetry {
    /// Pipelines for the process `service`, exporting to `receiver`.
    pub(crate) fn new(receiver: &Receiver, service: &str) -> Self {
        let resource = Resource::builder()
            .with_service_name(service.to_owned())
            .build();
        let span_exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.grpc_endpoint())
            .build()
            .unwrap();
        // As `ferrotel::Guard::ops()` has it: the instruments decide before building a span.
        let presampler = Presampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(presampler.sampler())
            .with_id_generator(presampler.id_generator())
            .with_batch_exporter(span_exporter)
            .build();
        let exemplars = Exemplars::new(ExemplarFilter::TraceBased);
        let otlp = ferrotel::config::Config::builder()
            .resolve(&ferrotel::config::Env::from_pairs([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ]))
            .unwrap()
            .config
            .metrics_otlp;
        let exporter = OtlpMetricExporter::new(
            &otlp,
            exemplars.clone(),
            Temporality::Cumulative,
            &tokio::runtime::Handle::current(),
        )
        .unwrap();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(PeriodicReader::builder(exporter).build())
            .build();
        let telemetry = OpsTelemetry::new(Some(&tracer_provider), Some(&meter_provider), exemplars)
            .with_presampler(presampler);
        NodeTelemetry {
            service: service.to_owned(),
            tracer_provider,
            meter_provider,
            telemetry,
        }
    }

    /// Exports every finished span and the current metrics, off the async workers (the
    /// exporters run on them).
    pub(crate) async fn flush(&self) {
        let traces = self.tracer_provider.clone();
        let metrics = self.meter_provider.clone();
        tokio::task::spawn_blocking(move || {
            traces.force_flush().unwrap();
            metrics.force_flush().unwrap();
        })
        .await
        .unwrap();
    }
}

/// The metrics named `name` exported by `service`, newest export last.
pub(crate) fn metrics_of(receiver: &Receiver, service: &str, name: &str) -> Vec<ReceivedMetric> {
    receiver
        .metrics()
        .into_iter()
        .filter(|m| m.name() == name && m.resource_attr("service.name").as_deref() == Some(service))
        .collect()
}

/// The latest value of a floating-point gauge `name` of `service` whose point has every
/// attribute in `attrs` (rendered as strings); `None` when absent.
pub(crate) fn latest_double(
    receiver: &Receiver,
    service: &str,
    name: &str,
    attrs: &[(&str, &str)],
) -> Option<f64> {
    let metric = metrics_of(receiver, service, name).pop()?;
    let Some(Data::Gauge(gauge)) = metric.metric.data else {
        panic!("{name} is not a gauge");
    };
    gauge
        .data_points
        .iter()
        .find(|p| {
            attrs
                .iter()
                .all(|(k, v)| ferrotel_testkit::find_attr(&p.attributes, k).as_deref() == Some(*v))
        })
        .map(|p| match p.value {
            Some(number_data_point::Value::AsDouble(v)) => v,
            other => panic!("{name}: not a double: {other:?}"),
        })
}

/// The latest value of a counter or gauge `name` of `service` whose point has every
/// attribute in `attrs` (rendered as strings); `None` when absent.
pub(crate) fn latest_value(
    receiver: &Receiver,
    service: &str,
    name: &str,
    attrs: &[(&str, &str)],
) -> Option<i64> {
    let metric = metrics_of(receiver, service, name).pop()?;
    let points = match metric.metric.data? {
        Data::Sum(s) => s.data_points,
        Data::Gauge(g) => g.data_points,
        other => panic!("{name} is not a sum or gauge: {other:?}"),
    };
    points
        .iter()
        .find(|p| {
            attrs
                .iter()
                .all(|(k, v)| ferrotel_testkit::find_attr(&p.attributes, k).as_deref() == Some(*v))
        })
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            Some(number_data_point::Value::AsDouble(v)) => v as i64,
            None => panic!("{name} point without a value"),
        })
}
