//! `OTEL_PROPAGATORS=xray` on the wire: a tonic echo call through the guard's client and
//! server layers carries `X-Amzn-Trace-Id`, a caller's X-Ray header is continued, and a
//! malformed one starts a fresh trace without failing the call.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use ferrotel_testkit::echo::{EchoClient, EchoRequest, EchoService};
use ferrotel_testkit::Receiver;
use support::{guard, sending_to, WAIT};
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;

/// What the server received in `x-amzn-trace-id`, one entry per call.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_headers_cross_a_grpc_call_and_bad_ones_start_fresh_traces() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_PROPAGATORS", "xray")],
    ));
    // The server: the header as it arrived, then the guard's server layer, then echo.
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let record = Arc::clone(&seen);
    let capture = tonic::service::InterceptorLayer::new(move |request: tonic::Request<()>| {
        let header = request
            .metadata()
            .get("x-amzn-trace-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        record.lock().unwrap().push(header);
        Ok(request)
    });
    let server_layer = g.server_layer();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(capture)
            .layer(server_layer)
            .add_service(EchoService::new().into_server())
            .serve_with_incoming(incoming)
            .await
    });
    let target: http::Uri = format!("http://{addr}").parse().unwrap();
    let mut plain = EchoClient::connect(target.to_string()).await.unwrap();

    // 1. A caller's X-Ray header: the server span continues that trace.
    let caller = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let mut request = tonic::Request::new(EchoRequest::default());
    request
        .metadata_mut()
        .insert("x-amzn-trace-id", caller.parse().unwrap());
    plain.unary(request).await.expect("continued call");

    // 2. Malformed headers: each call succeeds and its server span is a fresh root.
    let malformed: [&[u8]; 7] = [
        b"Root=garbage",
        b";;;",
        b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1",
        b"Root=1-5759E988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        b"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Sampled=0",
        b"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
        b"Root=1-5759e988-bd862e3fe1be46a99427279\xff;Parent=53995c3f42cd8ad8",
    ];
    for value in malformed {
        let mut request = tonic::Request::new(EchoRequest::default());
        request.metadata_mut().insert(
            "x-amzn-trace-id",
            MetadataValue::try_from(value).expect("a header value"),
        );
        plain
            .unary(request)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(value)));
    }

    // 3. Through the guard's client layer: the header it writes is X-Ray's.
    let channel = Endpoint::from_shared(target.to_string())
        .unwrap()
        .connect_lazy();
    let mut traced = EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(g.client_layer(&target))
            .service(channel),
    );
    traced
        .unary(EchoRequest::default())
        .await
        .expect("traced call");

    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let spans = receiver
        .wait_for_spans(1 + malformed.len() + 2, WAIT)
        .expect("every call's spans");
    let servers: Vec<_> = spans.iter().filter(|s| s.span.kind == SERVER).collect();
    let clients: Vec<_> = spans.iter().filter(|s| s.span.kind == CLIENT).collect();
    assert_eq!(servers.len(), 1 + malformed.len() + 1, "{spans:#?}");
    assert_eq!(clients.len(), 1, "{spans:#?}");

    // 1: continued.
    let continued = servers
        .iter()
        .filter(|s| s.trace_id_hex() == "5759e988bd862e3fe1be46a994272793")
        .collect::<Vec<_>>();
    assert_eq!(
        continued.len(),
        1,
        "only the valid header continues: {servers:#?}"
    );
    assert_eq!(
        continued[0].parent_span_id_hex().as_deref(),
        Some("53995c3f42cd8ad8")
    );

    // 2: fresh roots, each its own trace.
    let roots: Vec<_> = servers
        .iter()
        .filter(|s| s.parent_span_id_hex().is_none())
        .collect();
    assert_eq!(roots.len(), malformed.len(), "{servers:#?}");
    let mut trace_ids: Vec<String> = roots.iter().map(|s| s.trace_id_hex()).collect();
    trace_ids.sort();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), malformed.len(), "{trace_ids:?}");

    // 3: the wire carried the client span's ids in X-Ray's format, and the server continued it.
    let client = clients[0];
    let trace_id = client.trace_id_hex();
    let on_the_wire = seen.lock().unwrap().last().cloned().flatten();
    assert_eq!(
        on_the_wire.as_deref(),
        Some(
            format!(
                "Root=1-{}-{};Parent={};Sampled=1",
                &trace_id[..8],
                &trace_id[8..],
                client.span_id_hex()
            )
            .as_str()
        )
    );
    let server = servers
        .iter()
        .find(|s| s.trace_id_hex() == trace_id)
        .expect("the server span of the traced call");
    assert_eq!(
        server.parent_span_id_hex().as_deref(),
        Some(client.span_id_hex().as_str())
    );
}
