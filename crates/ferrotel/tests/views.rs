//! Metric views and cardinality limits on the wire: from the builder and from a configuration
//! file in the schema's form, a view changes buckets, renames, drops an attribute and drops an
//! instrument, for the SDK's instruments and ferrotel's own bound ones alike; exemplars follow
//! the new buckets; a cardinality limit sends the excess to the overflow series, counted.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use ferrotel::config::Env;
use ferrotel::config::{AttributeKeys, CardinalityLimits, InstrumentType, View, ViewAggregation};
use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel::opentelemetry::KeyValue;
use ferrotel::ops::nfs::{NfsSide, NfsStatus, Procedure, Share};
use ferrotel_testkit::guard::builder;
use ferrotel_testkit::opentelemetry_proto::tonic::common::v1::any_value;
use ferrotel_testkit::opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, HistogramDataPoint, NumberDataPoint,
};
use ferrotel_testkit::{ReceivedMetric, Receiver};
use support::{guard, sending_to, WAIT};

fn text(attributes: &[ProtoKeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            any_value::Value::BoolValue(b) => Some(b.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

fn keys(attributes: &[ProtoKeyValue]) -> Vec<String> {
    let mut keys: Vec<String> = attributes.iter().map(|kv| kv.key.clone()).collect();
    keys.sort();
    keys
}

/// The points of the newest export of histogram `name`.
fn histogram(metrics: &[ReceivedMetric], name: &str) -> Vec<HistogramDataPoint> {
    let metric = metrics
        .iter()
        .rev()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("{name} exported"));
    match &metric.metric.data {
        Some(Data::Histogram(h)) => h.data_points.clone(),
        other => panic!("{name} is not an explicit histogram: {other:?}"),
    }
}

/// The points of the newest export of sum `name`.
fn sum(metrics: &[ReceivedMetric], name: &str) -> Vec<NumberDataPoint> {
    let metric = metrics
        .iter()
        .rev()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("{name} exported"));
    match &metric.metric.data {
        Some(Data::Sum(s)) => s.data_points.clone(),
        other => panic!("{name} is not a sum: {other:?}"),
    }
}

fn explicit(boundaries: &[f64]) -> Option<ViewAggregation> {
    Some(ViewAggregation::ExplicitBucketHistogram {
        boundaries: boundaries.to_vec(),
        record_min_max: true,
    })
}

const MICROSECONDS: [f64; 4] = [0.00001, 0.0001, 0.001, 0.01];

#[test]
fn builder_views_rebucket_rename_drop_attributes_and_instruments_on_the_wire() {
    let receiver = Receiver::start();
    // ferrotel-ops' NFS latency in microsecond buckets, without the share.
    let mut nfs = View::named("nfs.server.request.duration");
    nfs.stream.aggregation = explicit(&MICROSECONDS);
    nfs.stream.attribute_keys = Some(AttributeKeys {
        included: None,
        excluded: vec!["nfs.share".to_owned()],
    });
    // An application histogram, renamed and rebucketed.
    let mut app = View::named("app.latency");
    app.stream.name = Some("app.latency.renamed".to_owned());
    app.stream.description = Some("renamed by a view".to_owned());
    app.stream.aggregation = explicit(&[1.0, 2.0, 3.0]);
    // A counter that keeps only `method`.
    let mut requests = View::named("app.requests");
    requests.stream.attribute_keys = Some(AttributeKeys {
        included: Some(vec!["method".to_owned()]),
        excluded: Vec::new(),
    });
    // Anything under debug.* is not exported at all.
    let mut debug = View::named("debug.*");
    debug.stream.aggregation = Some(ViewAggregation::Drop);
    let g = builder(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXEMPLAR_FILTER", "always_on"),
        ],
    ))
    .configure(|c| c.views([nfs, app, requests, debug]))
    .try_init()
    .expect("ferrotel starts");
    assert!(g.config_issues().is_empty(), "{:?}", g.config_issues());

    let server = g.ops().nfs(NfsSide::Server);
    for share in ["/a", "/b"] {
        server
            .start(Procedure::Read, &Share::new(share))
            .finish(NfsStatus::OK, 4096);
    }
    let meter = g.providers().meter_provider().unwrap().meter("app");
    meter
        .f64_histogram("app.latency")
        .with_unit("s")
        .build()
        .record(2.5, &[KeyValue::new("route", "/cart")]);
    let counter = meter.u64_counter("app.requests").build();
    for client in ["a", "b", "c"] {
        counter.add(
            1,
            &[
                KeyValue::new("method", "GET"),
                KeyValue::new("client", client),
            ],
        );
    }
    meter.u64_counter("debug.noise").build().add(1, &[]);
    meter.f64_histogram("debug.sizes").build().record(1.0, &[]);
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    receiver
        .wait_for_metric("app.latency.renamed", WAIT)
        .expect("the renamed histogram");
    let metrics = receiver.metrics();
    let names: Vec<&str> = metrics.iter().map(|m| m.name()).collect();
    for gone in ["app.latency", "debug.noise", "debug.sizes"] {
        assert!(!names.contains(&gone), "{gone} exported: {names:?}");
    }

    let nfs = histogram(&metrics, "nfs.server.request.duration");
    assert_eq!(nfs.len(), 1, "the two shares are one series: {nfs:#?}");
    let read = &nfs[0];
    assert_eq!(read.explicit_bounds, MICROSECONDS);
    assert_eq!(read.count, 2);
    assert_eq!(text(&read.attributes, "nfs.share"), None);
    assert_eq!(
        text(&read.attributes, "onc_rpc.procedure.name").as_deref(),
        Some("READ")
    );
    assert!(!read.exemplars.is_empty(), "exemplars survive the buckets");

    let app = histogram(&metrics, "app.latency.renamed");
    let renamed = metrics
        .iter()
        .find(|m| m.name() == "app.latency.renamed")
        .unwrap();
    assert_eq!(renamed.metric.description, "renamed by a view");
    assert_eq!(renamed.metric.unit, "s");
    assert_eq!(app[0].explicit_bounds, [1.0, 2.0, 3.0]);
    assert_eq!(app[0].bucket_counts, [0, 0, 1, 0]);
    assert_eq!(app[0].exemplars.len(), 1, "the exemplar follows the rename");

    let requests = sum(&metrics, "app.requests");
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(keys(&requests[0].attributes), ["method"]);
}

#[test]
fn a_cardinality_limit_sends_the_excess_to_the_overflow_series_and_counts_it() {
    let receiver = Receiver::start();
    let mut limited = View::named("app.limited");
    limited.stream.aggregation_cardinality_limit = Some(3);
    let mut limits = CardinalityLimits::all(2000);
    limits.set(InstrumentType::Histogram, 2);
    let g = builder(sending_to(
        &receiver,
        "http/protobuf",
        &[("OTEL_METRICS_EXPORTER", "otlp")],
    ))
    .configure(|c| c.views([limited]).cardinality_limits(limits))
    .try_init()
    .expect("ferrotel starts");
    let meter = g.providers().meter_provider().unwrap().meter("app");
    let counter = meter.u64_counter("app.limited").build();
    let histogram_ = meter.f64_histogram("app.sizes").build();
    let ops = g.ops().nfs(NfsSide::Server);
    for n in 0..10 {
        counter.add(1, &[KeyValue::new("n", n)]);
        histogram_.record(1.0, &[KeyValue::new("n", n)]);
    }
    // ferrotel's own bound histogram under the histogram limit of 2.
    for procedure in [Procedure::Read, Procedure::Write, Procedure::Lookup] {
        ops.start(procedure, &Share::new("/x"))
            .finish(NfsStatus::OK, 0);
    }
    g.flush();
    let stats = g.stats();
    let report = g.shutdown();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("went to otel.metric.overflow=true")),
        "the overflow is reported: {:?}",
        report.problems
    );
    receiver.wait_for_metric("app.limited", WAIT).unwrap();
    let metrics = receiver.metrics();

    let overflowed = |points: Vec<(Vec<ProtoKeyValue>, u64)>, limit: usize, total: u64| {
        // `limit` attribute sets, then the overflow series.
        assert_eq!(points.len(), limit + 1, "{points:?}");
        let overflow = points
            .iter()
            .find(|(attrs, _)| text(attrs, "otel.metric.overflow").as_deref() == Some("true"))
            .unwrap_or_else(|| panic!("an overflow series: {points:?}"));
        assert_eq!(points.iter().map(|(_, n)| n).sum::<u64>(), total);
        assert!(overflow.1 > 0);
    };
    let counter_points = sum(&metrics, "app.limited")
        .into_iter()
        .map(|p| {
            let n = match p.value {
                Some(ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(n)) => n as u64,
                other => panic!("{other:?}"),
            };
            (p.attributes, n)
        })
        .collect();
    overflowed(counter_points, 3, 10);
    let sizes = histogram(&metrics, "app.sizes")
        .into_iter()
        .map(|p| (p.attributes, p.count))
        .collect();
    overflowed(sizes, 2, 10);
    let nfs: Vec<_> = histogram(&metrics, "nfs.server.request.duration")
        .into_iter()
        .map(|p| (p.attributes, p.count))
        .collect();
    // ferrotel's own bound histogram likewise: READ and WRITE, then the overflow series.
    assert_eq!(nfs.len(), 3, "{nfs:?}");
    assert!(nfs
        .iter()
        .any(|(a, n)| text(a, "otel.metric.overflow").as_deref() == Some("true") && *n == 1));
    assert!(
        stats.metrics.iter().any(|m| m.overflow_points >= 3),
        "overflow counted: {:?}",
        stats.metrics
    );
}

#[test]
fn schema_views_from_a_file_load_without_warnings_and_apply() {
    let receiver = Receiver::start();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/wire-views.yaml"
    );
    let endpoint = format!("{}/v1/metrics", receiver.http_endpoint());
    // Only the file and what it references: other OTEL_* variables would be reported ignored.
    let env = Env::from_pairs([("OTEL_CONFIG_FILE", path), ("ENDPOINT", endpoint.as_str())])
        .with_executable_name("ferrotel-test");
    let g = guard(env);
    assert!(g.config_issues().is_empty(), "{:?}", g.config_issues());
    assert_eq!(g.config().views.len(), 3);
    g.ops()
        .nfs(NfsSide::Server)
        .start(Procedure::Read, &Share::new("/s"))
        .finish(NfsStatus::OK, 1);
    let provider = g.providers().meter_provider().unwrap();
    provider
        .meter("app")
        .f64_histogram("app.latency")
        .build()
        .record(0.3, &[]);
    provider
        .meter("noisy")
        .u64_counter("chatter")
        .build()
        .add(1, &[]);
    let counter = provider.meter("app").u64_counter("app.count").build();
    for n in 0..5 {
        counter.add(1, &[KeyValue::new("n", n)]);
    }
    drop(g);
    receiver.wait_for_metric("app.latency.file", WAIT).unwrap();
    let metrics = receiver.metrics();
    assert!(metrics.iter().all(|m| m.name() != "chatter"));
    let nfs = histogram(&metrics, "nfs.server.request.duration");
    assert_eq!(nfs[0].explicit_bounds, MICROSECONDS);
    assert_eq!(text(&nfs[0].attributes, "nfs.share"), None);
    let exponential = metrics
        .iter()
        .find(|m| m.name() == "app.latency.file")
        .unwrap();
    let Some(Data::ExponentialHistogram(h)) = &exponential.metric.data else {
        panic!("exponential: {:?}", exponential.metric.data)
    };
    assert!(h.data_points[0].scale <= 5);
    assert_eq!(
        sum(&metrics, "app.count").len(),
        3,
        "counter limit 2, and the overflow series"
    );
}

#[test]
fn an_exponential_view_makes_ferrotels_own_histograms_exponential() {
    let receiver = Receiver::start();
    let mut nfs = View::named("nfs.server.request.duration");
    nfs.stream.aggregation = Some(ViewAggregation::Base2ExponentialBucketHistogram {
        max_scale: 10,
        max_size: 80,
        record_min_max: true,
    });
    nfs.stream.attribute_keys = Some(AttributeKeys {
        included: None,
        excluded: vec!["nfs.share".to_owned()],
    });
    let g = builder(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXEMPLAR_FILTER", "always_on"),
        ],
    ))
    .configure(|c| c.views([nfs]))
    .try_init()
    .expect("ferrotel starts");
    let server = g.ops().nfs(NfsSide::Server);
    for share in ["/a", "/b"] {
        server
            .start(Procedure::Read, &Share::new(share))
            .finish(NfsStatus::OK, 4096);
    }
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let metrics = receiver
        .wait_for_metric("nfs.server.request.duration", WAIT)
        .unwrap();
    let Some(Data::ExponentialHistogram(h)) = &metrics.last().unwrap().metric.data else {
        panic!("exponential: {:?}", metrics.last().unwrap().metric.data)
    };
    assert_eq!(h.data_points.len(), 1, "the share is excluded: {h:#?}");
    let point = &h.data_points[0];
    assert_eq!(point.count, 2);
    assert!(point.scale <= 10);
    assert_eq!(text(&point.attributes, "nfs.share"), None);
    assert!(!point.exemplars.is_empty(), "exemplars come along");
}
