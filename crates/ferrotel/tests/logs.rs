//! The logs signal on the wire: `tracing` events become OTLP log records with the trace and
//! span ids of the span they were written in, their severity and the service's resource, over
//! gRPC, HTTP/protobuf and HTTP/JSON (with gzip); nothing with `OTEL_LOGS_EXPORTER=none`.
//! (No record lost at shutdown, on every runtime: `runtimes.rs`.)
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel_testkit::{Receiver, Signal};
use support::{guard, sending_to, traced, WAIT};

/// OTLP `SeverityNumber` of WARN.
const SEVERITY_WARN: i32 = 13;

#[test]
fn records_carry_ids_severity_and_resource_over_every_protocol() {
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let receiver = Receiver::start();
        let g = guard(sending_to(
            &receiver,
            protocol,
            &[
                ("OTEL_LOGS_EXPORTER", "otlp"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
                ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
                ("OTEL_SERVICE_NAME", "logged"),
            ],
        ));
        assert!(g.providers().logger_provider().is_some());
        traced(&g, || {
            let span = tracing::info_span!("work");
            let _entered = span.enter();
            tracing::warn!(answer = 42, "inside the span");
        });
        traced(&g, || tracing::info!("outside any span"));
        let report = g.shutdown();
        assert!(
            report.problems.is_empty(),
            "{protocol}: {:?}",
            report.problems
        );

        let span = receiver.wait_for_spans(1, WAIT).expect("span")[0].clone();
        let logs = receiver
            .wait_for_logs(2, WAIT)
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        let inside = logs
            .iter()
            .find(|l| l.body() == "inside the span")
            .unwrap_or_else(|| panic!("{protocol}: {logs:#?}"));
        assert_eq!(inside.trace_id_hex(), span.trace_id_hex(), "{protocol}");
        assert_eq!(inside.span_id_hex(), span.span_id_hex(), "{protocol}");
        assert_eq!(inside.record.severity_number, SEVERITY_WARN, "{protocol}");
        assert_eq!(inside.record.severity_text, "WARN", "{protocol}");
        assert_eq!(inside.attr("answer").as_deref(), Some("42"), "{protocol}");
        assert_eq!(
            inside.resource_attr("service.name").as_deref(),
            Some("logged")
        );
        let outside = logs
            .iter()
            .find(|l| l.body() == "outside any span")
            .expect("record outside a span");
        assert!(outside.record.trace_id.is_empty(), "{protocol}");

        let request = receiver
            .requests()
            .into_iter()
            .find(|r| r.signal == Signal::Logs)
            .expect("a logs request");
        assert!(request.gzip, "{protocol}: gzip asked for");
        if protocol != "grpc" {
            assert_eq!(request.path, "/v1/logs");
            let json = protocol == "http/json";
            assert_eq!(
                request
                    .header("content-type")
                    .is_some_and(|c| c.starts_with("application/json")),
                json,
                "{protocol}"
            );
        }
    }
}

#[test]
fn none_exports_no_record_and_keeps_the_log_lines() {
    let receiver = Receiver::start();
    let g = guard(sending_to(
        &receiver,
        "grpc",
        &[("OTEL_LOGS_EXPORTER", "none")],
    ));
    assert!(g.providers().logger_provider().is_none());
    traced(&g, || {
        let span = tracing::info_span!("work");
        let _entered = span.enter();
        tracing::warn!("not exported");
    });
    drop(g);
    receiver.wait_for_spans(1, WAIT).expect("spans still go");
    assert!(receiver.logs().is_empty());
    assert!(receiver.requests().iter().all(|r| r.signal != Signal::Logs));
}

#[test]
fn log_export_errors_are_scrubbed_of_secrets() {
    use ferrotel_testkit::{secret, Fault};
    use support::{guard_logging, quick, Captured};
    // A refusing receiver and a port nothing listens on: both kinds of error are produced.
    let refusing = Receiver::builder().fault(Fault::Refuse).start().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let healthy = Receiver::start();
    for protocol in ["http/protobuf", "grpc"] {
        for base in [
            refusing.http_endpoint().replace("http://", ""),
            format!("127.0.0.1:{dead_port}"),
        ] {
            let base = if protocol == "grpc" {
                refusing.grpc_endpoint().replace("http://", "")
            } else {
                base
            };
            let logs = Captured::default();
            let headers = format!("authorization=Bearer%20{}", secret("logs-token"));
            let endpoint = if protocol == "grpc" {
                // gRPC endpoints carry no userinfo or query; the header is the secret there.
                format!("http://{base}")
            } else {
                format!(
                    "http://user:{}@{base}/v1/logs?api_key={}",
                    secret("logs-password"),
                    secret("logs-query")
                )
            };
            let traces = format!("{}/v1/traces", healthy.http_endpoint());
            let g = guard_logging(
                quick(&[
                    ("RUST_LOG", "trace"),
                    ("OTEL_LOGS_EXPORTER", "otlp"),
                    ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
                    ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", protocol),
                    ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", &endpoint),
                    ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", &headers),
                    ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "500"),
                    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
                ]),
                &logs,
                Duration::from_secs(2),
            );
            traced(&g, || tracing::warn!("a record that cannot be delivered"));
            let flushed = g.flush();
            let stats = g.stats().logs;
            let report = g.shutdown();
            assert!(
                stats.iter().any(|s| s.failed > 0),
                "{protocol} {base}: the export failed: {stats:?}"
            );
            let mut everything = logs.text();
            everything.push_str(&flushed.problems.join("\n"));
            everything.push_str(&report.problems.join("\n"));
            everything.push_str(&format!("{stats:?}"));
            assert!(
                report
                    .problems
                    .iter()
                    .any(|p| p.contains("log records failed to export")),
                "{protocol} {base}: {:?}",
                report.problems
            );
            support::assert_no_secret(&everything, &format!("{protocol} {base}"));
        }
    }
}

#[test]
fn log_records_dropped_on_a_full_queue_are_counted_and_reported() {
    use support::{black_hole, guard_logging, quick, Captured};
    // Exports never return: one batch of one record is in flight, two wait, the rest are
    // refused by the full queue.
    let (_listener, endpoint) = black_hole();
    let healthy = Receiver::start();
    let metrics = format!("{}/v1/metrics", healthy.http_endpoint());
    let logs = Captured::default();
    let g = guard_logging(
        quick(&[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                &format!("{endpoint}/v1/logs"),
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "0"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "2"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &metrics),
        ]),
        &logs,
        Duration::from_secs(1),
    );
    traced(&g, || {
        for i in 0..10 {
            tracing::warn!(i, "flooding the queue");
        }
    });
    let stats = g.stats().logs;
    let s = &stats[0];
    assert!(s.queued >= 10, "{s:?}");
    // At most one record in flight and two queued: at least seven of the ten refused.
    assert!(s.dropped_queue_full >= 7, "{s:?}");
    assert!(s.in_flight + s.in_queue <= 3, "{s:?}");
    assert_eq!(
        s.queued,
        s.exported
            + s.failed
            + s.dropped_queue_full
            + s.dropped_after_shutdown
            + s.in_queue
            + s.in_flight,
        "every record is in exactly one place: {s:?}"
    );
    // The dashboard sees them, like spans: otel.sdk.processor.log.processed{error.type}.
    g.providers()
        .meter_provider()
        .expect("metrics on")
        .sdk()
        .force_flush()
        .unwrap();
    healthy
        .wait_for_metric("otel.sdk.processor.log.processed", WAIT)
        .expect("self-observability metric");
    let dropped = healthy
        .metrics()
        .iter()
        .filter(|m| m.name() == "otel.sdk.processor.log.processed")
        .map(queue_full)
        .max()
        .unwrap_or(0);
    assert_eq!(dropped, i64::try_from(s.dropped_queue_full).unwrap());
    let report = g.shutdown();
    assert!(
        report.problems.iter().any(|p| p
            .contains("log records were dropped because the queue was full")
            && p.contains("OTEL_BLRP_MAX_QUEUE_SIZE")),
        "{:?}",
        report.problems
    );
}

/// The largest `error.type=queue_full` value of a cumulative sum.
fn queue_full(metric: &ferrotel_testkit::ReceivedMetric) -> i64 {
    use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
    let Some(metric::Data::Sum(sum)) = &metric.metric.data else {
        return 0;
    };
    sum.data_points
        .iter()
        .filter(|p| {
            ferrotel_testkit::find_attr(&p.attributes, "error.type").as_deref()
                == Some("queue_full")
        })
        .filter_map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => Some(v),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}
