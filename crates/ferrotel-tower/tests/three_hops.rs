//! client → A → B over loopback tonic, each with its own service.name, exporting over OTLP to
//! the in-process receiver: one trace per call, the right parents, kinds, names, attributes and
//! status on each side, and durations that cover whole streams.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

mod support;

use ferrotel_testkit::echo::{EchoClient, EchoRequest, EchoService, ForwardStream, ForwardUnary};
use ferrotel_testkit::{ReceivedSpan, Receiver};
use ferrotel_tower::{ClientLayer, ServerLayer};
use ferrotel_tracer::Presampler;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use support::propagator;
use tonic::transport::{Channel, Endpoint, Server};
use tower::ServiceBuilder;

const WAIT: Duration = Duration::from_secs(20);
const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;
const STATUS_ERROR: i32 = 2;

/// One process's telemetry: tracer and meter providers exporting to the receiver, and the
/// presampler the layers decide with (built as `ferrotel::init()` builds it).
struct Telemetry {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    presampler: Presampler,
}

impl Telemetry {
    fn new(receiver: &Receiver, service: &'static str) -> Self {
        Self::with_sampler(receiver, service, Sampler::AlwaysOn)
    }

    fn with_sampler(receiver: &Receiver, service: &'static str, sampler: Sampler) -> Self {
        let presampler = Presampler::new(sampler);
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.grpc_endpoint())
            .with_metadata(support::secret_metadata())
            .build()
            .unwrap();
        Telemetry {
            tracer: support::tracer_provider_with(receiver, service, Some(&presampler)),
            meter: SdkMeterProvider::builder()
                .with_resource(support::resource(service))
                .with_reader(PeriodicReader::builder(metrics).build())
                .build(),
            presampler,
        }
    }

    fn server_layer(&self) -> ServerLayer {
        ServerLayer::new()
            .tracer_provider(&self.tracer)
            .presampler(self.presampler.clone())
            .meter_provider(&self.meter)
            .propagator(propagator())
    }

    fn client_layer(&self, target: &http::Uri) -> ClientLayer {
        ClientLayer::new()
            .target(target)
            .tracer_provider(&self.tracer)
            .presampler(self.presampler.clone())
            .meter_provider(&self.meter)
            .propagator(propagator())
    }

    fn flush(&self) {
        self.tracer.force_flush().unwrap();
        self.meter.force_flush().unwrap();
    }
}

type TracedChannel = ferrotel_tower::ClientService<Channel>;

async fn serve(service: EchoService, layer: ServerLayer) -> http::Uri {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(service.into_server())
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    format!("http://{addr}").parse().unwrap()
}

fn client(target: &http::Uri, telemetry: &Telemetry) -> EchoClient<TracedChannel> {
    let channel = Endpoint::from_shared(target.to_string())
        .unwrap()
        .connect_lazy();
    let svc = ServiceBuilder::new()
        .layer(telemetry.client_layer(target))
        .service(channel);
    EchoClient::new(svc)
}

struct Cluster {
    receiver: Receiver,
    caller: Telemetry,
    a: Telemetry,
    b: Telemetry,
    client: EchoClient<TracedChannel>,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with([Sampler::AlwaysOn, Sampler::AlwaysOn, Sampler::AlwaysOn]).await
    }

    /// The caller's, A's and B's samplers.
    async fn start_with([to_caller, to_a, to_b]: [Sampler; 3]) -> Cluster {
        let receiver = Receiver::start();
        let caller = Telemetry::with_sampler(&receiver, "caller", to_caller);
        let a = Telemetry::with_sampler(&receiver, "svc-a", to_a);
        let b = Telemetry::with_sampler(&receiver, "svc-b", to_b);
        let b_uri = serve(EchoService::new(), b.server_layer()).await;
        let to_b = client(&b_uri, &a);
        let unary_client = to_b.clone();
        let unary: ForwardUnary = Arc::new(move |request| {
            let mut c = unary_client.clone();
            Box::pin(async move { c.unary(request).await.map(|r| r.into_inner()) })
        });
        let stream: ForwardStream = Arc::new(move |request| {
            let mut c = to_b.clone();
            Box::pin(async move { c.server_stream(request).await.map(|r| r.into_inner()) })
        });
        let a_uri = serve(EchoService::forwarding(unary, stream), a.server_layer()).await;
        let client = client(&a_uri, &caller);
        Cluster {
            receiver,
            caller,
            a,
            b,
            client,
        }
    }

    /// Flushes the three processes and returns the spans of the one trace they made.
    fn trace(&self, expected: usize) -> Vec<ReceivedSpan> {
        for t in [&self.caller, &self.a, &self.b] {
            t.flush();
        }
        let spans = self.receiver.wait_for_spans(expected, WAIT).unwrap();
        assert_eq!(spans.len(), expected, "{spans:#?}");
        let trace = spans[0].trace_id_hex();
        assert!(
            spans.iter().all(|s| s.trace_id_hex() == trace),
            "one trace per call"
        );
        spans
    }
}

/// Finds the span of `service` with `kind`.
fn span<'a>(spans: &'a [ReceivedSpan], service: &str, kind: i32) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| {
            s.resource_attr("service.name").as_deref() == Some(service) && s.span.kind == kind
        })
        .unwrap_or_else(|| panic!("no {kind} span from {service}"))
}

fn parent_of(child: &ReceivedSpan, parent: &ReceivedSpan) -> bool {
    child.parent_span_id_hex().as_deref() == Some(parent.span_id_hex().as_str())
}

/// What a span says about the call's outcome: the status code it saw and, when its side
/// counts that code as an error, ERROR status with `error.type`; otherwise neither.
fn assert_outcome(s: &ReceivedSpan, code: &str, error: bool) {
    let name = s.name();
    assert_eq!(
        s.attr("rpc.response.status_code").as_deref(),
        Some(code),
        "{name}"
    );
    let status_error = s.span.status.as_ref().map(|st| st.code) == Some(STATUS_ERROR);
    assert_eq!(status_error, error, "{name}: span status");
    assert_eq!(
        s.attr("error.type").as_deref(),
        error.then_some(code),
        "{name}"
    );
}

fn duration_ms(s: &ReceivedSpan) -> u64 {
    (s.span.end_time_unix_nano - s.span.start_time_unix_nano) / 1_000_000
}

/// The four spans of a forwarded call, checked for shape: caller CLIENT (root) → A SERVER →
/// A CLIENT → B SERVER, all named `method`, with the RPC attributes.
fn check_chain<'a>(spans: &'a [ReceivedSpan], method: &str) -> [&'a ReceivedSpan; 4] {
    let caller = span(spans, "caller", SPAN_KIND_CLIENT);
    let a_server = span(spans, "svc-a", SPAN_KIND_SERVER);
    let a_client = span(spans, "svc-a", SPAN_KIND_CLIENT);
    let b_server = span(spans, "svc-b", SPAN_KIND_SERVER);
    assert_eq!(
        caller.parent_span_id_hex(),
        None,
        "the caller's span is the root"
    );
    assert!(parent_of(a_server, caller));
    assert!(parent_of(a_client, a_server));
    assert!(parent_of(b_server, a_client));
    for s in [caller, a_server, a_client, b_server] {
        assert_eq!(s.name(), method);
        assert_eq!(s.attr("rpc.system.name").as_deref(), Some("grpc"));
        assert_eq!(s.attr("rpc.method").as_deref(), Some(method));
        assert_eq!(s.attr("server.address").as_deref(), Some("127.0.0.1"));
        assert!(s.attr("server.port").is_some(), "{s:?}");
    }
    for s in [a_server, b_server] {
        assert_eq!(s.attr("network.peer.address").as_deref(), Some("127.0.0.1"));
    }
    [caller, a_server, a_client, b_server]
}

fn request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        forward: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_call_is_one_trace_across_three_processes() {
    let mut cluster = Cluster::start().await;
    let reply = cluster.client.unary(request("hello")).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello");
    let spans = cluster.trace(4);
    for s in check_chain(&spans, "ferrotel.echo.v1.Echo/Unary") {
        assert_outcome(s, "OK", false);
    }

    // The duration metric, on both sides, with the conventions' attributes.
    let metrics = cluster
        .receiver
        .wait_for_metric("rpc.server.call.duration", WAIT)
        .unwrap();
    let m = &metrics[0].metric;
    assert_eq!(m.unit, "s");
    use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let Some(Data::Histogram(h)) = &m.data else {
        panic!("histogram expected: {m:?}")
    };
    let point = &h.data_points[0];
    assert_eq!(
        point.explicit_bounds,
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
    );
    let attrs = ferrotel_testkit::find_attr;
    assert_eq!(
        attrs(&point.attributes, "rpc.method").as_deref(),
        Some("ferrotel.echo.v1.Echo/Unary")
    );
    assert_eq!(
        attrs(&point.attributes, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    assert_eq!(
        attrs(&point.attributes, "rpc.system.name").as_deref(),
        Some("grpc")
    );
    cluster
        .receiver
        .wait_for_metric("rpc.client.call.duration", WAIT)
        .unwrap();
}

/// A call under an unsampled parent, decided first by parent-based presamplers in the caller
/// and in A, builds no span there, yet carries its trace to B: B samples everything, and its
/// one server span is in the parent's trace, under A's (unrecorded) client span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_call_builds_no_span_and_carries_its_trace_downstream() {
    let follow = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let mut cluster = Cluster::start_with([follow(), follow(), Sampler::AlwaysOn]).await;
    let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
    let unsampled = SpanContext::new(
        trace_id,
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let parent = Context::new().with_remote_span_context(unsampled);
    let reply = cluster
        .client
        .unary(request("quiet"))
        .with_context(parent)
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "quiet");
    // Flushed before counting: what the receiver holds now is all there will be.
    let spans = cluster.trace(1);
    let b = span(&spans, "svc-b", SPAN_KIND_SERVER);
    assert_eq!(b.trace_id_hex(), format!("{trace_id}"));
    let parent_id = b
        .parent_span_id_hex()
        .expect("B's span has A's client span as parent");
    assert_ne!(
        parent_id, "00f067aa0ba902b7",
        "A's client span context, not the caller's parent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_spans_cover_the_whole_stream() {
    let mut cluster = Cluster::start().await;
    let mut req = request("tick");
    req.count = 4;
    req.delay_ms = 25;
    let mut stream = cluster
        .client
        .server_stream(req)
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(reply) = stream.message().await.unwrap() {
        assert_eq!(reply.index, n);
        n += 1;
    }
    assert_eq!(n, 4);
    let spans = cluster.trace(4);
    for s in check_chain(&spans, "ferrotel.echo.v1.Echo/ServerStream") {
        assert_outcome(s, "OK", false);
        // Four replies 25 ms apart: a span that ended at the headers would be ~0 ms.
        assert!(
            duration_ms(s) >= 100,
            "{} lasted {} ms",
            s.name(),
            duration_ms(s)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_an_error_on_the_client_side_only() {
    let mut cluster = Cluster::start().await;
    let mut req = request("missing");
    req.fail_with = 5;
    let status = cluster.client.unary(req).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let spans = cluster.trace(4);
    let [caller, a_server, a_client, b_server] = check_chain(&spans, "ferrotel.echo.v1.Echo/Unary");
    for client_side in [caller, a_client] {
        assert_outcome(client_side, "NOT_FOUND", true);
    }
    for server_side in [a_server, b_server] {
        assert_outcome(server_side, "NOT_FOUND", false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_is_an_error_on_both_sides() {
    let mut cluster = Cluster::start().await;
    let mut req = request("boom");
    req.fail_with = 13;
    let status = cluster.client.unary(req).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    let spans = cluster.trace(4);
    for s in check_chain(&spans, "ferrotel.echo.v1.Echo/Unary") {
        assert_outcome(s, "INTERNAL", true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_fails_in_its_trailers_is_an_error() {
    let mut cluster = Cluster::start().await;
    let mut req = request("half");
    req.count = 2;
    req.delay_ms = 30;
    req.fail_with = 14; // UNAVAILABLE after two replies
    let mut stream = cluster
        .client
        .server_stream(req)
        .await
        .unwrap()
        .into_inner();
    let mut replies = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => replies += 1,
            Ok(None) => panic!("the stream must fail"),
            Err(status) => break status,
        }
    };
    assert_eq!(replies, 2);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let spans = cluster.trace(4);
    for s in check_chain(&spans, "ferrotel.echo.v1.Echo/ServerStream") {
        assert_outcome(s, "UNAVAILABLE", true);
        assert!(
            duration_ms(s) >= 60,
            "{} lasted {} ms",
            s.name(),
            duration_ms(s)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_are_not_traced_and_a_predicate_skips_more() {
    let receiver = Receiver::start();
    let t = Telemetry::new(&receiver, "svc");
    let layer = t
        .server_layer()
        .skip(|parts| parts.uri.path().ends_with("/ServerStream"));
    let uri = serve(EchoService::new(), layer).await;
    let channel = Endpoint::from_shared(uri.to_string())
        .unwrap()
        .connect_lazy();
    // Real gRPC health-check and reflection requests (empty HealthCheckRequest and
    // ServerReflectionRequest messages on their standard paths); this server implements
    // neither, so each is answered UNIMPLEMENTED, and none of them may leave a span.
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<(), (), _>(
                tonic::Request::new(()),
                http::uri::PathAndQuery::from_static(path),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{path}");
    }
    let mut plain = EchoClient::new(channel);
    let req = EchoRequest {
        count: 1,
        ..Default::default()
    };
    let mut s = plain.server_stream(req.clone()).await.unwrap().into_inner();
    while s.message().await.unwrap().is_some() {}
    plain.unary(req).await.unwrap();
    t.flush();
    let spans = receiver.wait_for_spans(1, WAIT).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "ferrotel.echo.v1.Echo/Unary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_dup_also_emits_the_old_names() {
    let receiver = Receiver::start();
    let t = Telemetry::new(&receiver, "dup");
    let layer = t.server_layer().semconv(ferrotel_tower::RpcSemconv::Dup);
    let uri = serve(EchoService::new(), layer).await;
    let channel = Endpoint::from_shared(uri.to_string())
        .unwrap()
        .connect_lazy();
    let mut plain = EchoClient::new(channel);
    let status = plain
        .unary(EchoRequest {
            fail_with: 5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    t.flush();
    let span = receiver.wait_for_spans(1, WAIT).unwrap()[0].clone();
    // Stable names and the pre-1.37 ones side by side.
    assert_eq!(span.attr("rpc.system.name").as_deref(), Some("grpc"));
    assert_eq!(
        span.attr("rpc.response.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(span.attr("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        span.attr("rpc.service").as_deref(),
        Some("ferrotel.echo.v1.Echo")
    );
    assert_eq!(span.attr("rpc.grpc.status_code").as_deref(), Some("5"));
    let old = receiver
        .wait_for_metric("rpc.server.duration", WAIT)
        .unwrap();
    assert_eq!(old[0].metric.unit, "ms");
    receiver
        .wait_for_metric("rpc.server.call.duration", WAIT)
        .unwrap();
}

/// Two `traceparent` fields in gRPC metadata (HTTP/2 headers) are invalid,
/// as over HTTP/1: the server starts a new trace instead of continuing either one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_traceparent_fields_in_grpc_metadata_start_a_new_trace() {
    let receiver = Receiver::start();
    let server = Telemetry::new(&receiver, "svc-dup");
    let uri = serve(EchoService::new(), server.server_layer()).await;
    let channel = Endpoint::from_shared(uri.to_string())
        .unwrap()
        .connect_lazy();
    let mut plain = EchoClient::new(channel);
    let first = "00-11111111111111111111111111111111-2222222222222222-01";
    let second = "00-33333333333333333333333333333333-4444444444444444-01";
    let mut call = tonic::Request::new(EchoRequest {
        message: "dup".into(),
        ..Default::default()
    });
    call.metadata_mut()
        .append("traceparent", first.parse().unwrap());
    call.metadata_mut()
        .append("traceparent", second.parse().unwrap());
    plain.unary(call).await.unwrap();
    server.flush();
    let spans = receiver.wait_for_spans(1, WAIT).unwrap();
    let span = span(&spans, "svc-dup", SPAN_KIND_SERVER);
    let trace = span.trace_id_hex();
    assert_ne!(
        trace, "11111111111111111111111111111111",
        "continued the first"
    );
    assert_ne!(
        trace, "33333333333333333333333333333333",
        "continued the second"
    );
    assert_eq!(span.parent_span_id_hex(), None, "a new trace has no parent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_latest_experimental_renames_the_status_code() {
    let receiver = Receiver::start();
    let t = Telemetry::new(&receiver, "latest");
    let layer = t.server_layer().semconv(ferrotel_tower::RpcSemconv::Latest);
    let uri = serve(EchoService::new(), layer).await;
    let channel = Endpoint::from_shared(uri.to_string())
        .unwrap()
        .connect_lazy();
    let status = EchoClient::new(channel)
        .unary(EchoRequest {
            fail_with: 5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    t.flush();
    let span = receiver.wait_for_spans(1, WAIT).unwrap()[0].clone();
    assert_eq!(span.attr("rpc.status_code").as_deref(), Some("NOT_FOUND"));
    assert_eq!(span.attr("rpc.response.status_code"), None);
    assert_eq!(span.attr("rpc.grpc.status_code"), None);
    assert_eq!(span.scope_schema_url, ferrotel_tracer::SCHEMA_URL);
    let metric = receiver
        .wait_for_metric("rpc.server.call.duration", WAIT)
        .unwrap();
    assert_eq!(metric[0].scope_schema_url, ferrotel_tracer::SCHEMA_URL);
}
