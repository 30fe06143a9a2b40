//! The `/metrics` endpoint's limits set through the environment reach the server: the scrape
//! rate and burst, the connection cap and the per-peer cap, each seen on real loopback
//! sockets, and the index page at `/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::Mutex;

use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel::Guard;
use ferrotel_testkit::raw_http::get;
use support::{guard, quick, WAIT};

/// A guard serving `/metrics` on a free loopback port, with `pairs` on top.
fn serving(pairs: &[(&str, &str)]) -> (Guard, SocketAddr) {
    let mut all = vec![
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("FERROTEL_METRICS_ADDR", "127.0.0.1:0"),
    ];
    all.extend_from_slice(pairs);
    let g = guard(quick(&all));
    let addr = g.metrics_addr().expect("the endpoint started");
    (g, addr)
}

/// Holds one connection busy: its scrape runs an observable gauge's callback that waits until
/// the returned sender is dropped.
fn hold_a_scrape(g: &Guard, addr: SocketAddr) -> (TcpStream, mpsc::Sender<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (called_tx, called_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let called_tx = Mutex::new(called_tx);
    let meter = g.providers().meter_provider().unwrap().meter("hold");
    let _gauge = meter
        .u64_observable_gauge("held")
        .with_callback(move |observer| {
            let _ = called_tx.lock().unwrap().send(());
            let _ = release_rx.lock().unwrap().recv_timeout(WAIT);
            observer.observe(1, &[]);
        })
        .build();
    let mut busy = TcpStream::connect(addr).unwrap();
    busy.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    called_rx
        .recv_timeout(WAIT)
        .expect("the held scrape's collection started");
    (busy, release_tx)
}

/// What a new connection that asks for `/health` reads before the server closes it.
fn health_answer(addr: SocketAddr) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    // The server may close before the request is written; what it answered is what counts.
    let _ = socket.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn the_rate_limit_and_burst_variables_reach_the_endpoint() {
    let (_g, addr) = serving(&[
        ("FERROTEL_METRICS_RATE_LIMIT", "1"),
        ("FERROTEL_METRICS_BURST", "3"),
    ]);
    for i in 0..3 {
        assert_eq!(get(addr, "/metrics", None).status, 200, "scrape {i}");
    }
    // One token a second comes back, so one of the next few immediate scrapes is refused
    // (under the defaults, 10 a second with bursts of 20, none would be).
    let refused = (0..4)
        .map(|_| get(addr, "/metrics", None))
        .find(|r| r.status == 429)
        .expect("a scrape beyond the burst is refused");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let index = get(addr, "/", None);
    assert_eq!(index.status, 200, "the index is not rate limited");
    assert!(index.body.contains("href=\"metrics\""), "{}", index.body);
    assert_eq!(index.header("x-xss-protection"), Some("1; mode=block"));
}

#[test]
fn the_connection_caps_from_the_environment_close_connections_past_them() {
    // One connection in all: while it serves a scrape, another is closed unanswered (under
    // the default 16 it would be answered).
    let (g, addr) = serving(&[("FERROTEL_METRICS_MAX_CONNECTIONS", "1")]);
    let (busy, release) = hold_a_scrape(&g, addr);
    let answer = health_answer(addr);
    assert!(answer.is_empty(), "closed without an answer: {answer}");
    drop(release);
    drop(busy);
    drop(g);

    // One connection per peer: the same peer is closed while its one connection serves.
    let (g, addr) = serving(&[("FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER", "1")]);
    let (busy, release) = hold_a_scrape(&g, addr);
    let answer = health_answer(addr);
    assert!(answer.is_empty(), "closed without an answer: {answer}");
    drop(release);
    drop(busy);
    // Once the held scrape is done, the peer is served again.
    let mut answered = health_answer(addr);
    let deadline = std::time::Instant::now() + WAIT;
    while !answered.starts_with("HTTP/1.1 200") {
        assert!(std::time::Instant::now() < deadline, "never served again");
        std::thread::sleep(std::time::Duration::from_millis(20));
        answered = health_answer(addr);
    }
}
