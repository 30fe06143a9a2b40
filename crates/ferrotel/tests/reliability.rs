//! Losses are counted and explained rightly, reported while they happen and exported
//! as `otel.sdk.*` metrics; secrets never reach a log line or a report; setup problems that are
//! not the service's fault leave the service running with that part off.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use ferrotel_testkit::{secret, Fault, Receiver};
use support::{black_hole, guard_logging, quick, sending_to, traced, Captured, WAIT};

fn spans(guard: &ferrotel::Guard, n: usize) {
    traced(guard, || {
        for i in 0..n {
            let _span = tracing::info_span!("work", i).entered();
        }
    });
}

/// The largest value of a sum's points whose `error.type` is `error`.
fn sum_with(metric: &ferrotel_testkit::ReceivedMetric, error: &str) -> i64 {
    use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
    let Some(metric::Data::Sum(sum)) = &metric.metric.data else {
        return 0;
    };
    sum.data_points
        .iter()
        .filter(|p| {
            ferrotel_testkit::find_attr(&p.attributes, "error.type").as_deref() == Some(error)
        })
        .filter_map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => Some(v),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Polls `check` until it holds or `WAIT` passes.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// --- secrets ----------------------------------------------------------------------------

#[test]
fn secrets_reach_neither_the_logs_nor_the_reports_even_at_trace_level() {
    // Nothing listens: every export fails, and every error message is produced.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    for protocol in ["http/protobuf", "grpc"] {
        let logs = Captured::default();
        let headers = format!("authorization=Bearer%20{}", secret("token"));
        let traces = format!(
            "http://user:{}@127.0.0.1:{port}/v1/traces?api_key={}",
            secret("password"),
            secret("query")
        );
        let metrics = format!(
            "http://127.0.0.1:{port}/v1/metrics?api_key={}",
            secret("metric-query")
        );
        let (traces, metrics) = if protocol == "grpc" {
            // gRPC endpoints carry no query; the header is the secret there.
            (
                format!("http://127.0.0.1:{port}"),
                format!("http://127.0.0.1:{port}"),
            )
        } else {
            (traces, metrics)
        };
        let g = guard_logging(
            quick(&[
                ("RUST_LOG", "trace"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &metrics),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ]),
            &logs,
            Duration::from_secs(2),
        );
        spans(&g, 5);
        let stats = g.stats().metrics;
        let report = g.shutdown();
        let mut everything = logs.text();
        everything.push_str(&report.problems.join("\n"));
        everything.push_str(&format!("{stats:?}"));
        assert!(
            !report.problems.is_empty(),
            "{protocol}: the losses are reported"
        );
        support::assert_no_secret(&everything, protocol);
    }
}

// --- loss is counted and explained rightly ----------------------------------------------

#[test]
fn a_black_hole_collector_loses_counted_metric_points_and_stuck_spans_are_explained() {
    let (_hole, endpoint) = black_hole();
    let logs = Captured::default();
    let header = format!("x-api-key={}", secret("black-hole"));
    let g = guard_logging(
        quick(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_HEADERS", &header),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "300"),
            // Span exports never return: no timeout anywhere.
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ]),
        &logs,
        Duration::from_millis(1500),
    );
    let meter = opentelemetry::metrics::MeterProvider::meter(
        &g.providers().meter_provider().expect("metrics on"),
        "test",
    );
    let counter = meter.u64_counter("work.done").build();
    counter.add(1, &[]);
    spans(&g, 20);
    // Bounded polling: an export was abandoned at its deadline and its points counted.
    eventually("a metric export to fail", || {
        g.stats().metrics[0].points_failed > 0
    });
    eventually("a span export to be under way", || {
        g.stats().spans[0].in_flight > 0
    });
    let report = g.shutdown();
    let text = report.problems.join("\n");
    assert!(text.contains("metric data points"), "{text}");
    assert!(text.contains("had not returned"), "{text}");
    assert!(!text.contains("queue was full"), "wrong advice: {text}");
}

#[test]
fn every_span_is_accounted_for_exactly() {
    let receiver = Receiver::builder()
        .fault(Fault::Refuse)
        .start()
        .expect("receiver starts");
    let g = support::guard(sending_to(
        &receiver,
        "http/protobuf",
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
        ],
    ));
    spans(&g, 2000);
    let _ = g.flush();
    let s = g.stats().spans.remove(0);
    assert_eq!(s.queued, 2000);
    assert_eq!(
        s.queued,
        s.exported
            + s.failed
            + s.dropped_queue_full
            + s.dropped_after_shutdown
            + s.in_queue
            + s.in_flight,
        "{s:?}"
    );
    assert!(s.dropped_queue_full > 0, "a 64-span queue overflows: {s:?}");
    assert!(s.failed > 0, "{s:?}");
}

// --- an outage is reported while it lasts, and as otel.sdk.* metrics --------------------

#[test]
fn an_outage_is_reported_while_it_lasts_and_counted_in_otel_sdk_metrics() {
    let refusing = Receiver::builder()
        .fault(Fault::Refuse)
        .start()
        .expect("receiver starts");
    let healthy = Receiver::start();
    let logs = Captured::default();
    let traces = format!("{}/v1/traces", refusing.http_endpoint());
    let metrics = format!("{}/v1/metrics", healthy.http_endpoint());
    let header = format!("x-api-key={}", secret("outage"));
    let g = guard_logging(
        quick(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &metrics),
            ("OTEL_EXPORTER_OTLP_HEADERS", &header),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ]),
        &logs,
        Duration::from_secs(5),
    );
    spans(&g, 10);
    // Before shutdown: the first loss is reported at once.
    eventually("the outage to be logged", || {
        logs.text().contains("telemetry is being lost")
    });
    // And the dashboard sees it: failed spans as otel.sdk.exporter.span.exported{error.type}.
    eventually("otel.sdk.exporter.span.exported with an error.type", || {
        healthy.metrics().iter().any(|m| {
            m.name() == "otel.sdk.exporter.span.exported" && sum_with(m, "export_failed") > 0
        })
    });
    let names: Vec<String> = healthy
        .metrics()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    for name in [
        "otel.sdk.processor.span.processed",
        "otel.sdk.processor.span.queue.size",
        "otel.sdk.processor.span.queue.capacity",
        "otel.sdk.exporter.span.inflight",
        "otel.sdk.exporter.metric_data_point.exported",
        "otel.sdk.exporter.metric_data_point.inflight",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }
    drop(g);
}

// --- setup problems that are not the service's fault ------------------------------------

#[test]
fn a_busy_metrics_port_leaves_the_service_running_with_metrics_off() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let env = || {
        quick(&[
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("FERROTEL_METRICS_ADDR", &addr),
        ])
    };
    let logs = Captured::default();
    let g = guard_logging(env(), &logs, Duration::from_secs(1));
    assert_eq!(g.metrics_addr(), None);
    let text = logs.text();
    assert!(
        text.contains("FERROTEL_METRICS_ADDR") && text.contains(&addr),
        "{text}"
    );
    drop(g);
    let strict = ferrotel::builder()
        .env(env())
        .strict(true)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("strict mode refuses");
    assert!(
        strict.to_string().contains("FERROTEL_METRICS_ADDR"),
        "{strict}"
    );
}

#[test]
fn an_unusable_certificate_file_is_named_with_its_variable_over_both_protocols() {
    for protocol in ["grpc", "http/protobuf"] {
        let env = || {
            quick(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:9"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/passwd"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ])
        };
        let logs = Captured::default();
        let g = guard_logging(env(), &logs, Duration::from_secs(1));
        let text = logs.text();
        assert!(
            text.contains("CERTIFICATE") && text.contains("/etc/passwd"),
            "{protocol}: {text}"
        );
        assert!(
            g.providers().tracer_provider().is_none(),
            "{protocol}: trace export is off"
        );
        drop(g);
        let strict = ferrotel::builder()
            .env(env())
            .strict(true)
            .install_subscriber(false)
            .install_globals(false)
            .try_init()
            .expect_err("strict mode refuses");
        let message = strict.to_string();
        assert!(
            message.contains("OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE")
                && message.contains("/etc/passwd"),
            "{protocol}: {message}"
        );
    }
}
