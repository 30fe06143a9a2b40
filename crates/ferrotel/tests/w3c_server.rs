//! A W3C Trace Context test server built from the public API only: a hyper server behind
//! `Guard::server_layer()` whose handler calls a downstream service N times through
//! `Guard::client_layer()`, the shape of the W3C test suite's harness. Every traceparent and
//! tracestate rule of the W3C Trace Context specification is checked on what the downstream
//! receives, with `OTEL_TRACES_EXPORTER=otlp` and with `none` (no exporter, but spans are
//! still made and propagated).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrotel_testkit::Receiver;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{guard, sending_to, WAIT};
use tower::{Service as _, ServiceBuilder, ServiceExt as _};

type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

/// Serves `service` on a fresh loopback port (bound before the address is handed out).
async fn serve<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn plain_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// The harness: the downstream records every request's headers; the server under test calls
/// it `x-calls` times per request, through the guard's client layer.
struct Harness {
    front: SocketAddr,
    seen: Seen,
    _guard: ferrotel::Guard,
}

impl Harness {
    async fn start(guard: ferrotel::Guard) -> Harness {
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        let downstream = serve(tower::service_fn(move |req: http::Request<_>| {
            record.lock().unwrap().push(req.headers().clone());
            async { Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new()))) }
        }))
        .await;
        let target: http::Uri = format!("http://{downstream}").parse().unwrap();
        let client = ServiceBuilder::new()
            .layer(guard.client_layer(&target))
            .service(plain_client());
        let handler = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let mut client = client.clone();
            async move {
                let calls: usize = req
                    .headers()
                    .get("x-calls")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1);
                for _ in 0..calls {
                    let request = http::Request::get(format!("http://{downstream}/callback"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let response = client.ready().await.unwrap().call(request).await.unwrap();
                    let _ = response.into_body().collect().await;
                }
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::new())))
            }
        });
        let front = serve(
            ServiceBuilder::new()
                .layer(guard.server_layer())
                .service(handler),
        )
        .await;
        Harness {
            front,
            seen,
            _guard: guard,
        }
    }

    /// Sends one request with `headers` (repeated names allowed) and returns the headers of the
    /// `calls` downstream requests it caused.
    async fn send(&self, headers: &[(&str, &str)], calls: usize) -> Vec<http::HeaderMap> {
        self.seen.lock().unwrap().clear();
        let mut request = http::Request::get(format!("http://{}/test", self.front))
            .header("x-calls", calls.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = plain_client().request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let seen = self.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), calls);
        seen
    }
}

/// The traceparent fields a downstream request carried; it must be present and valid.
fn traceparent(headers: &http::HeaderMap) -> (String, String, String) {
    let all: Vec<_> = headers.get_all("traceparent").iter().collect();
    assert_eq!(all.len(), 1, "exactly one traceparent: {headers:?}");
    let value = all[0].to_str().unwrap();
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    assert_eq!(parts[0], "00", "{value}");
    let lower_hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    assert!(
        lower_hex(parts[1], 32) && parts[1] != "0".repeat(32),
        "{value}"
    );
    assert!(
        lower_hex(parts[2], 16) && parts[2] != "0".repeat(16),
        "{value}"
    );
    assert!(lower_hex(parts[3], 2), "{value}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

fn tracestate(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("tracestate")
        .map(|v| v.to_str().unwrap().to_owned())
}

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

async fn every_case(harness: &Harness) {
    // No traceparent: a fresh, valid one downstream, with a distinct parent-id per call, the
    // sampled flag (parentbased_always_on) and the random flag (random trace id).
    let calls = harness.send(&[], 3).await;
    let ids: Vec<_> = calls.iter().map(traceparent).collect();
    assert!(ids.iter().all(|(t, _, _)| *t == ids[0].0), "one trace");
    let parents: std::collections::HashSet<_> = ids.iter().map(|(_, p, _)| p.clone()).collect();
    assert_eq!(
        parents.len(),
        3,
        "three callbacks, three parent-ids: {ids:?}"
    );
    assert!(ids.iter().all(|(_, _, f)| f == "03"), "{ids:?}");

    // Invalid traceparents: a new trace each time, the tracestate dropped.
    let invalid = [
        format!("00-{}-{PARENT}-01", TRACE.to_uppercase().replace('1', "A")),
        format!("00-{}-{PARENT}-01", &TRACE[1..]),
        format!("00-{}-{PARENT}-01", "0".repeat(32)),
        format!("00-{TRACE}-{}-01", "0".repeat(16)),
        format!("ff-{TRACE}-{PARENT}-01"),
        format!("00-{TRACE}-{PARENT}-01-extra"),
        format!("00-{TRACE}-{PARENT}-1"),
        "garbage".to_string(),
    ];
    for value in &invalid {
        let calls = harness
            .send(&[("traceparent", value), ("tracestate", "foo=1")], 1)
            .await;
        let (trace, _, _) = traceparent(&calls[0]);
        assert_ne!(trace, TRACE, "{value} must start a new trace");
        assert_eq!(tracestate(&calls[0]), None, "{value}: tracestate dropped");
    }
    // Two traceparent headers: invalid too.
    let valid = format!("00-{TRACE}-{PARENT}-01");
    let calls = harness
        .send(&[("traceparent", &valid), ("traceparent", &valid)], 1)
        .await;
    assert_ne!(traceparent(&calls[0]).0, TRACE);

    // A valid one: the trace continues, the parent-id is ours, tracestate inherited.
    let calls = harness
        .send(&[("traceparent", &valid), ("tracestate", "foo=1,bar=2")], 2)
        .await;
    for call in &calls {
        let (trace, parent, flags) = traceparent(call);
        assert_eq!(trace, TRACE);
        assert_ne!(parent, PARENT);
        assert_eq!(flags, "01");
        assert_eq!(tracestate(call).as_deref(), Some("foo=1,bar=2"));
    }

    // The random flag survives an unsampled child, and a sampled one.
    for (incoming, outgoing) in [("02", "02"), ("03", "03"), ("00", "00")] {
        let value = format!("00-{TRACE}-{PARENT}-{incoming}");
        let calls = harness.send(&[("traceparent", &value)], 1).await;
        let (trace, _, flags) = traceparent(&calls[0]);
        assert_eq!(trace, TRACE);
        assert_eq!(flags, outgoing, "incoming flags {incoming}");
    }

    // A higher version is parsed and re-emitted as 00; unknown flag bits are cleared.
    let future = format!("cc-{TRACE}-{PARENT}-09-what-the-future-holds");
    let calls = harness.send(&[("traceparent", &future)], 1).await;
    assert_eq!(traceparent(&calls[0]).0, TRACE);
    assert_eq!(traceparent(&calls[0]).2, "01");

    // Duplicate tracestate keys: inherited, never discarded.
    let calls = harness
        .send(
            &[("traceparent", &valid), ("tracestate", "foo=1,bar=2,foo=3")],
            1,
        )
        .await;
    let kept = tracestate(&calls[0]).expect("tracestate inherited");
    assert!(kept.contains("bar=2") && kept.contains("foo="), "{kept}");
    // Repeated tracestate headers are joined in order.
    let calls = harness
        .send(
            &[
                ("traceparent", &valid),
                ("tracestate", "foo=1"),
                ("tracestate", "bar=2"),
            ],
            1,
        )
        .await;
    assert_eq!(tracestate(&calls[0]).as_deref(), Some("foo=1,bar=2"));
    // More than 32 members: the tracestate is discarded, the trace continues.
    let members: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let calls = harness
        .send(
            &[("traceparent", &valid), ("tracestate", &members.join(","))],
            1,
        )
        .await;
    assert_eq!(traceparent(&calls[0]).0, TRACE);
    assert_eq!(tracestate(&calls[0]), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_with_exporter_otlp() {
    let receiver = Receiver::start();
    let g = guard(sending_to(&receiver, "grpc", &[]));
    let harness = Harness::start(g).await;
    every_case(&harness).await;
    // The spans of the valid case reached the collector, parented on the caller's span. The
    // cases' spans arrive in batches of their own, so wait for one more until it is there.
    let mut n = 1;
    loop {
        let spans = receiver.wait_for_spans_async(n, WAIT).await.expect("spans");
        if spans
            .iter()
            .any(|s| s.parent_span_id_hex().as_deref() == Some(PARENT))
        {
            break;
        }
        n = spans.len() + 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_with_exporter_none() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_TRACES_EXPORTER", "none")],
    ));
    let harness = Harness::start(g).await;
    every_case(&harness).await;
    drop(harness);
    assert_eq!(receiver.request_count(), 0, "no exporter, nothing sent");
}
