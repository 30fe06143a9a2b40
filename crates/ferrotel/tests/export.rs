//! The real export path into the in-process receiver, one group per variable family: what
//! reached the wire is asserted, never only that nothing failed.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ferrotel::opentelemetry::trace::{Tracer, TracerProvider as _};
use ferrotel_testkit::{Receiver, Signal, TestCerts, Transport};
use serde_json::Value as Json;
use support::{guard, one_span, quick, sending_to, traced, Captured, WAIT};

// --- protocols, headers, compression -----------------------------------------------------

#[test]
fn grpc_carries_headers_gzip_and_the_resource() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                &format!(
                    "x-tenant=acme,authorization=Bearer%20{}",
                    ferrotel_testkit::secret("t0k")
                ),
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_SERVICE_NAME", "svc-a"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=loses,deployment.environment=test%20env",
            ),
        ],
    ));
    one_span(&g, "grpc-span");
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let spans = receiver.wait_for_spans(1, WAIT).expect("span arrives");
    let span = &spans[0];
    assert_eq!(span.name(), "grpc-span");
    assert_eq!(span.attr("job").as_deref(), Some("7"));
    assert_eq!(span.resource_attr("service.name").as_deref(), Some("svc-a"));
    assert_eq!(
        span.resource_attr("deployment.environment").as_deref(),
        Some("test env")
    );
    assert!(span.resource_attr("service.instance.id").is_some());
    assert_eq!(
        span.resource_attr("telemetry.sdk.language").as_deref(),
        Some("rust")
    );

    let request = receiver
        .requests()
        .into_iter()
        .find(|r| r.signal == Signal::Traces)
        .expect("trace request");
    assert_eq!(request.transport, Transport::Grpc);
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", ferrotel_testkit::secret("t0k")).as_str())
    );
    assert!(
        request.gzip,
        "OTEL_EXPORTER_OTLP_COMPRESSION=gzip must compress"
    );
}

#[test]
fn http_protobuf_appends_the_signal_path_to_a_generic_endpoint() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "http/protobuf",
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
        ],
    ));
    one_span(&g, "http-span");
    drop(g);

    let spans = receiver.wait_for_spans(1, WAIT).expect("span arrives");
    assert_eq!(spans[0].name(), "http-span");
    let request = &receiver.requests()[0];
    assert_eq!(request.transport, Transport::Http);
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert!(request.gzip);
    assert!(request
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("OTel-OTLP-Exporter-Rust/")));
}

#[test]
fn http_json_sends_otlp_json_spans() {
    let receiver = Receiver::start();
    let g = guard(sending_to(&receiver, "http/json", &[]));
    one_span(&g, "json-span");
    drop(g);
    let spans = receiver.wait_for_spans(1, WAIT).expect("span arrives");
    assert_eq!(spans[0].name(), "json-span");
    assert_eq!(spans[0].attr("job").as_deref(), Some("7"));
    assert_eq!(
        spans[0].trace_id_hex().len(),
        32,
        "hex ids decoded from JSON"
    );
    let request = &receiver.requests()[0];
    assert_eq!(request.path, "/v1/traces");
    assert!(request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
}

#[test]
fn traces_exporter_none_still_makes_spans_and_ids_but_sends_nothing() {
    let receiver = Receiver::start();
    let logs = Captured::default();
    let sink = logs.clone();
    let g = ferrotel::builder()
        .env(sending_to(
            &receiver,
            "grpc",
            &[("OTEL_TRACES_EXPORTER", "none")],
        ))
        .install_subscriber(false)
        .install_globals(false)
        .log_writer(move || sink.clone())
        .try_init()
        .expect("starts");
    assert!(
        g.providers().tracer_provider().is_some(),
        "no exporter, but an SDK"
    );
    assert!(g.stats().spans.is_empty());
    let sampled = traced(&g, || {
        use ferrotel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let span = tracing::info_span!("unexported");
        let _entered = span.enter();
        tracing::info!("inside the span");
        let cx = span.context();
        use ferrotel::opentelemetry::trace::TraceContextExt as _;
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        sc.is_sampled()
    });
    assert!(sampled);
    drop(g);
    let line = logs.text();
    assert!(line.contains("trace_id="), "log lines carry ids: {line}");
    assert_eq!(receiver.request_count(), 0);
}

#[test]
fn guard_layer_works_in_a_subscriber_of_your_own() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_LOGS_EXPORTER", "otlp")],
    ));
    let subscriber = tracing_subscriber::registry().with(g.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("own-subscriber");
        let _entered = span.enter();
        tracing::info!("through the guard's layer");
    });
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let span = receiver.wait_for_spans(1, WAIT).expect("span")[0].clone();
    assert_eq!(span.name(), "own-subscriber");
    assert_eq!(span.span.flags & 0xff, 0x03, "sampled, random trace id");
    let logs = receiver.wait_for_logs(1, WAIT).expect("log record");
    assert_eq!(logs[0].trace_id_hex(), span.trace_id_hex());
}

#[test]
fn the_default_protocol_is_http_protobuf() {
    let receiver = Receiver::start();
    let endpoint = receiver.http_endpoint();
    let g = guard(quick(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]));
    one_span(&g, "default-protocol");
    drop(g);
    receiver.wait_for_spans(1, WAIT).expect("span arrives");
    assert_eq!(receiver.requests()[0].transport, Transport::Http);
}

#[test]
fn per_signal_endpoint_wins_and_is_used_exactly_as_given() {
    let receiver = Receiver::start();
    // The generic endpoint leads nowhere; the per-signal one is a full URL that must not get a
    // second `/v1/traces` appended.
    let traces = format!("{}/v1/traces", receiver.http_endpoint());
    let g = guard(quick(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]));
    one_span(&g, "per-signal");
    drop(g);
    receiver.wait_for_spans(1, WAIT).expect("span arrives");
    assert_eq!(receiver.requests()[0].path, "/v1/traces");
}

#[test]
fn per_signal_protocol_wins_over_the_generic_one() {
    let receiver = Receiver::start();
    let grpc = receiver.grpc_endpoint();
    let g = guard(quick(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &grpc),
    ]));
    one_span(&g, "per-signal-protocol");
    drop(g);
    receiver.wait_for_spans(1, WAIT).expect("span arrives");
    assert_eq!(receiver.requests()[0].transport, Transport::Grpc);
}

#[test]
fn metrics_reach_the_receiver_over_every_protocol() {
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let receiver = Receiver::start();
        let g = guard(sending_to(
            &receiver,
            protocol,
            &[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_SERVICE_NAME", "metered"),
            ],
        ));
        use ferrotel::opentelemetry::metrics::MeterProvider as _;
        let meter = g
            .providers()
            .meter_provider()
            .expect("meter provider")
            .meter("test");
        let histogram = meter.f64_histogram("test.latency").with_unit("s").build();
        histogram.record(0.25, &[]);
        drop(g);
        let metrics = receiver
            .wait_for_metric("test.latency", WAIT)
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(
            metrics[0].resource_attr("service.name").as_deref(),
            Some("metered")
        );
        let request = &receiver.requests()[0];
        if protocol != "grpc" {
            assert_eq!(request.path, "/v1/metrics");
            // http/json is JSON on the wire, not protobuf with a note.
            let content_type = request.header("content-type").unwrap_or_default();
            assert_eq!(
                content_type.starts_with("application/json"),
                protocol == "http/json",
                "{protocol}: {content_type}"
            );
        }
    }
}

// --- samplers ------------------------------------------------------------------------------

fn root_spans(guard: &ferrotel::Guard, n: usize) {
    let tracer = guard
        .providers()
        .tracer_provider()
        .expect("tracing on")
        .tracer("sampling");
    for _ in 0..n {
        tracer.in_span("root", |_| {});
    }
}

#[test]
fn always_off_sends_no_span() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_TRACES_SAMPLER", "always_off")],
    ));
    root_spans(&g, 200);
    one_span(&g, "also-off");
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(receiver.spans().len(), 0);
}

#[test]
fn traceidratio_quarter_keeps_about_a_quarter() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_TRACES_SAMPLER", "TraceIdRatio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ],
    ));
    root_spans(&g, 4000);
    let stats = g.stats().spans;
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let queued = stats[0].queued as usize;
    let arrived = receiver
        .wait_for_spans(queued, WAIT)
        .expect("all sampled arrive");
    assert!(
        (800..=1200).contains(&arrived.len()),
        "{} of 4000 sampled at ratio 0.25",
        arrived.len()
    );
}

// --- disabled ------------------------------------------------------------------------------

// --- configuration errors ------------------------------------------------------------------

#[test]
fn invalid_values_warn_and_fall_back_to_defaults() {
    let receiver = Receiver::start();
    let endpoint = receiver.http_endpoint();
    let g = guard(quick(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ("OTEL_PROPAGATORS", "tracecontext,carrier-pigeon"),
    ]));
    let messages: Vec<String> = g.config_issues().iter().map(|i| i.to_string()).collect();
    for (variable, value, allowed) in [
        ("OTEL_TRACES_SAMPLER", "sometimes", "parentbased_always_on"),
        ("OTEL_BSP_SCHEDULE_DELAY", "soon", "integer"),
        ("OTEL_PROPAGATORS", "carrier-pigeon", "b3multi"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.contains(variable) && m.contains(value) && m.contains(allowed)),
            "no message names {variable}={value} with its allowed values: {messages:#?}"
        );
    }
    // The defaults took over: the span is sampled and exported.
    one_span(&g, "after-bad-config");
    drop(g);
    receiver
        .wait_for_spans(1, WAIT)
        .expect("default sampler samples");
}

#[test]
fn strict_mode_refuses_invalid_values() {
    let err = ferrotel::builder()
        .env(quick(&[("OTEL_TRACES_SAMPLER", "sometimes")]))
        .strict(true)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("strict mode refuses");
    let message = err.to_string();
    assert!(message.contains("OTEL_TRACES_SAMPLER"), "{message}");
    assert!(message.contains("sometimes"), "{message}");
    assert!(err.config_error().is_some());

    let err = ferrotel::builder()
        .env(quick(&[
            ("FERROTEL_CONFIG_STRICT", "true"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ]))
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("strict mode from the environment refuses");
    assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_COMPRESSION"));
}

// --- log correlation -----------------------------------------------------------------------

#[test]
fn log_lines_carry_the_exported_span_ids_in_text_and_json() {
    for format in ["text", "json"] {
        let receiver = Receiver::start();
        let logs = Captured::default();
        let sink = logs.clone();
        let g = ferrotel::builder()
            .env(sending_to(
                &receiver,
                "grpc",
                &[("FERROTEL_LOG_FORMAT", format)],
            ))
            .install_subscriber(false)
            .install_globals(false)
            .log_writer(move || sink.clone())
            .try_init()
            .expect("starts");
        traced(&g, || {
            let span = tracing::info_span!("correlated");
            let _entered = span.enter();
            tracing::info!("inside the span");
        });
        traced(&g, || tracing::info!("outside any span"));
        drop(g);

        let span = receiver.wait_for_spans(1, WAIT).expect("span")[0].clone();
        let text = logs.text();
        let inside = text
            .lines()
            .find(|l| l.contains("inside the span"))
            .unwrap_or_else(|| panic!("{format}: no log line in {text:?}"));
        let outside = text
            .lines()
            .find(|l| l.contains("outside any span"))
            .unwrap();
        if format == "json" {
            let inside: Json = serde_json::from_str(inside).expect(inside);
            assert_eq!(inside["trace_id"], span.trace_id_hex().as_str(), "{inside}");
            assert_eq!(inside["span_id"], span.span_id_hex().as_str(), "{inside}");
            let outside: Json = serde_json::from_str(outside).expect(outside);
            assert!(outside.get("trace_id").is_none(), "{outside}");
            assert!(outside.get("span_id").is_none(), "{outside}");
        } else {
            assert!(
                inside.contains(&format!("trace_id={}", span.trace_id_hex())),
                "{inside}"
            );
            assert!(
                inside.contains(&format!("span_id={}", span.span_id_hex())),
                "{inside}"
            );
            assert!(!outside.contains("trace_id"), "{outside}");
        }
    }
}

/// The keys of a JSON object in the order the line has them (`serde_json` sorts a map's keys).
fn keys_in_order(line: &str, object: &Json) -> Vec<String> {
    let mut keys: Vec<(usize, String)> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(|k| {
            let quoted = format!("{}:", serde_json::to_string(k).unwrap());
            (line.find(&quoted).expect(&quoted), k.clone())
        })
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// DataFlux's documented log line, written by a service through ferrotel: the same keys at the
/// top level of one flat object, plus the target and the trace ids.
#[test]
fn json_lines_have_the_flat_shape_log_pipelines_expect() {
    let receiver = Receiver::start();
    let logs = Captured::default();
    let sink = logs.clone();
    let g = ferrotel::builder()
        .env(sending_to(
            &receiver,
            "grpc",
            &[
                ("FERROTEL_LOG_FORMAT", "json"),
                ("OTEL_SERVICE_NAME", "ingestion-service"),
            ],
        ))
        .install_subscriber(false)
        .install_globals(false)
        .log_writer(move || sink.clone())
        .try_init()
        .expect("starts");
    traced(&g, || {
        let request = tracing::info_span!("request", request_id = "req-123", tenant = "acme");
        let _request = request.enter();
        let upload = tracing::info_span!("upload", tenant = "inner");
        let _upload = upload.enter();
        tracing::info!(
            asset_id = "asset-456",
            duration_ms = 150,
            "Asset uploaded successfully"
        );
    });
    drop(g);
    let spans = receiver.wait_for_spans(2, WAIT).expect("spans");
    let upload = spans.iter().find(|s| s.name() == "upload").expect("upload");

    let text = logs.text();
    let raw = text
        .lines()
        .find(|l| l.contains("Asset uploaded"))
        .unwrap_or_else(|| panic!("no line in {text:?}"));
    let line: Json = serde_json::from_str(raw).expect(raw);
    let object = line.as_object().expect("one object per line");
    // Flat: no value is an object or an array.
    for (key, value) in object {
        assert!(
            !value.is_object() && !value.is_array(),
            "{key} nests: {raw}"
        );
    }
    // DataFlux's keys, with DataFlux's values.
    let dataflux: Json = serde_json::from_str(
        r#"{"timestamp": "...", "level": "INFO", "service": "ingestion-service",
            "request_id": "req-123", "message": "Asset uploaded successfully",
            "asset_id": "asset-456", "duration_ms": 150}"#,
    )
    .unwrap();
    for (key, expected) in dataflux.as_object().unwrap() {
        let got = object.get(key).unwrap_or_else(|| panic!("no {key}: {raw}"));
        if key != "timestamp" {
            assert_eq!(got, expected, "{key}: {raw}");
        }
    }
    let timestamp = object["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() >= 20 && timestamp.ends_with('Z') && &timestamp[10..11] == "T",
        "RFC 3339 UTC: {timestamp}"
    );
    // The documented order: fixed keys, the event's fields, then the spans' innermost first.
    assert_eq!(
        keys_in_order(raw, &line),
        [
            "timestamp",
            "level",
            "service",
            "message",
            "target",
            "trace_id",
            "span_id",
            "asset_id",
            "duration_ms",
            "tenant",
            "request_id",
        ],
        "{raw}"
    );
    assert_eq!(object["tenant"], "inner", "the innermost span wins: {raw}");
    assert_eq!(object["target"], module_path!());
    assert_eq!(object["trace_id"], upload.trace_id_hex().as_str());
    assert_eq!(object["span_id"], upload.span_id_hex().as_str());
}

// --- a collector that is not there ---------------------------------------------------------

#[test]
fn a_dead_endpoint_costs_at_most_the_shutdown_bound() {
    // Bind, learn the port, close: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = format!("http://127.0.0.1:{port}");
        let g = ferrotel::builder()
            .env(quick(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ]))
            .install_subscriber(false)
            .install_globals(false)
            .shutdown_timeout(Duration::from_secs(2))
            .try_init()
            .expect("init succeeds with nothing listening");
        // The service runs normally.
        for i in 0..50 {
            one_span(&g, if i % 2 == 0 { "a" } else { "b" });
        }
        let started = Instant::now();
        let report = g.shutdown();
        let took = started.elapsed();
        // A correctness bound (no hang), not a performance threshold.
        assert!(
            took < Duration::from_secs(2) + Duration::from_secs(3),
            "{protocol}: shutdown took {took:?}"
        );
        assert!(
            !report.problems.is_empty(),
            "{protocol}: lost spans must be reported"
        );
    }
}

// --- TLS -----------------------------------------------------------------------------------

#[test]
fn tls_with_the_configured_ca_works_over_both_protocols() {
    let certs = TestCerts::generate();
    let dir = tempdir("tls-ok");
    let paths = certs.write_to(&dir).unwrap();
    let receiver = Receiver::builder()
        .tls(certs.server_identity())
        .start()
        .unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = support::endpoint(&receiver, protocol);
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        let ca = paths.ca.to_str().unwrap();
        let g = guard(sending_to(
            &receiver,
            protocol,
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ],
        ));
        one_span(&g, "over-tls");
        // Metrics take ferrotel's own exporter (the one with exemplars): TLS applies there too.
        use ferrotel::opentelemetry::metrics::MeterProvider as _;
        let meter = g.providers().meter_provider().unwrap().meter("tls");
        let name = if protocol == "grpc" {
            "tls.grpc"
        } else {
            "tls.http"
        };
        g.providers()
            .meter_provider()
            .unwrap()
            .exemplars()
            .f64_histogram(&meter, name)
            .build()
            .record(1.0, &[]);
        let report = g.shutdown();
        assert!(
            report.problems.is_empty(),
            "{protocol}: {:?}",
            report.problems
        );
    }
    let spans = receiver.wait_for_spans(2, WAIT).expect("both arrive");
    receiver
        .wait_for_metric("tls.grpc", WAIT)
        .expect("metrics over gRPC TLS");
    receiver
        .wait_for_metric("tls.http", WAIT)
        .expect("metrics over HTTPS");
    let transports: HashSet<_> = receiver.requests().iter().map(|r| r.transport).collect();
    assert_eq!(transports.len(), 2);
    assert!(spans.iter().all(|s| s.name() == "over-tls"));
}

#[test]
fn mtls_presents_the_client_certificate() {
    let certs = TestCerts::generate();
    let dir = tempdir("mtls");
    let paths = certs.write_to(&dir).unwrap();
    let receiver = Receiver::builder()
        .tls(certs.server_identity())
        .require_client_cert(certs.ca_pem.clone())
        .start()
        .unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let g = guard(sending_to(
            &receiver,
            protocol,
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", paths.ca.to_str().unwrap()),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    paths.client_cert.to_str().unwrap(),
                ),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                    paths.client_key.to_str().unwrap(),
                ),
            ],
        ));
        one_span(&g, "over-mtls");
        let report = g.shutdown();
        assert!(
            report.problems.is_empty(),
            "{protocol}: {:?}",
            report.problems
        );
    }
    receiver.wait_for_spans(2, WAIT).expect("both arrive");
}

#[test]
fn a_wrong_ca_fails_clearly_without_panicking() {
    let server = TestCerts::generate();
    let stranger = TestCerts::generate();
    let dir = tempdir("tls-wrong");
    let paths = stranger.write_to(&dir).unwrap();
    let receiver = Receiver::builder()
        .tls(server.server_identity())
        .start()
        .unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let g = ferrotel::builder()
            .env(sending_to(
                &receiver,
                protocol,
                &[
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", paths.ca.to_str().unwrap()),
                    ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
                ],
            ))
            .install_subscriber(false)
            .install_globals(false)
            .shutdown_timeout(Duration::from_secs(3))
            .try_init()
            .expect("init succeeds; the handshake fails at export");
        one_span(&g, "refused");
        let report = g.shutdown();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("failed to export")),
            "{protocol}: {:?}",
            report.problems
        );
    }
    assert_eq!(receiver.spans().len(), 0);

    // A certificate file that does not exist is, in strict mode, an init error naming the
    // variable (outside strict mode trace export is off and the service runs: reliability.rs).
    let err = ferrotel::builder()
        .env(quick(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
        ]))
        .strict(true)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("missing CA file");
    assert!(
        err.to_string().contains("CERTIFICATE") && err.to_string().contains("/nonexistent/ca.pem"),
        "{err}"
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrotel-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// --- limits and aggregation the Rust SDK lacks ----------------------------------------------

#[test]
fn attribute_value_length_limit_cuts_long_strings_on_the_wire() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "8"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"),
        ],
    ));
    let tracer = g.providers().tracer_provider().unwrap().tracer("limits");
    tracer.in_span("limited", |cx| {
        use ferrotel::opentelemetry::trace::TraceContextExt as _;
        use ferrotel::opentelemetry::KeyValue;
        cx.span().set_attributes([
            KeyValue::new("path", "/volumes/alpha/objects/0001"),
            KeyValue::new("short", "ok"),
            KeyValue::new("count", 12_345_678_901_i64),
            KeyValue::new("fourth", "dropped by the count limit"),
        ]);
    });
    drop(g);
    let span = receiver.wait_for_spans(1, WAIT).unwrap()[0].clone();
    assert_eq!(span.attr("path").as_deref(), Some("/volumes"));
    assert_eq!(span.attr("short").as_deref(), Some("ok"));
    assert_eq!(span.attr("count").as_deref(), Some("12345678901"));
    assert_eq!(span.attr("fourth"), None);
    assert_eq!(span.span.dropped_attributes_count, 1);
}

#[test]
fn base2_exponential_default_histogram_aggregation_reaches_the_wire() {
    use ferrotel::opentelemetry::metrics::MeterProvider as _;
    use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ],
    ));
    let meter = g.providers().meter_provider().unwrap().meter("agg");
    let h = meter.f64_histogram("agg.latency").build();
    for v in [0.001, 0.01, 0.1, 1.0] {
        h.record(v, &[]);
    }
    drop(g);
    let metric = receiver.wait_for_metric("agg.latency", WAIT).unwrap()[0]
        .metric
        .clone();
    match metric.data {
        Some(Data::ExponentialHistogram(h)) => {
            assert_eq!(h.aggregation_temporality, 1, "delta");
            assert_eq!(h.data_points[0].count, 4);
        }
        other => panic!("expected an exponential histogram, got {other:?}"),
    }
}

#[test]
fn library_spans_below_the_filter_are_not_exported() {
    let receiver = Receiver::start();
    let g = guard(sending_to(&receiver, "grpc", &[]));
    traced(&g, || {
        // What h2 and hyper do on every request: TRACE/DEBUG spans, and INFO ones from crates
        // the default filter quiets to `warn`.
        let _a = tracing::trace_span!("connection_frame").entered();
        let _b = tracing::debug_span!(target: "h2::proto", "poll").entered();
        let _c = tracing::info_span!(target: "hyper::client", "checkout").entered();
        let _d = tracing::info_span!("handle_request").entered();
    });
    drop(g);
    let spans = receiver.wait_for_spans(1, WAIT).unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["handle_request"]);
}
