//! OTLP/gRPC: exports through the generated tonic clients are recorded with their headers.

use ferrotel_testkit::{Outcome, Receiver, Signal, Transport};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use tonic::codec::CompressionEncoding;

use crate::support::{metrics_request, spans_request, TIMEOUT};

const TRACE_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[tokio::test]
async fn grpc_export_of_two_spans_is_recorded_with_headers() {
    let receiver = Receiver::start();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    let mut request = tonic::Request::new(spans_request(&["parent", "child"]));
    request
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    let response = client.export(request).await.unwrap().into_inner();
    assert_eq!(response.partial_success, None);

    let spans = receiver.wait_for_spans_async(2, TIMEOUT).await.unwrap();
    assert_eq!(spans.len(), 2);
    let (parent, child) = (&spans[0], &spans[1]);
    assert_eq!(parent.name(), "parent");
    assert_eq!(parent.trace_id_hex(), "ab".repeat(16));
    assert_eq!(parent.span_id_hex(), "0101010101010101");
    assert_eq!(parent.parent_span_id_hex(), None);
    assert_eq!(
        child.parent_span_id_hex().as_deref(),
        Some("0101010101010101")
    );
    assert_eq!(child.attr("rpc.method").as_deref(), Some("child"));
    assert_eq!(child.attr("index").as_deref(), Some("1"));
    assert_eq!(child.attr("missing"), None);
    assert_eq!(
        child.resource_attr("service.name").as_deref(),
        Some("testkit-selftest")
    );
    assert_eq!(
        (child.scope_name.as_str(), child.scope_version.as_str()),
        ("selftest", "1.0")
    );

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let record = &requests[0];
    assert_eq!(record.signal, Signal::Traces);
    assert_eq!(record.transport, Transport::Grpc);
    assert_eq!(record.path, TRACE_EXPORT);
    assert_eq!(record.items, 2);
    assert!(!record.gzip);
    assert_eq!(record.outcome, Outcome::Accepted);
    assert_eq!(record.header("X-Tenant"), Some("acme"));
    assert!(
        record
            .header("user-agent")
            .is_some_and(|ua| ua.contains("tonic")),
        "{:?}",
        record.headers
    );
}

#[tokio::test]
async fn grpc_gzip_exports_of_both_signals_are_recorded_as_gzip() {
    let receiver = Receiver::start();
    let mut traces = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    traces.export(spans_request(&["zipped"])).await.unwrap();
    let mut metrics = MetricsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap()
        .send_compressed(CompressionEncoding::Gzip);
    metrics.export(metrics_request("nfs.ops")).await.unwrap();

    let found = receiver
        .wait_for_metric_async("nfs.ops", TIMEOUT)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].resource_attr("service.name").as_deref(),
        Some("testkit-selftest")
    );
    let requests = receiver.wait_for_requests_async(2, TIMEOUT).await.unwrap();
    assert!(requests
        .iter()
        .all(|r| r.gzip && r.outcome == Outcome::Accepted));
    assert_eq!(requests[0].header("grpc-encoding"), Some("gzip"));
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.signal, r.items))
            .collect::<Vec<_>>(),
        [(Signal::Traces, 1), (Signal::Metrics, 1)]
    );
    assert_eq!(receiver.spans()[0].name(), "zipped");
}

/// A message whose field 1 is a varint, where `ExportTraceServiceRequest` expects a message.
#[derive(Clone, PartialEq, prost::Message)]
struct NotATraceRequest {
    #[prost(uint64, tag = "1")]
    bogus: u64,
}

#[tokio::test]
async fn grpc_request_that_fails_to_decode_is_recorded_as_invalid() {
    let receiver = Receiver::start();
    let channel = tonic::transport::Endpoint::from_shared(receiver.grpc_endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<NotATraceRequest, ExportTraceServiceResponse>::default();
    let status = grpc
        .unary(
            tonic::Request::new(NotATraceRequest { bogus: 42 }),
            http::uri::PathAndQuery::from_static(TRACE_EXPORT),
            codec,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");

    let requests = receiver.wait_for_requests_async(1, TIMEOUT).await.unwrap();
    assert_eq!(requests[0].path, TRACE_EXPORT);
    assert_eq!(requests[0].signal, Signal::Traces);
    assert_eq!(requests[0].items, 0);
    match &requests[0].outcome {
        Outcome::Invalid(reason) => assert!(reason.contains("Internal"), "{reason}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(receiver.spans().is_empty());
}
