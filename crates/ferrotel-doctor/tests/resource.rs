//! The doctor shows the resource the service would export, detected attributes included, and
//! knows the detectors' variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::Command;

#[test]
fn prints_the_detected_resource() {
    // Nothing listens there: the probe fails, the configuration part is what is checked.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrotel-doctor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_")
            || key.starts_with("FERROTEL_")
            || key.starts_with("KUBERNETES_")
        {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .env("OTEL_SERVICE_NAME", "doctor-test")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "500")
        .env("FERROTEL_RESOURCE_DETECTORS", "process,k8s")
        .env("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "ledger-0")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let section = text
        .split("\nResource (")
        .nth(1)
        .unwrap_or_else(|| panic!("no resource section:\n{text}"));
    assert!(section.starts_with("variables and code win over the detectors: process, k8s)"));
    for line in [
        "  service.name = doctor-test",
        "  k8s.pod.name = ledger-0",
        "  process.runtime.name = rustc",
    ] {
        assert!(section.contains(line), "{line:?} in:\n{text}");
    }
    assert!(section.contains("  process.pid = "), "{text}");
    assert!(
        !section.contains("host.name"),
        "host is not selected:\n{text}"
    );
    assert!(
        !text.contains("OTEL_RESOURCE_ATTRIBUTES_POD_NAME is not a variable"),
        "{text}"
    );
}
