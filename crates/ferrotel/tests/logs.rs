//! The logs signal on the wire: `tracing` events become OTLP log records with the trace and
//! span ids of the span they were written in, their severity and the service's resource, over
//! gRPC, HTTP/protobuf and HTTP/JSON (with gzip); nothing with `OTEL_LOGS_EXPORTER=none`.
//! (No record lost at shutdown, on every runtime: `runtimes.rs`.)
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

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
        assert!(g.logger_provider().is_some());
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
    assert!(g.logger_provider().is_none());
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
