//! The same layers on plain HTTP (hyper), with the HTTP conventions, and the untrusted-edge
//! policy: a new root linked to the caller, without the caller's baggage.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

mod support;

use bytes::Bytes;
use ferrotel_testkit::Receiver;
use ferrotel_tower::{ClientLayer, ServerLayer, Trust};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use support::{propagator, tracer_provider as provider};
use tower::ServiceBuilder;

const WAIT: Duration = Duration::from_secs(20);

/// `/ok` answers 200, `/missing` 404, `/broken` 500; every body says how many baggage
/// entries the handler's context holds.
async fn handler(
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let baggage = Context::current().baggage().len();
    let status = match request.uri().path() {
        "/ok" => 200,
        "/missing" => 404,
        _ => 500,
    };
    Ok(http::Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(format!("baggage={baggage}"))))
        .unwrap())
}

/// A hyper HTTP client to `addr` behind a ClientLayer on `provider`.
fn traced_client(
    addr: std::net::SocketAddr,
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
) -> ferrotel_tower::ClientService<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
> {
    let target: http::Uri = format!("http://{addr}").parse().unwrap();
    let hyper_client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    ServiceBuilder::new()
        .layer(
            ClientLayer::new()
                .target(&target)
                .tracer_provider(provider)
                .propagator(propagator()),
        )
        .service(hyper_client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_gets_the_http_conventions() {
    let receiver = Receiver::start();
    let server = provider(&receiver, "http-server");
    let client = provider(&receiver, "http-client");
    let addr = support::serve_http(
        ServerLayer::new()
            .tracer_provider(&server)
            .propagator(propagator()),
        handler,
    )
    .await;
    let mut traced = traced_client(addr, &client);
    for path in ["/ok", "/missing", "/broken"] {
        use tower::{Service as _, ServiceExt as _};
        let request = http::Request::get(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = traced.ready().await.unwrap().call(request).await.unwrap();
        let _ = response.into_body().collect().await.unwrap();
    }
    server.force_flush().unwrap();
    client.force_flush().unwrap();
    let spans = receiver.wait_for_spans(6, WAIT).unwrap();
    let find = |service: &str, path: &str| {
        spans
            .iter()
            .find(|s| {
                s.resource_attr("service.name").as_deref() == Some(service)
                    && (s.attr("url.path").as_deref() == Some(path)
                        || s.attr("url.full").is_some_and(|u| u.ends_with(path)))
            })
            .unwrap_or_else(|| panic!("no {service} span for {path}: {spans:#?}"))
    };
    for (path, status, server_error, client_error) in [
        ("/ok", 200, false, false),
        ("/missing", 404, false, true),
        ("/broken", 500, true, true),
    ] {
        let s = find("http-server", path);
        assert_eq!(s.name(), "GET");
        assert_eq!(s.attr("http.request.method").as_deref(), Some("GET"));
        assert_eq!(
            s.attr("http.response.status_code").as_deref(),
            Some(status.to_string().as_str())
        );
        assert_eq!(
            s.span
                .status
                .as_ref()
                .map(|st| st.code == 2)
                .unwrap_or(false),
            server_error,
            "{path}"
        );
        assert_eq!(s.attr("server.address").as_deref(), Some("127.0.0.1"));
        let c = spans
            .iter()
            .find(|c| c.span_id_hex() == s.parent_span_id_hex().unwrap_or_default())
            .expect("the server span's parent is the client span");
        assert_eq!(
            c.resource_attr("service.name").as_deref(),
            Some("http-client")
        );
        assert_eq!(
            c.span
                .status
                .as_ref()
                .map(|st| st.code == 2)
                .unwrap_or(false),
            client_error,
            "{path}"
        );
        if client_error {
            assert_eq!(
                c.attr("error.type").as_deref(),
                Some(status.to_string().as_str())
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_edges_start_a_linked_root_without_baggage() {
    let receiver = Receiver::start();
    let server = provider(&receiver, "edge");
    let caller = provider(&receiver, "outsider");
    let mut bodies = Vec::new();
    for trust in [Trust::Trusted, Trust::Untrusted] {
        let addr = support::serve_http(
            ServerLayer::new()
                .tracer_provider(&server)
                .propagator(propagator())
                .trust(trust),
            handler,
        )
        .await;
        let mut traced = traced_client(addr, &caller);
        // The caller sends its own trace and a baggage entry.
        let tracer = caller.tracer("outsider");
        let root = tracer.start("outsider-root");
        let cx =
            Context::current_with_span(root).with_baggage(vec![KeyValue::new("tenant", "mallory")]);
        let request = http::Request::get(format!("http://{addr}/ok"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        use opentelemetry::context::FutureExt as _;
        use tower::{Service as _, ServiceExt as _};
        let response = async { traced.ready().await.unwrap().call(request).await.unwrap() }
            .with_context(cx.clone())
            .await;
        let body = response.into_body().collect().await.unwrap().to_bytes();
        bodies.push(String::from_utf8(body.to_vec()).unwrap());
        cx.span().end();
    }
    assert_eq!(
        bodies,
        ["baggage=1", "baggage=0"],
        "untrusted drops the caller's baggage"
    );
    server.force_flush().unwrap();
    caller.force_flush().unwrap();
    let spans = receiver.wait_for_spans(6, WAIT).unwrap();
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.resource_attr("service.name").as_deref() == Some("edge"))
        .collect();
    assert_eq!(servers.len(), 2);
    let clients: Vec<_> = spans.iter().filter(|s| s.span.kind == 3).collect();
    let trusted = servers
        .iter()
        .find(|s| s.parent_span_id_hex().is_some())
        .expect("trusted continues");
    assert!(clients
        .iter()
        .any(|c| c.trace_id_hex() == trusted.trace_id_hex()));
    let untrusted = servers
        .iter()
        .find(|s| s.parent_span_id_hex().is_none())
        .expect("untrusted is a root");
    assert!(
        clients
            .iter()
            .all(|c| c.trace_id_hex() != untrusted.trace_id_hex()),
        "a new trace"
    );
    assert_eq!(untrusted.span.links.len(), 1, "linked to the caller");
    let link = &untrusted.span.links[0];
    let linked: String = link.span_id.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        clients.iter().any(|c| c.span_id_hex() == linked),
        "the link names the caller's span"
    );
}
