//! The storage-cluster demo end to end: the real binary, five real processes (an NFSv3 gateway,
//! three openraft nodes, the NFS client driver), exporting over OTLP/gRPC to an in-process
//! receiver. What reached the receiver, what the client read back and what an independent NFS
//! client (libnfs) sees are the assertions.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use ferrotel_testkit::external::run;
use ferrotel_testkit::{ReceivedSpan, Receiver};
use support::demo::{self, instance, trace_spans};

const WAIT: Duration = Duration::from_secs(20);
const NODES: [&str; 3] = ["node-1", "node-2", "node-3"];

/// The nodes that recorded an apply span in `spans`.
fn appliers(spans: &[&ReceivedSpan]) -> BTreeSet<String> {
    spans
        .iter()
        .filter(|s| s.name() == "raft.apply")
        .map(|s| instance(s))
        .collect()
}

/// Each process's work for a WRITE hangs under that process's own spans: every `storage.*`
/// span is a child of a `raft.apply` of its process, and every follower `raft.append` has the
/// AppendEntries server span of its process that delivered the entry as its parent or link.
fn assert_nested(all: &[ReceivedSpan], trace: &[&ReceivedSpan]) {
    let by_id: HashMap<String, &ReceivedSpan> = all.iter().map(|s| (s.span_id_hex(), s)).collect();
    let same_process = |s: &ReceivedSpan, id: &str, name: &str| {
        by_id
            .get(id)
            .is_some_and(|p| instance(p) == instance(s) && p.name().ends_with(name))
    };
    for span in trace {
        let parent = span.parent_span_id_hex().unwrap_or_default();
        if span.name().starts_with("storage.") {
            assert!(
                same_process(span, &parent, "raft.apply"),
                "{} on {} is not under its node's raft.apply ({})",
                span.name(),
                instance(span),
                span.trace_id_hex()
            );
        }
        if span.name() == "raft.append" && span.attr("raft.role").as_deref() == Some("follower") {
            let links: Vec<String> = span
                .span
                .links
                .iter()
                .map(|l| l.span_id.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            assert!(
                std::iter::once(&parent)
                    .chain(&links)
                    .any(|id| same_process(span, id, "Raft/AppendEntries")),
                "follower append on {} neither under nor linked to its AppendEntries ({})",
                instance(span),
                span.trace_id_hex()
            );
        }
    }
}

#[test]
fn every_write_trace_holds_append_and_apply_from_all_three_replicas() {
    let receiver = Receiver::start();
    let mut command = demo::command(&receiver, &["--ops", "200", "--concurrency", "8"]);
    command.env("OTEL_TRACES_SAMPLER", "always_on");
    let run = demo::run(command);
    run.assert_success();
    assert!(
        run.stdout.contains("200 of 200 NFS operations"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("verify: all"), "{}", run.stdout);
    // With an endpoint configured the demo prints no tree, only the id and where to look.
    assert!(
        run.stdout.contains("http://localhost:16686/trace/"),
        "{}",
        run.stdout
    );
    let printed = run.trace_id();

    // Every process flushed before the driver exited.
    receiver.wait_for_spans(1, WAIT).unwrap();
    let spans = receiver.spans();
    let mut by_trace: HashMap<String, Vec<&ReceivedSpan>> = HashMap::new();
    for span in &spans {
        by_trace.entry(span.trace_id_hex()).or_default().push(span);
    }

    // The printed trace: the gateway's WRITE and the work of every node.
    let chosen = &by_trace[&printed];
    let processes: BTreeSet<String> = chosen.iter().map(|s| instance(s)).collect();
    for p in ["gateway", "node-1", "node-2", "node-3"] {
        assert!(
            processes.contains(p),
            "no span from {p} in {printed}: {processes:?}"
        );
    }

    // Every WRITE the gateway served (100% sampled) is one trace with append and apply spans
    // from all three replicas, whichever AppendEntries carried its entry.
    let writes: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name() == "nfs.WRITE" && instance(s) == "gateway" && s.span.kind == 2)
        .collect();
    assert!(
        writes.len() >= 50,
        "only {} gateway WRITE spans",
        writes.len()
    );
    for write in &writes {
        let trace = &by_trace[&write.trace_id_hex()];
        assert_eq!(
            appliers(trace),
            NODES.map(String::from).into(),
            "WRITE trace {} misses an apply",
            write.trace_id_hex()
        );
        let appenders: BTreeSet<String> = trace
            .iter()
            .filter(|s| s.name() == "raft.append")
            .map(|s| instance(s))
            .collect();
        assert_eq!(
            appenders,
            NODES.map(String::from).into(),
            "{}",
            write.trace_id_hex()
        );
        assert!(
            trace.iter().filter(|s| s.name() == "storage.put").count() >= 3,
            "every node stores the write's chunk: {}",
            write.trace_id_hex()
        );
        assert_nested(&spans, trace);
    }

    // No server span lost its parent: every parent named across a process boundary arrived.
    let ids: HashSet<String> = spans.iter().map(ReceivedSpan::span_id_hex).collect();
    for span in spans.iter().filter(|s| s.span.kind == 2) {
        if let Some(parent) = span.parent_span_id_hex() {
            assert!(
                ids.contains(&parent),
                "server span {} on {} has a missing parent",
                span.name(),
                instance(span)
            );
        }
    }
}

#[test]
fn a_killed_leader_is_replaced_and_no_acknowledged_write_is_lost() {
    let receiver = Receiver::start();
    let run = demo::run(demo::command(
        &receiver,
        &["--ops", "300", "--kill-leader-after", "100"],
    ));
    run.assert_success();
    let out = &run.stdout;
    assert!(out.contains("300 of 300 NFS operations"), "{out}");
    assert!(out.contains("failover: killed the leader node-"), "{out}");
    assert!(out.contains("elected leader in term"), "{out}");
    // Every file the client was told was written reads back identical after the failover.
    assert!(out.contains("verify: all"), "{out}");
    assert!(
        out.contains("acknowledged writes read back identical"),
        "{out}"
    );

    // The survivors' /metrics pages show the leader change and the new term.
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("/metrics: raft_"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    for line in lines {
        let value = |name: &str| -> f64 {
            line.split("; ")
                .find(|part| part.trim_start().contains(name))
                .and_then(|part| part.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        assert!(value("raft_leader_changes_total") >= 2.0, "{line}");
        assert!(value("raft_term") >= 2.0, "{line}");
    }
}

#[test]
fn libnfs_copies_3_mib_through_the_gateway_and_the_write_is_traced_on_every_node() {
    if ferrotel_testkit::external::program("nfs-cp", "install Debian's libnfs-utils").is_none() {
        return;
    }
    let receiver = Receiver::start();
    let mut command = demo::command(&receiver, &["--ops", "10"]);
    command.env("OTEL_TRACES_SAMPLER", "always_on");
    let serving = demo::serve(command);
    let port = serving.nfs.port();
    let dir = std::env::temp_dir().join(format!("ferrotel-demo-libnfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("in.bin");
    let back = dir.join("out.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&source, &data).unwrap();
    let base = "nfs://127.0.0.1/export";
    let query = format!("?version=3&nfsport={port}&mountport={port}");
    let url = format!("{base}/big.bin{query}");
    run("nfs-cp", &[&source.display().to_string(), &url]);
    run("nfs-cp", &[&url, &back.display().to_string()]);
    let listing = run("nfs-ls", &[&format!("{base}/{query}")]);
    assert!(listing.contains("big.bin"), "{listing}");
    let finished = serving.stop();
    assert!(
        finished.status.success(),
        "{:?}\n{}",
        finished.status,
        finished.stdout
    );
    assert_eq!(std::fs::read(&back).unwrap(), data, "the bytes round-trip");
    let _ = std::fs::remove_dir_all(&dir);

    // libnfs's WRITEs reached the gateway and went through Raft to all three nodes.
    let spans = receiver.spans();
    let written: i64 = spans
        .iter()
        .filter(|s| s.name() == "nfs.WRITE" && instance(s) == "gateway")
        .map(|s| {
            s.attr("nfs.io.bytes")
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0)
        })
        .sum();
    // The demo's own 10 operations write 4 KiB blocks; libnfs wrote the 3 MiB.
    assert!(
        written >= data.len() as i64,
        "{written} bytes in WRITE spans"
    );
    let big_write = spans
        .iter()
        .filter(|s| s.name() == "nfs.WRITE" && instance(s) == "gateway")
        .find(|s| {
            s.attr("nfs.io.bytes")
                .unwrap_or_default()
                .parse::<i64>()
                .unwrap_or(0)
                > 4096
        })
        .expect("a libnfs WRITE span");
    let trace = trace_spans(&receiver, &big_write.trace_id_hex());
    let processes: BTreeSet<String> = trace.iter().map(instance).collect();
    for p in ["gateway", "node-1", "node-2", "node-3"] {
        assert!(
            processes.contains(p),
            "no {p} span in the libnfs WRITE's trace: {processes:?}"
        );
    }
}

#[test]
fn with_no_endpoint_the_tree_is_printed_and_the_receiver_stays_bounded() {
    let output = Command::new(env!("CARGO_BIN_EXE_storage-cluster"))
        .args(["--ops", "200"])
        .env("STORAGE_CLUSTER_SPAN_LIMIT", "2000")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_CONFIG_FILE")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .output()
        .expect("run storage-cluster");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The receiver kept its first 2,000 spans and counted the rest; the tree still printed.
    let kept = stdout
        .lines()
        .find(|l| l.contains("kept of"))
        .unwrap_or_else(|| panic!("no receiver line:\n{stdout}"));
    assert!(kept.contains("(2000 kept of "), "{kept}");
    assert!(
        stdout.contains("nfs.WRITE [storage-gateway/gateway] server"),
        "{stdout}"
    );
    assert!(stdout.contains("raft.apply"), "{stdout}");
}

#[test]
fn a_metrics_page_per_process_even_when_prometheus_is_the_only_exporter() {
    // Once, all five processes bound 127.0.0.1:9464 and the run failed in 0.03 s.
    let receiver = Receiver::start();
    let mut command = demo::command(&receiver, &["--ops", "20"]);
    command.env("OTEL_METRICS_EXPORTER", "prometheus");
    let run = demo::run(command);
    run.assert_success();
    let pages: BTreeSet<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.split("metrics http://").nth(1))
        .map(|rest| rest.trim_end_matches(")"))
        .collect();
    assert_eq!(
        pages.len(),
        5,
        "one /metrics page per process: {}",
        run.stderr
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

/// Spans of the trace of each span, grouped by trace id.
fn traces(spans: &[ReceivedSpan]) -> HashMap<String, Vec<&ReceivedSpan>> {
    let mut by_trace: HashMap<String, Vec<&ReceivedSpan>> = HashMap::new();
    for span in spans {
        by_trace.entry(span.trace_id_hex()).or_default().push(span);
    }
    by_trace
}

/// A trace that holds nothing but a leader's empty AppendEntries: the heartbeat span, or the
/// RPC's own client and server spans.
fn is_heartbeat(trace: &[&ReceivedSpan]) -> bool {
    trace
        .iter()
        .all(|s| s.name() == "raft.heartbeat" || s.name().ends_with("/AppendEntries"))
        && !trace
            .iter()
            .any(|s| s.attr("raft.log.first_index").is_some())
}

#[test]
fn heartbeats_start_no_trace_unless_a_rule_names_them() {
    // The default sampler (parent-based, always on) and no rules.
    let receiver = Receiver::start();
    let run = demo::run(demo::command(&receiver, &["--ops", "200"]));
    run.assert_success();
    receiver.wait_for_spans(1, WAIT).unwrap();
    let spans = receiver.spans();
    let all = traces(&spans);
    let heartbeats = all.values().filter(|t| is_heartbeat(t)).count();
    assert!(
        heartbeats * 100 < all.len(),
        "{heartbeats} of {} traces are heartbeats",
        all.len()
    );
    assert!(
        spans.iter().all(|s| s.name() != "raft.heartbeat"),
        "no heartbeat span by default"
    );
    // A replicate span says which log range its AppendEntries carried.
    let replicates: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.name() == "raft.replicate")
        .collect();
    assert!(!replicates.is_empty());
    for span in replicates {
        let first: u64 = span.attr("raft.log.first_index").unwrap().parse().unwrap();
        let last: u64 = span.attr("raft.log.last_index").unwrap().parse().unwrap();
        let index: u64 = span.attr("raft.log.index").unwrap().parse().unwrap();
        assert!(
            first <= index && index <= last,
            "{first} <= {index} <= {last}"
        );
    }

    // A rule that names them brings them back, each a trace of its own.
    let receiver = Receiver::start();
    let mut command = demo::command(&receiver, &["--ops", "200"]);
    command.env("FERROTEL_SAMPLING_RULES", "raft.heartbeat=1");
    let run = demo::run(command);
    run.assert_success();
    receiver.wait_for_spans(1, WAIT).unwrap();
    let spans = receiver.spans();
    let all = traces(&spans);
    let rooted: Vec<&Vec<&ReceivedSpan>> = all
        .values()
        .filter(|t| {
            t.iter()
                .any(|s| s.name() == "raft.heartbeat" && s.parent_span_id_hex().is_none())
        })
        .collect();
    assert!(rooted.len() > 10, "{} heartbeat traces", rooted.len());
    // The RPC's own spans sit under the heartbeat span.
    assert!(
        rooted.iter().any(|t| t.len() >= 2 && is_heartbeat(t)),
        "heartbeat traces hold their AppendEntries spans"
    );
}
