//! OTLP/HTTP: protobuf exports, plain and gzip, and what happens to bad requests.

use ferrotel_testkit::{Outcome, Receiver, Signal, Transport};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::metrics::v1::metric;

use crate::support::{metrics_request, post, post_message, spans_request, TIMEOUT};

#[tokio::test]
async fn http_protobuf_export_is_recorded_with_headers() {
    let receiver = Receiver::start();
    let answer = post(
        receiver.http_addr(),
        "/v1/traces",
        &[("x-tenant", "acme")],
        prost::Message::encode_to_vec(&spans_request(&["a", "b"])),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/x-protobuf");
    assert_eq!(
        answer
            .decode::<ExportTraceServiceResponse>()
            .partial_success,
        None
    );

    let spans = receiver.wait_for_spans_async(2, TIMEOUT).await.unwrap();
    assert_eq!(
        spans.iter().map(|s| s.name()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let record = &receiver.requests()[0];
    assert_eq!(
        (record.signal, record.transport, record.path.as_str()),
        (Signal::Traces, Transport::Http, "/v1/traces")
    );
    assert_eq!((record.items, record.gzip), (2, false));
    assert_eq!(record.outcome, Outcome::Accepted);
    assert_eq!(record.header("user-agent"), Some("testkit-selftest/1.0"));
    assert_eq!(record.header("x-tenant"), Some("acme"));
    assert_eq!(
        record.header("content-type"),
        Some("application/x-protobuf")
    );
}

#[tokio::test]
async fn http_gzip_exports_of_both_signals_are_recorded() {
    let receiver = Receiver::start();
    let addr = receiver.http_addr();
    let answer = post_message(addr, "/v1/traces", &spans_request(&["zipped"]), true).await;
    assert_eq!(answer.status, 200);
    let answer = post_message(addr, "/v1/metrics", &metrics_request("raft.commits"), true).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer
            .decode::<ExportMetricsServiceResponse>()
            .partial_success,
        None
    );

    let metrics = receiver
        .wait_for_metric_async("raft.commits", TIMEOUT)
        .await
        .unwrap();
    let Some(metric::Data::Sum(sum)) = &metrics[0].metric.data else {
        panic!("expected a sum: {:?}", metrics[0].metric);
    };
    assert_eq!(sum.data_points[0].exemplars.len(), 1);
    assert_eq!(
        sum.data_points[0].exemplars[0].trace_id,
        crate::support::TRACE_ID
    );
    assert_eq!(receiver.spans()[0].name(), "zipped");
    let requests = receiver.requests();
    assert!(requests.iter().all(|r| r.gzip && r.outcome.is_stored()));
    assert_eq!(requests[1].signal, Signal::Metrics);
    assert_eq!(requests[1].header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn http_bad_requests_are_answered_and_recorded_never_dropped() {
    let receiver = Receiver::start();
    let addr = receiver.http_addr();
    let garbage = vec![0xff, 0xff, 0xff];
    assert_eq!(
        post(addr, "/v1/traces", &[], garbage.clone()).await.status,
        400
    );
    let not_gzip = post(
        addr,
        "/v1/metrics",
        &[("content-encoding", "gzip")],
        garbage,
    )
    .await;
    assert_eq!(not_gzip.status, 400);
    assert_eq!(
        post(addr, "/v1/profiles", &[], Vec::new()).await.status,
        404
    );
    // JSON is accepted, but a body that is not an OTLP/JSON request is refused.
    let json = post(
        addr,
        "/v1/traces",
        &[("content-type", "application/json")],
        b"not json".to_vec(),
    )
    .await;
    assert_eq!(json.status, 400);
    // A valid request after the bad ones is still served.
    let ok = post_message(addr, "/v1/traces", &spans_request(&["fine"]), false).await;
    assert_eq!(ok.status, 200);

    let requests = receiver.wait_for_requests_async(5, TIMEOUT).await.unwrap();
    let signals: Vec<Signal> = requests.iter().map(|r| r.signal).collect();
    assert_eq!(
        signals,
        [
            Signal::Traces,
            Signal::Metrics,
            Signal::Unknown,
            Signal::Traces,
            Signal::Traces
        ]
    );
    for record in &requests[..4] {
        assert!(
            matches!(record.outcome, Outcome::Invalid(_)),
            "{:?}",
            record.outcome
        );
    }
    assert_eq!(requests[4].outcome, Outcome::Accepted);
    assert_eq!(receiver.spans().len(), 1);
    assert!(receiver.metrics().is_empty());
}
