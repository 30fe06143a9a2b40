//! What reaches the wire: exemplars matched against the spans they were recorded in, filters,
//! temporality, retries, refusals, partial success and gzip, over OTLP/gRPC and HTTP/protobuf,
//! checked with ferrotel-testkit's receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::{Config, Env};
use ferrotel_metrics::{ExemplarFilter, Exemplars, Histogram};
use ferrotel_otlp::{BatchSignal, OtlpMetricExporter, OtlpSpanExporter, PipelineCounters};
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, HistogramDataPoint,
};
use ferrotel_testkit::{find_attr, Fault, Outcome, Receiver, RequestRecord, Signal};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

const WAIT: Duration = Duration::from_secs(10);
const METRIC: &str = "work.duration";
const BOUNDS: [f64; 3] = [1.0, 5.0, 10.0];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Grpc,
    Http,
}

struct Options {
    filter: ExemplarFilter,
    temporality: Temporality,
    gzip: bool,
    timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            filter: ExemplarFilter::TraceBased,
            temporality: Temporality::Cumulative,
            gzip: false,
            timeout: WAIT,
        }
    }
}

/// A receiver, an export runtime, a tracer provider exporting spans to the receiver over
/// OTLP/gRPC, and a meter provider whose periodic reader (1 h interval: only flushes export)
/// runs an [`OtlpMetricExporter`] of the given kind.
struct Harness {
    receiver: Receiver,
    exporter: OtlpMetricExporter,
    meters: SdkMeterProvider,
    tracers: SdkTracerProvider,
    histogram: Histogram,
    exemplars: Exemplars,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Harness {
    fn new(kind: Kind, options: Options) -> Harness {
        let receiver = Receiver::start();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let entered = runtime.enter();
        let (endpoint, protocol) = match kind {
            Kind::Grpc => (receiver.grpc_endpoint(), "grpc"),
            Kind::Http => (receiver.http_endpoint(), "http/protobuf"),
        };
        let otlp = Config::builder()
            .resolve(&Env::from_pairs([
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
                (
                    "OTEL_EXPORTER_OTLP_COMPRESSION",
                    if options.gzip { "gzip" } else { "none" }.to_owned(),
                ),
                (
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                    options.timeout.as_millis().to_string(),
                ),
                // The marker secret `.ci/run` scans the test output for.
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!(
                        "x-tenant=ferrotel,x-test-secret={}",
                        ferrotel_testkit::secret("wire")
                    ),
                ),
            ]))
            .unwrap()
            .config;
        let counters = Arc::new(PipelineCounters::new(
            BatchSignal::Spans,
            2048,
            Default::default(),
            None,
        ));
        let span_exporter =
            OtlpSpanExporter::new(&otlp.traces_otlp, runtime.handle(), counters).unwrap();
        drop(entered);
        let tracers = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_simple_exporter(span_exporter)
            .build();

        let exemplars = Exemplars::new(options.filter);
        let exporter = OtlpMetricExporter::new(
            &otlp.metrics_otlp,
            exemplars.clone(),
            options.temporality,
            runtime.handle(),
        )
        .unwrap();
        let reader = PeriodicReader::builder(exporter.clone())
            .with_interval(Duration::from_secs(3600))
            .build();
        let meters = SdkMeterProvider::builder().with_reader(reader).build();
        let histogram = exemplars
            .f64_histogram(&meters.meter("wire-test"), METRIC)
            .with_unit("s")
            .with_boundaries(BOUNDS.to_vec())
            .build();
        Harness {
            receiver,
            exporter,
            meters,
            tracers,
            histogram,
            exemplars,
            runtime: Some(runtime),
        }
    }

    /// Records `value` with `route` inside a new sampled span named `name`.
    fn record_in_span(&self, name: &str, value: f64, route: &str) {
        let tracer = self.tracers.tracer("wire-test");
        tracer.in_span(name.to_owned(), |_cx| {
            self.histogram
                .record(value, &[KeyValue::new("route", route.to_owned())]);
        });
    }

    fn flush(&self) {
        let _ = self.meters.force_flush();
    }

    fn metric_requests(&self) -> Vec<RequestRecord> {
        self.receiver
            .requests()
            .into_iter()
            .filter(|r| r.signal == Signal::Metrics)
            .collect()
    }

    /// The histogram points of the `n`-th export (0-based) that carried the metric, by route.
    fn points(&self, n: usize) -> BTreeMap<String, HistogramDataPoint> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let metrics = self.receiver.wait_for_metric(METRIC, WAIT).unwrap();
            if let Some(m) = metrics.get(n) {
                let Some(metric::Data::Histogram(h)) = &m.metric.data else {
                    panic!("{METRIC} is not a histogram: {:?}", m.metric.data);
                };
                return h
                    .data_points
                    .iter()
                    .map(|p| {
                        (
                            find_attr(&p.attributes, "route").unwrap_or_default(),
                            p.clone(),
                        )
                    })
                    .collect();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "export #{n} of {METRIC} never arrived ({} did)",
                metrics.len()
            );
            self.receiver
                .wait_for_requests(self.receiver.request_count() + 1, WAIT)
                .unwrap();
        }
    }

    /// Exported span name by (trace id, span id).
    fn spans(&self, n: usize) -> HashMap<(Vec<u8>, Vec<u8>), String> {
        self.receiver
            .wait_for_spans(n, WAIT)
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    (s.span.trace_id.clone(), s.span.span_id.clone()),
                    s.span.name.clone(),
                )
            })
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.meters.shutdown();
        let _ = self.tracers.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn value_of(e: &ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::Exemplar) -> f64 {
    match e.value {
        Some(exemplar::Value::AsDouble(v)) => v,
        Some(exemplar::Value::AsInt(v)) => v as f64,
        None => panic!("exemplar without a value"),
    }
}

/// Every exemplar lies in a bucket the point counted, at most one per bucket. Returns the
/// exemplars by bucket index.
fn check_buckets(
    point: &HistogramDataPoint,
) -> BTreeMap<usize, &ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::Exemplar> {
    let bounds = &point.explicit_bounds;
    let mut by_bucket = BTreeMap::new();
    for e in &point.exemplars {
        let v = value_of(e);
        let i = bounds.partition_point(|b| *b < v);
        let lower = if i == 0 {
            f64::NEG_INFINITY
        } else {
            bounds[i - 1]
        };
        let upper = bounds.get(i).copied().unwrap_or(f64::INFINITY);
        assert!(
            lower < v && v <= upper,
            "exemplar {v} outside ({lower}, {upper}]"
        );
        assert!(
            point.bucket_counts[i] > 0,
            "exemplar {v} in an empty bucket {i}"
        );
        assert!(
            by_bucket.insert(i, e).is_none(),
            "two exemplars in bucket {i}: {:?}",
            point.exemplars
        );
        assert!(e.filtered_attributes.is_empty());
        assert!(e.time_unix_nano > 0);
    }
    by_bucket
}

/// Bound instruments on the wire, in the same export as the SDK's metrics: the histogram
/// ferrotel aggregates itself (buckets, sum, count, min, max, temporality, scope, and an
/// exemplar naming the exported span) and the SDK's observable counters over bound series.
fn bound_instruments_reach_the_wire(kind: Kind) {
    let h = Harness::new(kind, Options::default());
    let meter = h.meters.meter("wire-test");
    let scope = opentelemetry::InstrumentationScope::builder("wire-test").build();
    let histogram = h
        .exemplars
        .bound_histogram(&scope, "bound.duration")
        .with_unit("s")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    let route_a = [KeyValue::new("route", "a")];
    let a = histogram.series(&route_a);
    let count = h
        .exemplars
        .bound_counter(&meter, "wire-test", "bound.count")
        .with_unit("{op}")
        .build()
        .series(&route_a);
    let active = h
        .exemplars
        .bound_up_down_counter(&meter, "wire-test", "bound.active")
        .build()
        .series(&[]);
    h.tracers
        .tracer("wire-test")
        .in_span("bound-op", |cx| a.record(7.0, &cx));
    a.record(0.5, &Context::new());
    a.record(20.0, &Context::new());
    count.add(3);
    count.add(4);
    active.add(2);
    active.add(-5);
    h.flush();

    let spans = h.spans(1);
    let got = h.receiver.wait_for_metric("bound.duration", WAIT).unwrap();
    assert_eq!(got.len(), 1, "one export");
    assert_eq!(got[0].scope_name, "wire-test");
    assert_eq!(got[0].metric.unit, "s");
    let Some(metric::Data::Histogram(histo)) = &got[0].metric.data else {
        panic!(
            "bound.duration is not a histogram: {:?}",
            got[0].metric.data
        );
    };
    assert_eq!(histo.aggregation_temporality, 2, "cumulative");
    let [point] = histo.data_points.as_slice() else {
        panic!("one series: {:?}", histo.data_points);
    };
    assert_eq!(find_attr(&point.attributes, "route").as_deref(), Some("a"));
    assert_eq!(point.explicit_bounds, BOUNDS.to_vec());
    assert_eq!(point.bucket_counts, vec![1, 0, 1, 1]);
    assert_eq!((point.count, point.sum), (3, Some(27.5)));
    assert_eq!((point.min, point.max), (Some(0.5), Some(20.0)));
    let [exemplar] = point.exemplars.as_slice() else {
        panic!(
            "one exemplar, the sampled measurement's: {:?}",
            point.exemplars
        );
    };
    assert_eq!(value_of(exemplar), 7.0);
    assert_eq!(
        spans
            .get(&(exemplar.trace_id.clone(), exemplar.span_id.clone()))
            .map(String::as_str),
        Some("bound-op"),
        "the exemplar names the exported span"
    );

    let sum_of = |name: &str| {
        let got = h.receiver.wait_for_metric(name, WAIT).unwrap();
        let Some(metric::Data::Sum(sum)) = &got[0].metric.data else {
            panic!("{name} is not a sum: {:?}", got[0].metric.data);
        };
        let [p] = sum.data_points.as_slice() else {
            panic!("{name}: one series: {:?}", sum.data_points);
        };
        let value = match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            ref other => panic!("{name}: an integer: {other:?}"),
        };
        (sum.is_monotonic, value, got[0].metric.unit.clone())
    };
    assert_eq!(sum_of("bound.count"), (true, 7, "{op}".to_owned()));
    assert_eq!(sum_of("bound.active"), (false, -3, String::new()));
}

#[test]
fn bound_instruments_reach_the_wire_grpc() {
    bound_instruments_reach_the_wire(Kind::Grpc);
}

#[test]
fn bound_instruments_reach_the_wire_http() {
    bound_instruments_reach_the_wire(Kind::Http);
}

fn exemplars_match_spans(kind: Kind) {
    let h = Harness::new(kind, Options::default());
    // Values by span name; buckets (-inf,1] (1,5] (5,10] (10,inf).
    let values = [0.5, 1.0, 3.0, 7.0, 12.0, 0.2, 4.0, 5.0];
    for (i, v) in values.iter().enumerate() {
        h.record_in_span(&format!("op{i}"), *v, "a");
    }
    h.record_in_span("b-op", 8.0, "b");
    // Outside any span: trace_based keeps nothing.
    h.histogram
        .record(2.0, &[KeyValue::new("route", "outside")]);
    // Inside an unsampled span (current context and explicit context): nothing either.
    let unsampled = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0xabcu128),
        SpanId::from(0xdefu64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ));
    {
        let _attached = unsampled.clone().attach();
        h.histogram
            .record(2.0, &[KeyValue::new("route", "unsampled")]);
    }
    h.histogram
        .record_with_context(3.0, &[KeyValue::new("route", "unsampled")], &unsampled);
    h.flush();

    let spans = h.spans(values.len() + 1);
    let points = h.points(0);
    assert_eq!(
        points.keys().cloned().collect::<Vec<_>>(),
        ["a", "b", "outside", "unsampled"]
    );
    for (route, point) in &points {
        assert_eq!(point.explicit_bounds, BOUNDS.to_vec());
        let by_bucket = check_buckets(point);
        for e in &point.exemplars {
            let name = spans
                .get(&(e.trace_id.clone(), e.span_id.clone()))
                .unwrap_or_else(|| panic!("{route}: exemplar ids match no exported span: {e:?}"));
            let expected = match name.strip_prefix("op") {
                Some(i) => values[i.parse::<usize>().unwrap()],
                None => 8.0,
            };
            assert_eq!(value_of(e), expected, "{route}: exemplar of span {name}");
        }
        let want = match route.as_str() {
            "a" => 4,
            "b" => 1,
            _ => 0,
        };
        assert_eq!(by_bucket.len(), want, "{route}: {:?}", point.exemplars);
    }
    let requests = h.metric_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("x-tenant"), Some("ferrotel"));
    if kind == Kind::Http {
        let ua = requests[0].header("user-agent").unwrap();
        assert!(
            ua.starts_with("OTel-OTLP-Exporter-Rust/0.33.1 ferrotel/"),
            "{ua}"
        );
        assert_eq!(
            requests[0].header("content-type"),
            Some("application/x-protobuf")
        );
    }
    let stats = h.exporter.stats();
    assert_eq!((stats.requests_ok, stats.requests_failed), (1, 0));
    assert_eq!(stats.points_exported, 4);
    assert_eq!(stats.exemplars, 5);
}

#[test]
fn exemplars_match_spans_grpc() {
    exemplars_match_spans(Kind::Grpc);
}

#[test]
fn exemplars_match_spans_http() {
    exemplars_match_spans(Kind::Http);
}

fn always_on_and_always_off(kind: Kind) {
    let on = Harness::new(
        kind,
        Options {
            filter: ExemplarFilter::AlwaysOn,
            ..Options::default()
        },
    );
    on.histogram.record(3.0, &[KeyValue::new("route", "x")]);
    on.flush();
    let point = &on.points(0)["x"];
    assert_eq!(point.exemplars.len(), 1);
    assert!(point.exemplars[0].trace_id.is_empty() && point.exemplars[0].span_id.is_empty());
    assert_eq!(value_of(&point.exemplars[0]), 3.0);

    let off = Harness::new(
        kind,
        Options {
            filter: ExemplarFilter::AlwaysOff,
            ..Options::default()
        },
    );
    off.record_in_span("op", 3.0, "x");
    off.histogram.record(3.0, &[KeyValue::new("route", "x")]);
    off.flush();
    let point = &off.points(0)["x"];
    assert_eq!(point.count, 2);
    assert!(point.exemplars.is_empty());
}

#[test]
fn always_on_and_always_off_grpc() {
    always_on_and_always_off(Kind::Grpc);
}

#[test]
fn always_on_and_always_off_http() {
    always_on_and_always_off(Kind::Http);
}

fn temporality(kind: Kind, temporality: Temporality) {
    let h = Harness::new(
        kind,
        Options {
            temporality,
            ..Options::default()
        },
    );
    h.record_in_span("first-low", 0.5, "a");
    h.record_in_span("first-high", 7.0, "a");
    h.flush();
    let first = h.points(0)["a"].clone();
    assert_eq!(check_buckets(&first).len(), 2);

    h.record_in_span("second-mid", 3.0, "a");
    h.flush();
    let second = h.points(1)["a"].clone();
    let by_bucket = check_buckets(&second);
    let spans = h.spans(3);
    let names: BTreeMap<usize, &str> = by_bucket
        .iter()
        .map(|(i, e)| (*i, spans[&(e.trace_id.clone(), e.span_id.clone())].as_str()))
        .collect();
    match temporality {
        Temporality::Delta => {
            assert_eq!(names, BTreeMap::from([(1, "second-mid")]));
        }
        _ => {
            // Buckets not recorded into again keep the first collection's exemplar.
            assert_eq!(
                names,
                BTreeMap::from([(0, "first-low"), (1, "second-mid"), (2, "first-high")])
            );
            assert_eq!(second.exemplars[0], first.exemplars[0]);
        }
    }
}

#[test]
fn cumulative_keeps_exemplars_grpc() {
    temporality(Kind::Grpc, Temporality::Cumulative);
}

#[test]
fn cumulative_keeps_exemplars_http() {
    temporality(Kind::Http, Temporality::Cumulative);
}

#[test]
fn delta_resets_exemplars_grpc() {
    temporality(Kind::Grpc, Temporality::Delta);
}

fn retried_when_unavailable(kind: Kind) {
    let h = Harness::new(
        kind,
        Options {
            filter: ExemplarFilter::AlwaysOn,
            ..Options::default()
        },
    );
    h.receiver.set_fault(Some(Fault::Unavailable {
        times: 2,
        retry_after: Some(Duration::from_millis(50)),
    }));
    h.histogram.record(3.0, &[]);
    h.flush();
    let metrics = h.receiver.wait_for_metric(METRIC, WAIT).unwrap();
    assert_eq!(metrics.len(), 1, "delivered once");
    let requests = h.metric_requests();
    assert_eq!(requests.len(), 3);
    assert!(matches!(requests[0].outcome, Outcome::Unavailable { .. }));
    assert!(matches!(requests[1].outcome, Outcome::Unavailable { .. }));
    assert_eq!(requests[2].outcome, Outcome::Accepted);
    let stats = h.exporter.stats();
    assert_eq!((stats.requests_ok, stats.requests_failed), (1, 0));
}

#[test]
fn retried_when_unavailable_grpc() {
    retried_when_unavailable(Kind::Grpc);
}

#[test]
fn retried_when_unavailable_http() {
    retried_when_unavailable(Kind::Http);
}

fn refused_is_not_retried(kind: Kind) {
    let h = Harness::new(kind, Options::default());
    h.receiver.set_fault(Some(Fault::Refuse));
    h.histogram.record(3.0, &[]);
    h.flush();
    let requests = h.receiver.wait_for_requests(1, WAIT).unwrap();
    assert_eq!(requests[0].outcome, Outcome::Refused);
    let stats = h.exporter.stats();
    assert_eq!((stats.requests_ok, stats.requests_failed), (0, 1));
    assert_eq!(stats.points_failed, 1);
    let error = stats.last_error.unwrap();
    assert!(
        error.contains("InvalidArgument") || error.contains("400"),
        "{error}"
    );
    assert_eq!(h.metric_requests().len(), 1, "not retried");
}

#[test]
fn refused_is_not_retried_grpc() {
    refused_is_not_retried(Kind::Grpc);
}

#[test]
fn refused_is_not_retried_http() {
    refused_is_not_retried(Kind::Http);
}

fn gzip_arrives(kind: Kind) {
    let h = Harness::new(
        kind,
        Options {
            gzip: true,
            ..Options::default()
        },
    );
    h.record_in_span("op", 3.0, "z");
    h.flush();
    assert_eq!(h.points(0)["z"].exemplars.len(), 1);
    let requests = h.metric_requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].gzip, "{:?}", requests[0]);
    assert_eq!(requests[0].outcome, Outcome::Accepted);
}

#[test]
fn gzip_arrives_grpc() {
    gzip_arrives(Kind::Grpc);
}

#[test]
fn gzip_arrives_http() {
    gzip_arrives(Kind::Http);
}

fn partial_success_is_counted(kind: Kind) {
    let h = Harness::new(kind, Options::default());
    h.receiver.set_fault(Some(Fault::PartialSuccess {
        rejected: 1,
        message: "too old".into(),
    }));
    h.histogram.record(3.0, &[]);
    h.flush();
    h.receiver.wait_for_metric(METRIC, WAIT).unwrap();
    let stats = h.exporter.stats();
    assert_eq!((stats.requests_ok, stats.rejected_points), (1, 1));
    assert!(stats.last_error.unwrap().contains("too old"));
    assert_eq!(h.metric_requests().len(), 1, "not retried");
}

#[test]
fn partial_success_is_counted_grpc() {
    partial_success_is_counted(Kind::Grpc);
}

#[test]
fn partial_success_is_counted_http() {
    partial_success_is_counted(Kind::Http);
}

#[test]
fn timeout_bounds_the_export_and_empty_requests_are_not_sent() {
    let h = Harness::new(
        Kind::Grpc,
        Options {
            timeout: Duration::from_millis(300),
            ..Options::default()
        },
    );
    h.flush();
    assert_eq!(h.exporter.stats().requests_ok, 0);
    assert_eq!(
        h.receiver.request_count(),
        0,
        "nothing recorded: nothing sent"
    );

    h.receiver
        .set_fault(Some(Fault::Delay(Duration::from_secs(5))));
    h.histogram.record(3.0, &[]);
    let started = std::time::Instant::now();
    h.flush();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let stats = h.exporter.stats();
    assert_eq!(stats.requests_failed, 1);
    h.receiver.set_fault(None);
}
