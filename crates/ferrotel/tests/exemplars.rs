//! Exemplars end to end through `ferrotel::builder()`: histogram samples recorded inside
//! `tracing` spans carry those spans' ids over both OTLP protocols, per the exemplar filter;
//! the RPC middleware's duration samples link to their SERVER spans; and `/metrics` serves them
//! in OpenMetrics.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use ferrotel_testkit::raw_http::get;

use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{exemplar, metric::Data, Exemplar};
use ferrotel_testkit::{ReceivedSpan, Receiver};
use support::{guard, sending_to, traced, WAIT};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value(e: &Exemplar) -> f64 {
    match e.value {
        Some(exemplar::Value::AsDouble(v)) => v,
        Some(exemplar::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    }
}

/// The exemplars of histogram `name`, each checked to sit in a distinct bucket of its point.
fn exemplars_of(receiver: &Receiver, name: &str) -> Vec<Exemplar> {
    let metrics = receiver.wait_for_metric(name, WAIT).unwrap();
    let mut all = Vec::new();
    for m in metrics.iter().filter(|m| m.name() == name) {
        let Some(Data::Histogram(h)) = &m.metric.data else {
            panic!("{name} is not a histogram")
        };
        for point in &h.data_points {
            let mut buckets = std::collections::HashSet::new();
            for e in &point.exemplars {
                let v = value(e);
                let bucket = point
                    .explicit_bounds
                    .iter()
                    .position(|b| v <= *b)
                    .unwrap_or(point.explicit_bounds.len());
                assert!(buckets.insert(bucket), "two exemplars in bucket {bucket}");
                assert!(
                    point.bucket_counts[bucket] > 0,
                    "exemplar in an empty bucket"
                );
            }
            all.extend(point.exemplars.iter().cloned());
        }
    }
    all
}

fn record_in_and_out_of_a_span(g: &ferrotel::Guard) {
    let meter = g.providers().meter_provider().unwrap().meter("volumes");
    let latency = g
        .providers()
        .meter_provider()
        .unwrap()
        .exemplars()
        .f64_histogram(&meter, "volume.write.duration")
        .with_unit("s")
        .with_boundaries(vec![0.01, 0.1, 1.0])
        .build();
    traced(g, || {
        let span = tracing::info_span!("volume.write");
        let _entered = span.enter();
        latency.record(0.004, &[]);
        latency.record(0.5, &[]);
    });
    latency.record(7.0, &[]); // outside any span
}

fn the_span<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name() == name)
        .expect("span exported")
}

#[test]
fn trace_based_exemplars_name_the_span_they_were_recorded_in_over_both_protocols() {
    for protocol in ["grpc", "http/protobuf"] {
        let receiver = Receiver::start();
        let g = guard(sending_to(
            &receiver,
            protocol,
            &[("OTEL_METRICS_EXPORTER", "otlp")],
        ));
        record_in_and_out_of_a_span(&g);
        let report = g.shutdown();
        assert!(
            report.problems.is_empty(),
            "{protocol}: {:?}",
            report.problems
        );
        let spans = receiver.wait_for_spans(1, WAIT).unwrap();
        let span = the_span(&spans, "volume.write");
        let exemplars = exemplars_of(&receiver, "volume.write.duration");
        assert_eq!(
            exemplars.len(),
            2,
            "{protocol}: only the two in-span samples: {exemplars:?}"
        );
        for e in &exemplars {
            assert_eq!(hex(&e.trace_id), span.trace_id_hex(), "{protocol}");
            assert_eq!(hex(&e.span_id), span.span_id_hex(), "{protocol}");
        }
        let mut values: Vec<f64> = exemplars.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        assert_eq!(values, [0.004, 0.5]);
    }
}

#[test]
fn always_on_and_always_off_filters() {
    for (filter, expected) in [("always_on", 3), ("always_off", 0)] {
        let receiver = Receiver::start();
        let g = guard(sending_to(
            &receiver,
            "grpc",
            &[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_METRICS_EXEMPLAR_FILTER", filter),
            ],
        ));
        record_in_and_out_of_a_span(&g);
        drop(g);
        let exemplars = exemplars_of(&receiver, "volume.write.duration");
        assert_eq!(exemplars.len(), expected, "{filter}");
        if filter == "always_on" {
            let outside = exemplars.iter().find(|e| value(e) == 7.0).unwrap();
            assert!(outside.trace_id.is_empty() && outside.span_id.is_empty());
        }
    }
}

#[test]
fn sampled_out_spans_give_no_exemplars() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ],
    ));
    record_in_and_out_of_a_span(&g);
    drop(g);
    assert!(exemplars_of(&receiver, "volume.write.duration").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_duration_exemplars_link_to_the_server_span() {
    use ferrotel_testkit::echo::EchoRequest;
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_METRICS_EXPORTER", "otlp")],
    ));
    let mut client = echo_behind(g.server_layer()).await;
    client.unary(EchoRequest::default()).await.unwrap();
    drop(g);
    let spans = receiver.wait_for_spans(1, WAIT).unwrap();
    let server = the_span(&spans, "ferrotel.echo.v1.Echo/Unary");
    let exemplars = exemplars_of(&receiver, "rpc.server.call.duration");
    assert_eq!(exemplars.len(), 1, "{exemplars:?}");
    assert_eq!(hex(&exemplars[0].trace_id), server.trace_id_hex());
    assert_eq!(hex(&exemplars[0].span_id), server.span_id_hex());
}

#[test]
fn the_metrics_page_serves_exemplars_in_openmetrics() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("FERROTEL_METRICS_ADDR", "127.0.0.1:0"),
        ],
    ));
    record_in_and_out_of_a_span(&g);
    let addr = g.metrics_addr().expect("endpoint started");
    assert!(addr.ip().is_loopback());
    let page = get(addr, "/metrics", Some("application/openmetrics-text"));
    g.providers()
        .tracer_provider()
        .unwrap()
        .force_flush()
        .unwrap();
    let spans = receiver.wait_for_spans(1, WAIT).unwrap();
    let span = the_span(&spans, "volume.write");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let page = page.body;
    assert!(
        page.contains(&format!("trace_id=\"{}\"", span.trace_id_hex())),
        "{page}"
    );
    assert!(
        page.contains("volume_write_duration_seconds_bucket"),
        "{page}"
    );
    assert!(page.trim_end().ends_with("# EOF"), "{page}");
    let plain = get(addr, "/metrics", Some("text/plain")).body;
    assert!(
        !plain.contains("trace_id"),
        "no exemplars in Prometheus text"
    );
}

#[test]
fn cardinality_overflow_goes_to_the_overflow_set_and_is_reported() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_METRICS_EXPORTER", "otlp")],
    ));
    let meter = g.providers().meter_provider().unwrap().meter("volumes");
    let ops = g
        .providers()
        .meter_provider()
        .unwrap()
        .exemplars()
        .f64_histogram(&meter, "volume.op.duration")
        .build();
    // 2,100 distinct attribute sets: past the default limit of 2,000 per instrument.
    for i in 0..2_100 {
        ops.record(
            0.1,
            &[ferrotel::opentelemetry::KeyValue::new("volume", i as i64)],
        );
    }
    let report = g.shutdown();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("otel.metric.overflow=true")),
        "{:?}",
        report.problems
    );
    let metrics = receiver
        .wait_for_metric("volume.op.duration", WAIT)
        .unwrap();
    let Some(Data::Histogram(h)) = &metrics[0].metric.data else {
        panic!("histogram expected")
    };
    let overflow = h
        .data_points
        .iter()
        .find(|p| {
            ferrotel_testkit::find_attr(&p.attributes, "otel.metric.overflow").as_deref()
                == Some("true")
        })
        .expect("an overflow point");
    assert!(overflow.count >= 100, "{}", overflow.count);
    assert!(h.data_points.len() <= 2_001, "{}", h.data_points.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_layers_use_the_configured_propagators_without_globals() {
    use ferrotel_testkit::echo::EchoRequest;
    let receiver = Receiver::start();
    // Globals are not installed (support::guard), so only the guard can know about B3.
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_PROPAGATORS", "b3multi")],
    ));
    let mut client = echo_behind(g.server_layer()).await;
    let mut request = tonic::Request::new(EchoRequest::default());
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    request
        .metadata_mut()
        .insert("x-b3-traceid", trace_id.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-b3-spanid", "00f067aa0ba902b7".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-b3-sampled", "1".parse().unwrap());
    client.unary(request).await.unwrap();
    drop(g);
    let span = receiver.wait_for_spans(1, WAIT).unwrap()[0].clone();
    assert_eq!(span.trace_id_hex(), trace_id);
    assert_eq!(
        span.parent_span_id_hex().as_deref(),
        Some("00f067aa0ba902b7")
    );
}

/// An echo server behind `layer` on a free loopback port, and a plain client to it.
async fn echo_behind(
    layer: ferrotel::tower::ServerLayer,
) -> ferrotel_testkit::echo::EchoClient<tonic::transport::Channel> {
    use ferrotel_testkit::echo::{EchoClient, EchoService};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(EchoService::new().into_server())
            .serve_with_incoming(incoming)
            .await
    });
    EchoClient::connect(format!("http://{addr}")).await.unwrap()
}
