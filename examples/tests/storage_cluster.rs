//! The storage-cluster demo end to end: the real binary, five real processes, exporting over
//! OTLP/gRPC to an in-process receiver; the trace id it prints must name one whole trace that
//! crosses the gateway and all three storage nodes.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeSet, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use ferrotel_testkit::{ReceivedSpan, Receiver};

const WAIT: Duration = Duration::from_secs(20);

fn trace_spans(receiver: &Receiver, trace_id: &str) -> Vec<ReceivedSpan> {
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id_hex() == trace_id)
        .collect()
}

fn instances(spans: &[ReceivedSpan]) -> BTreeSet<String> {
    spans
        .iter()
        .filter_map(|s| s.resource_attr("service.instance.id"))
        .collect()
}

#[test]
fn a_write_is_one_trace_across_the_gateway_and_all_three_nodes() {
    let receiver = Receiver::start();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_storage-cluster"))
        .args(["--ops", "20", "--concurrency", "4"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        // The marker secret `.ci/run` scans the test output for.
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-test-secret={}", ferrotel_testkit::secret("demo")),
        )
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .output()
        .expect("run storage-cluster");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("20 of 20 operations"), "{stdout}");
    // With an endpoint configured the demo prints no tree, only the id and where to look.
    assert!(stdout.contains("http://localhost:16686/trace/"), "{stdout}");

    let trace_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace id: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no trace id in:\n{stdout}"))
        .to_string();
    assert_eq!(trace_id.len(), 32, "{trace_id:?}");
    assert!(
        trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace_id:?}"
    );

    // Every process flushed before the driver exited; wait a little anyway.
    receiver.wait_for_spans(1, WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut spans = trace_spans(&receiver, &trace_id);
    while instances(&spans).len() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        spans = trace_spans(&receiver, &trace_id);
    }

    let seen = instances(&spans);
    for instance in ["driver", "gateway", "node-1", "node-2", "node-3"] {
        assert!(seen.contains(instance), "no span from {instance}: {seen:?}");
    }
    let services: BTreeSet<String> = spans
        .iter()
        .filter_map(|s| s.resource_attr("service.name"))
        .collect();
    assert_eq!(
        services,
        ["gateway", "storage-client", "storage-node"]
            .map(String::from)
            .into(),
    );

    // One root (the driver's operation), and every other span's parent is in the trace.
    let ids: HashSet<String> = spans.iter().map(ReceivedSpan::span_id_hex).collect();
    let roots: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id_hex().is_none())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert_eq!(roots[0].name(), "nfs.WRITE");
    assert_eq!(
        roots[0].resource_attr("service.instance.id").as_deref(),
        Some("driver")
    );
    for span in &spans {
        if let Some(parent) = span.parent_span_id_hex() {
            assert!(
                ids.contains(&parent),
                "{} ({:?}) has a parent outside the trace",
                span.name(),
                span.resource_attr("service.instance.id")
            );
        }
    }

    // The replication hop: each follower served an AppendEntries in this trace, under a
    // CLIENT span of the leader.
    for follower in ["node-2", "node-3"] {
        let server = spans
            .iter()
            .find(|s| {
                s.name() == "ferrotel.storage.v1.Raft/AppendEntries"
                    && s.resource_attr("service.instance.id").as_deref() == Some(follower)
            })
            .unwrap_or_else(|| panic!("no AppendEntries on {follower}"));
        let parent = server.parent_span_id_hex().unwrap();
        let client = spans.iter().find(|s| s.span_id_hex() == parent).unwrap();
        assert_eq!(
            client.resource_attr("service.instance.id").as_deref(),
            Some("node-1")
        );
    }
    assert!(
        spans.iter().any(|s| s.name() == "storage.write"),
        "no storage.write span"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn bad_arguments_are_reported_not_panicked() {
    let output = Command::new(env!("CARGO_BIN_EXE_storage-cluster"))
        .args(["--ops", "many"])
        .output()
        .expect("run storage-cluster");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--ops expects a positive integer"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
