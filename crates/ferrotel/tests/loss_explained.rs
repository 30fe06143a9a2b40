//! When the collector refuses connections, the shutdown report says so, and where, for an
//! export that was still retrying when shutdown cut it off (as much as for one that gave up).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use support::{guard_logging, one_span, quick, Captured, WAIT};

#[test]
fn a_refused_connection_is_named_with_its_address_in_the_loss_explanation() {
    for protocol in ["http/protobuf", "grpc"] {
        // A port that was just free: connecting to it is refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let endpoint = format!("http://{closed}");
        let env = quick(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
        ]);
        let logs = Captured::default();
        let guard = guard_logging(env, &logs, Duration::from_millis(200));
        one_span(&guard, "refused");
        // Ready when the first attempt has failed (the export then retries with back-off).
        let deadline = Instant::now() + WAIT;
        while guard.stats().spans[0].last_attempt_error.is_none()
            && guard.stats().spans[0].failed == 0
        {
            assert!(Instant::now() < deadline, "no attempt failed");
            std::thread::sleep(Duration::from_millis(10));
        }
        let report = guard.shutdown();
        let text = report.problems.join("\n");
        assert!(
            text.to_ascii_lowercase().contains("connection refused"),
            "{protocol}: {text}"
        );
        assert!(
            text.contains(&closed.to_string()),
            "{protocol}: names where: {text}"
        );
        assert!(!text.contains("did not answer"), "{protocol}: {text}");
        // The loss line logged at shutdown says the same.
        let logged = logs.text();
        assert!(!logged.contains("did not answer"), "{protocol}: {logged}");
    }
}
