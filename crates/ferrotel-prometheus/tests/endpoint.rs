//! The `/metrics` server over real loopback sockets: routes, headers, negotiation, the rate
//! limit, the connection limit, timeouts, and that stuck scrapers block neither other scrapes
//! nor the threads recording metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel_prometheus::{
    EndpointConfig, MetricsEndpoint, MetricsSource, HEADER_READ_TIMEOUT, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE, WRITE_STALL_TIMEOUT,
};
use ferrotel_testkit::raw_http::{get, request};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use support::SharedReader;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const DEADLINE: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

fn config() -> EndpointConfig {
    EndpointConfig {
        addr: loopback(),
        max_requests_per_second: 0,
        ..EndpointConfig::default()
    }
}

/// A histogram `lat` (bounds 1, 2) with one exemplar of value 1.5 → on the `le="2.0"` line.
fn sample_request() -> ExportMetricsServiceRequest {
    let point = HistogramDataPoint {
        count: 2,
        sum: Some(2.0),
        explicit_bounds: vec![1.0, 2.0],
        bucket_counts: vec![1, 1, 0],
        exemplars: vec![Exemplar {
            trace_id: vec![0x11; 16],
            span_id: vec![0x22; 8],
            time_unix_nano: 1_700_000_000_000_000_000,
            value: Some(exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }],
        ..Default::default()
    };
    one_metric(Metric {
        name: "lat".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![point],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    })
}

fn one_metric(metric: Metric) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![metric],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A gauge with `n` points: a page of many megabytes, larger than loopback socket buffers.
fn filler(n: usize) -> Metric {
    let points = (0..n)
        .map(|i| NumberDataPoint {
            attributes: vec![KeyValue {
                key: "series".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("{i:0>40}"))),
                }),
                ..Default::default()
            }],
            value: Some(number_data_point::Value::AsInt(1)),
            ..Default::default()
        })
        .collect();
    Metric {
        name: "filler".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn fixed(request: ExportMetricsServiceRequest) -> MetricsSource {
    Arc::new(move || request.clone())
}

fn start(
    config: EndpointConfig,
    source: MetricsSource,
) -> (tokio::runtime::Runtime, MetricsEndpoint) {
    let rt = runtime();
    let endpoint = MetricsEndpoint::start(config, source, rt.handle()).expect("start endpoint");
    (rt, endpoint)
}

fn assert_security_headers(response: &ferrotel_testkit::raw_http::Response, what: &str) {
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}: {response:?}"
    );
    assert_eq!(
        response.header("x-frame-options"),
        Some("DENY"),
        "{what}: {response:?}"
    );
    assert_eq!(
        response.header("x-xss-protection"),
        Some("1; mode=block"),
        "{what}: {response:?}"
    );
}

/// Polls `f` until it returns `Some` or the deadline passes.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn default_config_is_loopback_9464() {
    let config = EndpointConfig::default();
    assert_eq!(config.addr, SocketAddr::from((Ipv4Addr::LOCALHOST, 9464)));
    assert!(config.addr.ip().is_loopback());
    assert_eq!(config.max_requests_per_second, 10);
    assert_eq!(config.burst, 20);
    assert_eq!(config.max_connections_per_peer, 4);
    assert_eq!(config.max_connections, 16);
    assert_eq!(config.collect_timeout, Duration::from_secs(5));
}

#[test]
fn routes_statuses_and_headers() {
    let (_rt, endpoint) = start(config(), fixed(sample_request()));
    let addr = endpoint.local_addr();
    assert!(addr.ip().is_loopback());
    let cases = [
        ("GET", "/metrics", 200),
        ("HEAD", "/metrics", 200),
        ("GET", "/health", 200),
        ("HEAD", "/health", 200),
        ("GET", "/nope", 404),
        ("GET", "/", 200),
        ("HEAD", "/", 200),
        ("POST", "/", 405),
        ("POST", "/metrics", 405),
        ("PUT", "/metrics", 405),
        ("DELETE", "/health", 405),
    ];
    for (method, path, status) in cases {
        let what = format!("{method} {path}");
        let response =
            request(addr, method, path, &[], None).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(response.status, status, "{what}: {response:?}");
        assert_security_headers(&response, &what);
        if status == 405 {
            assert_eq!(response.header("allow"), Some("GET, HEAD"), "{what}");
        }
        if method == "HEAD" {
            assert_eq!(response.body, "", "{what} must have no body");
        }
    }
    let health = get(addr, "/health", None);
    assert_eq!(health.body, "ok");
    let head = request(
        addr,
        "HEAD",
        "/metrics",
        &[("Accept", PROMETHEUS_ACCEPT)],
        None,
    )
    .unwrap();
    assert_eq!(head.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
}

#[test]
fn accept_header_picks_the_format() {
    let (_rt, endpoint) = start(config(), fixed(sample_request()));
    let addr = endpoint.local_addr();

    let om = get(addr, "/metrics", Some(PROMETHEUS_ACCEPT));
    assert_eq!(om.status, 200);
    assert_eq!(om.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
    let exemplar = format!(
        "lat_bucket{{le=\"2.0\"}} 2 # {{trace_id=\"{}\",span_id=\"{}\"}} 1.5 1700000000\n",
        "11".repeat(16),
        "22".repeat(8)
    );
    assert!(om.body.contains(&exemplar), "{}", om.body);
    assert!(om.body.ends_with("# EOF\n"));

    for accept in [None, Some("text/plain"), Some("*/*")] {
        let text = get(addr, "/metrics", accept);
        assert_eq!(text.status, 200);
        assert_eq!(
            text.header("content-type"),
            Some(PROMETHEUS_TEXT_CONTENT_TYPE),
            "{accept:?}"
        );
        assert!(
            text.body.contains("lat_bucket{le=\"2.0\"} 2\n"),
            "{}",
            text.body
        );
        assert!(!text.body.contains("trace_id") && !text.body.contains("# EOF"));
    }
}

#[test]
fn scrapes_beyond_the_burst_get_429_but_health_does_not() {
    let config = EndpointConfig {
        max_requests_per_second: 3,
        burst: 3,
        ..config()
    };
    let (_rt, endpoint) = start(config, fixed(sample_request()));
    let addr = endpoint.local_addr();
    for i in 0..3 {
        assert_eq!(
            get(addr, "/metrics", None).status,
            200,
            "scrape {i} is within the burst"
        );
    }
    // The bucket refills at 3/s, so a token may come back while we ask; one of the next few
    // immediate scrapes is refused all the same.
    let refused = (0..5)
        .map(|_| get(addr, "/metrics", None))
        .find(|r| r.status == 429)
        .expect("a scrape beyond the burst is refused");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_security_headers(&refused, "429");
    assert_eq!(
        get(addr, "/health", None).status,
        200,
        "health is not rate limited"
    );
    // And the limit is a rate, not a ban.
    eventually("a token to come back", || {
        (get(addr, "/metrics", None).status == 200).then_some(())
    });
}

#[test]
fn the_burst_admits_more_back_to_back_scrapes_than_the_rate() {
    let config = EndpointConfig {
        max_requests_per_second: 1,
        burst: 6,
        ..config()
    };
    let (_rt, endpoint) = start(config, fixed(sample_request()));
    let addr = endpoint.local_addr();
    // The bucket starts full, so the whole burst is admitted however long the scrapes take.
    for i in 0..6 {
        let response = get(addr, "/metrics", None);
        assert_eq!(
            response.status, 200,
            "scrape {i} is within the burst: {response:?}"
        );
    }
    // One token a second comes back: one of the next few immediate scrapes is refused.
    let refused = (0..4)
        .map(|_| get(addr, "/metrics", None))
        .find(|r| r.status == 429)
        .expect("a scrape beyond the burst is refused");
    assert_security_headers(&refused, "429");
    // The index and the health check cost no collection and are never refused.
    assert_eq!(get(addr, "/", None).status, 200);
    assert_eq!(get(addr, "/health", None).status, 200);
}

#[test]
fn the_index_links_metrics_and_health() {
    let (_rt, endpoint) = start(config(), fixed(sample_request()));
    let addr = endpoint.local_addr();
    let index = get(addr, "/", None);
    assert_eq!(index.status, 200, "{index:?}");
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_security_headers(&index, "index");
    assert!(
        index.body.contains("<a href=\"metrics\">"),
        "{}",
        index.body
    );
    assert!(index.body.contains("<a href=\"health\">"), "{}", index.body);
    // The links resolve against the page's own address to the two routes.
    assert_eq!(get(addr, "/metrics", None).status, 200);
    assert_eq!(get(addr, "/health", None).body, "ok");
    // A query string changes nothing; a path below the index is not the index.
    assert_eq!(get(addr, "/?from=probe", None).status, 200);
    assert_eq!(get(addr, "/index.html", None).status, 404);
}

#[test]
fn binding_a_taken_port_is_an_error() {
    let (rt, first) = start(config(), fixed(sample_request()));
    let taken = EndpointConfig {
        addr: first.local_addr(),
        ..config()
    };
    let err = MetricsEndpoint::start(taken, fixed(sample_request()), rt.handle())
        .expect_err("the port is taken");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    assert_eq!(get(first.local_addr(), "/health", None).status, 200);
}

#[test]
fn shutdown_closes_the_listener() {
    let (_rt, endpoint) = start(config(), fixed(sample_request()));
    let addr = endpoint.local_addr();
    assert_eq!(get(addr, "/health", None).status, 200);
    endpoint.shutdown();
    let err = TcpStream::connect(addr).expect_err("nothing listens after shutdown");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_hung_source_gets_503_and_a_panicking_one_500() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let hung: MetricsSource = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = release_rx.lock().unwrap().recv();
        sample_request()
    });
    let config = EndpointConfig {
        collect_timeout: Duration::from_millis(300),
        ..config()
    };
    let (rt, endpoint) = start(config.clone(), hung);
    let addr = endpoint.local_addr();
    let first = get(addr, "/metrics", None);
    assert_eq!(first.status, 503, "{first:?}");
    assert_security_headers(&first, "503");
    // The hung collection still runs: the next scrape waits for it and times out too,
    // without starting a second one.
    assert_eq!(get(addr, "/metrics", None).status, 503);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(get(addr, "/health", None).status, 200);
    release_tx.send(()).unwrap();
    drop(release_tx);
    let ok = eventually("the source to answer again", || {
        let r = get(addr, "/metrics", None);
        (r.status == 200).then_some(r)
    });
    assert!(ok.body.contains("lat_count 2"));

    let panicking: MetricsSource = Arc::new(|| panic!("source bug (expected by this test)"));
    // A panic answers at once; a long timeout keeps a slow machine from turning it into 503.
    let config = EndpointConfig {
        collect_timeout: Duration::from_secs(30),
        ..config
    };
    let other = MetricsEndpoint::start(config, panicking, rt.handle()).unwrap();
    assert_eq!(get(other.local_addr(), "/metrics", None).status, 500);
    assert_eq!(
        get(other.local_addr(), "/health", None).status,
        200,
        "still serving"
    );
}

/// When every slot is taken, a new connection evicts an idle one (a socket that sent no
/// request head), and a client that never sends a request is disconnected by the header read
/// timeout anyway.
#[test]
fn idle_connections_give_their_slot_and_time_out() {
    let config = EndpointConfig {
        max_connections: 1,
        ..config()
    };
    let (_rt, endpoint) = start(config, fixed(sample_request()));
    let addr = endpoint.local_addr();

    let mut idle = TcpStream::connect(addr).unwrap();
    let health = eventually("a new connection to evict the idle one", || {
        request(addr, "GET", "/health", &[], None).ok()
    });
    assert_eq!(health.status, 200);
    idle.set_read_timeout(Some(HEADER_READ_TIMEOUT * 3))
        .unwrap();
    let mut sink = Vec::new();
    idle.read_to_end(&mut sink)
        .expect("the server closes the evicted connection");
}

/// An idle-socket attack: sixteen idle sockets (the default cap), re-taken as fast as they are
/// closed, do not deny `/health` or `/metrics`.
#[test]
fn sixteen_idle_sockets_do_not_deny_health_or_metrics() {
    let (_rt, endpoint) = start(config(), fixed(sample_request()));
    let addr = endpoint.local_addr();
    let mut held: Vec<TcpStream> = (0..16).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for path in ["/health", "/metrics", "/health"] {
        // The attacker takes a slot again before every request.
        held.push(TcpStream::connect(addr).unwrap());
        let answer = eventually("an answer under idle-socket attack", || {
            request(addr, "GET", path, &[], None).ok()
        });
        assert_eq!(answer.status, 200, "{path}");
    }
    drop(held);
}

/// A scraper that requests a large page and never reads it loses its connection once writes
/// stall for [`WRITE_STALL_TIMEOUT`], which frees its slot.
#[test]
fn a_scraper_that_never_reads_is_disconnected() {
    let config = EndpointConfig {
        max_connections: 1,
        collect_timeout: Duration::from_secs(30),
        ..config()
    };
    let (_rt, endpoint) = start(config, fixed(one_metric(filler(300_000))));
    let addr = endpoint.local_addr();

    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The response has begun (peeked, not read): the connection is busy, not idle.
    stalled.peek(&mut [0u8; 1]).unwrap();
    assert!(
        request(addr, "GET", "/health", &[], None).is_err(),
        "the stalled scraper holds the only slot"
    );

    let started = Instant::now();
    let health = eventually("the stalled connection to be dropped", || {
        request(addr, "GET", "/health", &[], None).ok()
    });
    assert_eq!(health.status, 200);
    assert!(started.elapsed() < WRITE_STALL_TIMEOUT * 4);

    // The server closed the stalled connection: reading ends in EOF or a reset, not the timeout.
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut received = Vec::new();
    match stalled.read_to_end(&mut received) {
        Ok(_) => {}
        // A reset can discard what the client's kernel had queued, head included.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
        Err(e) => panic!("the stalled connection was not closed: {e}"),
    }
    // What the stalled client could still read is cut short of the announced length.
    let head_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("content-length");
    assert!(
        received.len() - head_end < length,
        "the response was cut off"
    );
}

/// While one client holds a connection without sending and another never reads its (large)
/// response, other scrapes are answered and a thread recording into the SDK keeps going.
#[test]
fn stuck_scrapers_block_neither_scrapes_nor_recording() {
    let reader = SharedReader::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .build();
    let histogram = provider
        .meter("test")
        .f64_histogram("work.duration")
        .with_unit("s")
        .build();

    let recorded = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = {
        let (recorded, stop) = (recorded.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                histogram.record(0.01, &[]);
                recorded.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let big = filler(300_000);
    let source: MetricsSource = Arc::new(move || {
        let mut request = reader.collect_request();
        if let Some(scope) = request
            .resource_metrics
            .first_mut()
            .and_then(|r| r.scope_metrics.first_mut())
        {
            scope.metrics.push(big.clone());
        }
        request
    });
    let config = EndpointConfig {
        collect_timeout: Duration::from_secs(30),
        ..config()
    };
    let (_rt, endpoint) = start(config, source);
    let addr = endpoint.local_addr();

    let _idle = TcpStream::connect(addr).unwrap();
    let mut stalled = TcpStream::connect(addr).unwrap();
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The response has begun (peeked, not read): the connection is busy, not idle.
    stalled.peek(&mut [0u8; 1]).unwrap();
    // The stalled client's response has started arriving (and then fills the socket buffers).
    let mut first = [0u8; 12];
    stalled.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let before = recorded.load(Ordering::Relaxed);
    let scrape = get(addr, "/metrics", None);
    assert_eq!(scrape.status, 200);
    assert!(
        scrape.body.contains("work_duration_seconds_count"),
        "the recorder's histogram is served"
    );
    assert_eq!(get(addr, "/health", None).status, 200);
    let during = recorded.load(Ordering::Relaxed);
    assert!(during > before, "recording went on during the scrape");
    eventually("recording to keep progressing", || {
        (recorded.load(Ordering::Relaxed) > during + 10_000).then_some(())
    });

    stop.store(true, Ordering::Relaxed);
    recorder.join().unwrap();
}

/// Idle connections are bounded per peer, so one peer cannot starve the others. One peer
/// (127.0.0.2) whose connection is busy in a hung collection holds its whole share: its next
/// connection is closed at once instead of taking the last slot, and another peer (127.0.0.1)
/// is served.
#[test]
fn one_peer_at_its_cap_leaves_slots_for_another() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (called_tx, called_rx) = mpsc::channel::<()>();
    let called_tx = Mutex::new(called_tx);
    let hung: MetricsSource = Arc::new(move || {
        let _ = called_tx.lock().unwrap().send(());
        let _ = release_rx.lock().unwrap().recv();
        sample_request()
    });
    let config = EndpointConfig {
        max_connections: 2,
        max_connections_per_peer: 1,
        collect_timeout: Duration::from_secs(5),
        ..config()
    };
    let (rt, endpoint) = start(config, hung);
    let addr = endpoint.local_addr();
    let from_other_peer = || -> TcpStream {
        rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            socket.connect(addr).await.unwrap().into_std().unwrap()
        })
    };
    let scrape = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    // The first peer's first connection is busy: its collection hangs.
    let mut busy = from_other_peer();
    busy.set_nonblocking(false).unwrap();
    busy.write_all(scrape.as_bytes()).unwrap();
    called_rx
        .recv_timeout(DEADLINE)
        .expect("the collection started");
    // Its second connection finds its share taken and nothing of its own idle: closed with
    // no answer (before the per-peer bound it took the last slot and waited for a 503).
    let mut second = from_other_peer();
    second.set_nonblocking(false).unwrap();
    let _ = second.write_all(scrape.as_bytes());
    second.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut answer = Vec::new();
    let _ = second.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "closed without an answer: {}",
        String::from_utf8_lossy(&answer)
    );
    // Another peer still has a slot.
    let health = get(addr, "/health", None);
    assert_eq!(health.status, 200, "{health:?}");
    release_tx.send(()).unwrap();
    drop(busy);
}
