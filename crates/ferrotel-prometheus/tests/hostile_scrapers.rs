//! `/metrics` against hostile clients on real loopback sockets: every answer, hyper's own 400
//! and 431 included, carries the security headers SECURITY.md lists; and sockets that trickle
//! request heads a byte at a time, re-opened as they are closed, from one address or from
//! many, do not keep `/health` and `/metrics` from answering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_prometheus::{EndpointConfig, MetricsEndpoint, MetricsSource};
use ferrotel_testkit::raw_http::{raw as raw_request, request, Response as HttpResponse};
use ferrotel_testkit::slowloris::Trickle;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// The headers SECURITY.md promises on every answer.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
];

fn start(config: EndpointConfig) -> (tokio::runtime::Runtime, MetricsEndpoint) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source: MetricsSource = Arc::new(ExportMetricsServiceRequest::default);
    let endpoint = MetricsEndpoint::start(config, source, rt.handle()).expect("start endpoint");
    (rt, endpoint)
}

fn config() -> EndpointConfig {
    EndpointConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        max_requests_per_second: 0,
        ..EndpointConfig::default()
    }
}

fn assert_headers(response: &HttpResponse, status: u16, what: &str) {
    assert_eq!(response.status, status, "{what}: {response:?}");
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.header(name),
            Some(value),
            "{what}: {name}: {response:?}"
        );
    }
}

#[test]
fn every_answer_carries_the_security_headers_hypers_own_400_and_431_included() {
    let (_rt, endpoint) = start(EndpointConfig {
        max_requests_per_second: 1,
        burst: 1,
        ..config()
    });
    let addr = endpoint.local_addr();
    assert_headers(
        &request(addr, "GET", "/health", &[], None).unwrap(),
        200,
        "200",
    );
    assert_headers(&request(addr, "GET", "/", &[], None).unwrap(), 200, "index");
    assert_headers(
        &request(addr, "GET", "/nope", &[], None).unwrap(),
        404,
        "404",
    );
    assert_headers(&request(addr, "POST", "/", &[], None).unwrap(), 405, "405");
    // One scrape a second: the second of two at once is refused.
    let _ = request(addr, "GET", "/metrics", &[], None).unwrap();
    assert_headers(
        &request(addr, "GET", "/metrics", &[], None).unwrap(),
        429,
        "429",
    );
    // Answered by hyper itself, before any route runs.
    let garbage = raw_request(addr, b"NOT AN HTTP REQUEST\x01\r\n\r\n").unwrap();
    assert_headers(&garbage, 400, "400");
    let mut too_many = String::from("GET /health HTTP/1.1\r\nHost: x\r\n");
    for n in 0..200 {
        too_many.push_str(&format!("X-Header-{n}: value\r\n"));
    }
    too_many.push_str("\r\n");
    assert_headers(&raw_request(addr, too_many.as_bytes()).unwrap(), 431, "431");
}

#[test]
fn health_and_metrics_answer_while_sockets_trickle_request_heads_from_one_or_a_hundred_sources() {
    let one = [Ipv4Addr::LOCALHOST];
    let hundred: Vec<Ipv4Addr> = (1..=100).map(|n| Ipv4Addr::new(127, 0, 1, n)).collect();
    // Twenty sockets from one address; a hundred sockets, one from each of a hundred.
    for sources in [&one[..], &hundred[..]] {
        let (_rt, endpoint) = start(config());
        let addr = endpoint.local_addr();
        let trickle = Trickle::start(addr, "/metrics", sources, sources.len().max(20)).unwrap();
        // Ready when the tricklers hold the slots: every one of them has sent a few bytes.
        let deadline = Instant::now() + Duration::from_secs(60);
        while trickle.bytes_sent() < 10 * sources.len().max(20) as u64 {
            assert!(Instant::now() < deadline, "the tricklers never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let probes = 100;
        let mut answered = 0;
        let mut failures = Vec::new();
        for n in 0..probes {
            let path = if n % 2 == 0 { "/health" } else { "/metrics" };
            match request(addr, "GET", path, &[], None) {
                Ok(response) if response.status == 200 => answered += 1,
                other => failures.push(format!("{path}: {other:?}")),
            }
        }
        trickle.stop();
        // At least 99 % of the probes, from the acceptance.
        assert!(
            answered * 100 >= probes * 99,
            "{} sources: {answered} of {probes} answered; {failures:?}",
            sources.len()
        );
    }
}
