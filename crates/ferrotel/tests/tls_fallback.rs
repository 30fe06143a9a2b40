//! A TLS file that cannot be read is the same for every form of its variable (generic,
//! `TRACES_`, `METRICS_`, `LOGS_`): outside strict mode a warning naming the variable and the
//! path, and the service runs with that export off; in strict mode an init error.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use support::{guard_logging, quick, Captured};

#[test]
fn a_missing_tls_file_warns_and_falls_back_for_every_variable_form() {
    for signal in ["", "TRACES_", "METRICS_", "LOGS_"] {
        let ca = format!("OTEL_EXPORTER_OTLP_{signal}CERTIFICATE");
        let key = format!("OTEL_EXPORTER_OTLP_{signal}CLIENT_KEY");
        let cert = format!("OTEL_EXPORTER_OTLP_{signal}CLIENT_CERTIFICATE");
        // A CA file alone; and the mTLS pair (one without the other is a different mistake).
        let cases: [Vec<(&str, &str)>; 2] = [
            vec![(ca.as_str(), "/nonexistent/ferrotel-ca.pem")],
            vec![
                (key.as_str(), "/nonexistent/ferrotel-client.pem"),
                (cert.as_str(), "/nonexistent/ferrotel-client.pem"),
            ],
        ];
        for files in cases {
            let path = files[0].1;
            let env = || {
                let mut pairs = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
                    ("OTEL_METRICS_EXPORTER", "otlp"),
                    ("OTEL_LOGS_EXPORTER", "otlp"),
                ];
                pairs.extend(files.iter().copied());
                quick(&pairs)
            };
            let logs = Captured::default();
            let guard = guard_logging(env(), &logs, Duration::from_millis(200));
            let text = logs.text();
            assert!(text.contains(path), "{files:?}: warned: {text}");
            drop(guard);
            let strict = ferrotel::builder()
                .env(env())
                .strict(true)
                .install_subscriber(false)
                .install_globals(false)
                .try_init();
            let err = strict
                .err()
                .unwrap_or_else(|| panic!("{files:?}: strict refuses"));
            assert!(err.to_string().contains(path), "{files:?}: {err}");
        }
    }
}

#[test]
fn a_hostile_tls_path_is_printed_escaped_and_bounded() {
    let path = format!(
        "/nonexistent/a\r\nFORGED LINE\u{1b}[2J{}",
        "p".repeat(128 << 10)
    );
    let err = ferrotel::builder()
        .env(quick(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path.as_str()),
        ]))
        .strict(true)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("strict refuses");
    let text = err.to_string();
    assert!(text.contains(r"a\r\nFORGED LINE\u{1b}[2J"), "{text:?}");
    assert!(!text.contains(['\r', '\n', '\u{1b}']), "{text:?}");
    assert!(text.len() < 4_096, "{} bytes", text.len());
}

#[cfg(unix)]
#[test]
fn a_device_as_a_tls_file_is_refused_without_reading_it() {
    let err = ferrotel::builder()
        .env(quick(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/zero"),
        ]))
        .strict(true)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect_err("strict refuses");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}
