//! Alerts, run for real: a rule fires in the Go-built Prometheus 3 of `collector/run-local`,
//! goes to the Go-built Alertmanager with the repository's `collector/alertmanager.yml` route,
//! and reaches a webhook receiver on loopback (a small HTTP server in this test). Without the
//! binaries (no Go) the test prints `skipped: …`; under `.ci/run` (FERROTEL_REQUIRE_EXTERNAL=1)
//! that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value as Json;
use support::Stack;

/// The test group is evaluated every second and a firing alert re-sent every 2 s (so one sent
/// before Prometheus discovered the Alertmanager is not lost for the default minute);
/// Alertmanager waits `group_wait` (10 s) before the first notification of a group. This bounds
/// the whole path generously.
const WAIT: Duration = Duration::from_secs(120);

/// A rule that holds from its first evaluation, labelled like the repository's critical alerts
/// so it takes the `severity="critical"` sub-route.
const TEST_RULES: &str = r#"groups:
  - name: ferrotel-alerting-test
    interval: 1s
    rules:
      - alert: FerrotelAlertPathTest
        expr: vector(1)
        labels:
          severity: critical
          service_name: alerting-test
        annotations:
          summary: The alert path from Prometheus through Alertmanager to the webhook works.
"#;

/// Accepts webhook posts on `listener` and sends each JSON body to `tx`, answering 200.
fn webhook_receiver(listener: TcpListener, tx: mpsc::Sender<(String, Json)>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).is_err() {
            continue;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            continue;
        }
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        if tx.send((request_line.trim().to_owned(), json)).is_err() {
            return;
        }
    }
}

#[test]
fn a_firing_rule_reaches_the_webhook_through_alertmanager() {
    if support::stack_tools_or_skip().is_none() || support::tool_or_skip("alertmanager").is_none() {
        return;
    }
    // The webhook is listening before anything can post to it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let webhook = format!("http://{}/alerts", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || webhook_receiver(listener, tx));
    let rules = std::env::temp_dir().join(format!(
        "ferrotel-alerting-rules-{}.yml",
        std::process::id()
    ));
    std::fs::write(&rules, TEST_RULES).unwrap();
    let stack = Stack::start(
        false,
        &[
            ("FERROTEL_ALERT_WEBHOOK", webhook.as_str()),
            ("FERROTEL_EXTRA_RULES", rules.to_str().unwrap()),
            ("FERROTEL_ALERT_RESEND_DELAY", "2s"),
        ],
    );
    std::fs::remove_file(&rules).ok();
    let alertmanager = stack.get("FERROTEL_STACK_ALERTMANAGER").to_owned();

    // Prometheus finds the Go-built Alertmanager (discovery runs after start-up).
    let url = format!(
        "{}/api/v1/alertmanagers",
        stack.get("FERROTEL_STACK_PROMETHEUS")
    );
    let target = alertmanager.trim_start_matches("http://").to_owned();
    let found = support::poll(WAIT, || {
        let (status, body) = support::http("GET", &url, None);
        let active: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        let listed = active["data"]["activeAlertmanagers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["url"].as_str().is_some_and(|u| u.contains(&target)));
        (status == 200 && listed).then_some(())
    });
    assert!(
        found.is_some(),
        "Prometheus never listed {alertmanager} as an active Alertmanager"
    );

    let deadline = std::time::Instant::now() + WAIT;
    let (request_line, payload) = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (line, payload) = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no notification reached the webhook within {WAIT:?}\nprometheus:\n{}\nalertmanager:\n{}",
                stack.log("prometheus"),
                stack.log("alertmanager")
            )
        });
        let ours = payload["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["labels"]["alertname"].as_str() == Some("FerrotelAlertPathTest"));
        if ours {
            break (line, payload);
        }
    };
    assert_eq!(request_line, "POST /alerts HTTP/1.1");
    // An Alertmanager webhook notification (version 4), from the repository's route.
    assert_eq!(payload["version"].as_str(), Some("4"), "{payload}");
    assert_eq!(payload["receiver"].as_str(), Some("webhook"), "{payload}");
    assert_eq!(payload["status"].as_str(), Some("firing"), "{payload}");
    assert_eq!(
        payload["groupLabels"]["alertname"].as_str(),
        Some("FerrotelAlertPathTest"),
        "grouped by alertname and service_name: {payload}"
    );
    let alert = payload["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"].as_str() == Some("FerrotelAlertPathTest"))
        .unwrap();
    assert_eq!(alert["labels"]["severity"].as_str(), Some("critical"));
    assert_eq!(
        alert["labels"]["service_name"].as_str(),
        Some("alerting-test")
    );
    // Prometheus' external label shows the alert came through this stack's Prometheus.
    assert_eq!(alert["labels"]["stack"].as_str(), Some("ferrotel-local"));
}
