//! An endpoint that takes traces only (a bare Jaeger answers metrics and logs with gRPC
//! `UNIMPLEMENTED` or HTTP 404) is told once per signal, with the fix, and never again: no
//! loss line per export, no raw SDK error at shutdown.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel_testkit::{Receiver, Signal};
use support::{guard_logging, one_span, sending_to, traced, Captured, WAIT};

#[test]
fn an_endpoint_that_takes_traces_only_is_told_once_with_the_fix() {
    for protocol in ["grpc", "http/protobuf"] {
        let receiver = Receiver::builder()
            .serve_only(&[Signal::Traces])
            .start()
            .unwrap();
        let logs = Captured::default();
        let env = sending_to(
            &receiver,
            protocol,
            &[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_LOGS_EXPORTER", "otlp"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
            ],
        );
        let g = guard_logging(env, &logs, Duration::from_secs(5));
        let meter = g.providers().meter_provider().unwrap().meter("unserved");
        let counter = meter.u64_counter("work.done").build();
        // Several exports of each signal, each refused; a flush says nothing the one line
        // did not (no raw SDK error).
        let mut flushed = Vec::new();
        for round in 0..3 {
            counter.add(1, &[]);
            traced(&g, || tracing::info!(round, "a log record"));
            flushed.extend(g.flush().problems);
        }
        assert!(
            flushed.iter().all(|p| !p.contains("Failed to flush")),
            "{protocol}: {flushed:?}"
        );
        one_span(&g, "still.traced");
        let spans = receiver.wait_for_spans(1, WAIT).unwrap();
        assert!(
            spans.iter().any(|s| s.name() == "still.traced"),
            "{protocol}"
        );
        let report = g.shutdown();
        let text = logs.text();
        let what = format!("{protocol}:\n{text}\nshutdown: {:?}", report.problems);
        assert_eq!(
            text.matches("OTEL_METRICS_EXPORTER=none").count(),
            1,
            "one line for metrics: {what}"
        );
        assert_eq!(
            text.matches("OTEL_LOGS_EXPORTER=none").count(),
            1,
            "one line for logs: {what}"
        );
        assert!(text.contains("does not accept OTLP metrics"), "{what}");
        assert!(
            !text.contains("OTEL_TRACES_EXPORTER=none"),
            "traces go through: {what}"
        );
        for raw in ["InternalFailure", "Operation failed", "Failed to shutdown"] {
            assert!(!text.contains(raw), "raw SDK text {raw:?}: {what}");
            assert!(
                report.problems.iter().all(|p| !p.contains(raw)),
                "raw SDK text {raw:?}: {what}"
            );
        }
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("metric data points were not sent")),
            "{what}"
        );
    }
}
