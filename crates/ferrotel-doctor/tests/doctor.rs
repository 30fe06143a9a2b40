//! `ferrotel-doctor` as a user runs it: the real binary, with an environment, against a real
//! OTLP receiver (ferrotel-testkit) or nothing at all. Asserts on its exit code, its output and
//! what reached the receiver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use ferrotel_testkit::Receiver;

const SECRET: &str = "s3cr3t-t0ken-value";

fn doctor(env: &[(&str, &str)]) -> (Output, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrotel-doctor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key.starts_with("FERROTEL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("OTEL_SERVICE_NAME", "doctor-test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run ferrotel-doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// A loopback port nothing listens on: bound, then released.
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn healthy_endpoint_gets_the_probe_span_and_metric() {
    let receiver = Receiver::start();
    let header = format!("authorization=Bearer {SECRET}");
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", &header),
    ]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("healthy"), "{text}");
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
    assert!(text.contains("authorization=<redacted>"), "{text}");
    let trace_id = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("trace id: "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no trace id in:\n{text}"))
        .to_owned();
    let spans = receiver.wait_for_spans(1, Duration::from_secs(10)).unwrap();
    assert!(
        spans
            .iter()
            .any(|s| s.trace_id_hex() == trace_id && s.span.name == "ferrotel.doctor"),
        "the printed trace id {trace_id} did not reach the receiver"
    );
    receiver
        .wait_for_metric("ferrotel.doctor.probe", Duration::from_secs(10))
        .unwrap();
}

#[test]
fn an_endpoint_that_takes_traces_only_is_recognised() {
    let receiver = ferrotel_testkit::Receiver::builder()
        .serve_only(&[ferrotel_testkit::Signal::Traces])
        .start()
        .unwrap();
    for (endpoint, protocol) in [
        (receiver.grpc_endpoint(), "grpc"),
        (receiver.http_endpoint(), "http/protobuf"),
    ] {
        let (output, text) = doctor(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ]);
        assert!(!output.status.success(), "{text}");
        assert!(
            text.contains("spans reach this endpoint, metrics do not")
                && text.contains("OTEL_METRICS_EXPORTER=none"),
            "{protocol}: {text}"
        );
        assert!(!text.contains("InternalFailure"), "{text}");
    }
}

#[test]
fn dead_endpoint_is_unhealthy_and_says_unreachable() {
    let endpoint = format!("http://127.0.0.1:{}", dead_port());
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("unreachable"), "{text}");
    assert!(text.contains("NOT healthy"), "{text}");
}

#[test]
fn wrong_port_for_the_protocol_is_explained() {
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("port 4317, the OTLP gRPC port"), "{text}");
    assert!(text.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), "{text}");
}

#[test]
fn bad_ca_file_is_explained() {
    let ca =
        std::env::temp_dir().join(format!("ferrotel-doctor-bad-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, "not a certificate").unwrap();
    let endpoint = format!("https://127.0.0.1:{}", dead_port());
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.to_str().unwrap()),
    ]);
    std::fs::remove_file(&ca).ok();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("TLS"), "{text}");
    assert!(text.contains("holds no PEM certificate"), "{text}");
}

#[test]
fn unknown_variable_gets_the_nearest_name_and_secrets_stay_hidden() {
    let header = format!("x-api-key={SECRET}");
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPONT", "http://127.0.0.1:4317"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{}", dead_port()),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", &header),
    ]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("did you mean OTEL_EXPORTER_OTLP_ENDPOINT?"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "the secret leaked:\n{text}");
}

#[test]
fn endpoint_userinfo_and_query_secrets_are_redacted_in_every_listing() {
    let port = dead_port();
    let endpoint = format!("http://doctor:hunter2PASSWORD@127.0.0.1:{port}/?api_key=APIKEYvalue42");
    let traces = format!("http://127.0.0.1:{port}/v1/traces?api_key=APIKEYvalue42");
    let (output, text) = doctor(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]);
    assert!(!output.status.success(), "{text}");
    assert!(
        !text.contains("hunter2PASSWORD"),
        "the password leaked:\n{text}"
    );
    assert!(
        !text.contains("APIKEYvalue42"),
        "the api key leaked:\n{text}"
    );
    assert!(text.contains("<redacted>"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}")),
        "still says where: {text}"
    );
}

#[test]
fn every_documented_variable_is_known() {
    let (_, text) = doctor(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{}", dead_port()),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "explicit_bucket_histogram",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "/nonexistent/c.pem",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            "/nonexistent/c.pem",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
            "/nonexistent/c.pem",
        ),
    ]);
    assert!(!text.contains("is not a variable ferrotel knows"), "{text}");
    assert!(
        text.contains("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = delta"),
        "{text}"
    );
}

#[test]
fn hostile_values_cannot_forge_lines_or_drive_the_terminal() {
    let hostile = format!(
        "x\r\nFORGED healthy\u{1b}[2J\u{7}\u{8}{}",
        "y".repeat(32 << 10)
    );
    let (_, text) = doctor(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{}", dead_port()),
        ),
        ("OTEL_SERVICE_NAME", &hostile),
        ("OTEL_RESOURCE_ATTRIBUTES", &format!("a={hostile}")),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            &format!("/nonexistent/{hostile}"),
        ),
        ("OTEL_TRACES_SAMPLER", &hostile),
        ("OTEL_SOMETHING_UNKNOWN", &hostile),
    ]);
    assert!(
        !text.contains(['\r', '\u{1b}', '\u{7}', '\u{8}']),
        "{text:?}"
    );
    assert!(
        !text.lines().any(|line| line.starts_with("FORGED")),
        "a forged line: {text}"
    );
    assert!(text.len() < 32 << 10, "bounded: {} bytes", text.len());
}
