//! The demo's traces as Jaeger's UI gets them: the real Jaeger v2 (`collector/run-local start
//! --jaeger-only`, the binary `collector/build-tools` caches) takes the demo's spans over
//! OTLP, and every assertion reads `/api/traces`, the JSON its UI renders, after its query
//! service's adjusters (clock skew among them) ran. Skips without the binary unless
//! FERROTEL_REQUIRE_EXTERNAL=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use support::{http, poll, Stack};

const WAIT: Duration = Duration::from_secs(60);

/// One span of a Jaeger trace, with what the checks need.
struct Span {
    trace: String,
    id: String,
    name: String,
    parent: Option<String>,
    /// `(trace, span)` of every reference, CHILD_OF and FOLLOWS_FROM (links).
    refs: Vec<(String, String)>,
    process: String,
    end: u64,
    tags: BTreeMap<String, String>,
    warnings: Vec<String>,
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The spans of a Jaeger trace, each with its process's `service.instance.id`, and the
/// process tags by instance.
fn spans_of(trace: &Json) -> (Vec<Span>, BTreeMap<String, BTreeMap<String, String>>) {
    let mut instance_of = HashMap::new();
    let mut tags_of = BTreeMap::new();
    for (id, process) in trace["processes"].as_object().into_iter().flatten() {
        let tags: BTreeMap<String, String> = process["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (text(&t["key"]), text(&t["value"])))
            .collect();
        let instance = tags
            .get("service.instance.id")
            .cloned()
            .unwrap_or_else(|| text(&process["serviceName"]));
        instance_of.insert(id.clone(), instance.clone());
        tags_of.insert(instance, tags);
    }
    let spans = trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let refs: Vec<&Json> = s["references"].as_array().into_iter().flatten().collect();
            let start = s["startTime"].as_u64().unwrap();
            Span {
                trace: text(&s["traceID"]),
                id: text(&s["spanID"]),
                name: text(&s["operationName"]),
                parent: refs
                    .iter()
                    .find(|r| r["refType"] == "CHILD_OF")
                    .map(|r| text(&r["spanID"])),
                refs: refs
                    .iter()
                    .map(|r| (text(&r["traceID"]), text(&r["spanID"])))
                    .collect(),
                process: instance_of[&text(&s["processID"])].clone(),
                end: start + s["duration"].as_u64().unwrap(),
                tags: s["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| (text(&t["key"]), text(&t["value"])))
                    .collect(),
                warnings: s["warnings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect(),
            }
        })
        .collect();
    (spans, tags_of)
}

/// Every WRITE trace the gateway served, as Jaeger's search returns them.
fn write_traces(stack: &Stack) -> Vec<Json> {
    let (status, body) = http(
        "GET",
        &format!(
            "{}/api/traces?service=storage-gateway&operation=nfs.WRITE&limit=1000&lookback=1h",
            stack.get("FERROTEL_STACK_JAEGER")
        ),
        None,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: Json = serde_json::from_slice(&body).unwrap();
    json["data"].as_array().cloned().unwrap_or_default()
}

#[test]
fn each_replica_s_work_nests_under_its_own_spans_and_jaeger_flags_no_clock_skew() {
    if support::tool_or_skip("jaeger").is_none() {
        return;
    }
    let stack = Stack::start_jaeger();
    let output = Command::new(env!("CARGO_BIN_EXE_storage-cluster"))
        .args(["--ops", "80", "--concurrency", "4"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            stack.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        // The driver reads the candidate WRITEs back from this Jaeger to print a good one.
        .env("STORAGE_CLUSTER_JAEGER", stack.get("FERROTEL_STACK_JAEGER"))
        // Jaeger takes traces only.
        .env("OTEL_METRICS_EXPORTER", "prometheus")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("FERROTEL_SAMPLING_RULES")
        .output()
        .expect("run storage-cluster");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    support::assert_no_lost_telemetry("storage-cluster", &format!("{stdout}{stderr}"));
    let acked: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("verify: all "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no verify line in:\n{stdout}"));
    let printed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace id: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no trace id in:\n{stdout}"))
        .to_owned();

    // Every acknowledged WRITE is a trace in Jaeger (the demo's setup writes a few more).
    let traces = poll(WAIT, || {
        let traces = write_traces(&stack);
        (traces.len() >= acked).then_some(traces)
    })
    .unwrap_or_else(|| panic!("Jaeger holds fewer than {acked} WRITE traces"));
    let mut fetched: HashMap<String, Vec<Span>> = HashMap::new();
    let mut by_trace = Vec::new();
    for trace in &traces {
        let (spans, tags) = spans_of(trace);
        // What the UI's clock-skew warning rests on: the query service compares spans across
        // hosts only, and tells hosts apart by the process tag `ip`.
        for (instance, tags) in &tags {
            assert_eq!(
                tags.get("ip").map(String::as_str),
                Some("127.0.0.1"),
                "{instance}'s process tags: {tags:?}"
            );
        }
        fetched.insert(spans[0].trace.clone(), spans);
        by_trace.push(text(&trace["traceID"]));
    }
    // The traces links point into (an RPC that carried another write's entry first).
    let linked: BTreeSet<String> = fetched
        .values()
        .flatten()
        .flat_map(|s| s.refs.iter().map(|(trace, _)| trace.clone()))
        .filter(|trace| !fetched.contains_key(trace))
        .collect();
    for trace in linked {
        let json = poll(WAIT, || stack.jaeger_trace(&trace))
            .unwrap_or_else(|| panic!("a link names trace {trace}, which Jaeger does not hold"));
        fetched.insert(trace, spans_of(&json).0);
    }
    let find = |trace: &str, id: &str| -> Option<(String, String)> {
        fetched
            .get(trace)?
            .iter()
            .find(|s| s.id == id)
            .map(|s| (s.name.clone(), s.process.clone()))
    };
    let (mut under_rpc, mut linked_to_rpc, mut outliving) = (0, 0, 0);
    for trace_id in &by_trace {
        let spans = &fetched[trace_id];
        let warnings: Vec<String> = fetched[trace_id]
            .iter()
            .flat_map(|s| s.warnings.clone())
            .filter(|w| w.contains("clock skew"))
            .collect();
        assert!(warnings.is_empty(), "{trace_id}: {warnings:?}");
        let processes: BTreeSet<&str> = spans.iter().map(|s| s.process.as_str()).collect();
        for p in ["gateway", "node-1", "node-2", "node-3"] {
            assert!(processes.contains(p), "{trace_id}: no {p}: {processes:?}");
        }
        for span in spans {
            let (name, process) = (&span.name, &span.process);
            if name.starts_with("storage.") {
                let parent = span.parent.as_deref().unwrap();
                assert_eq!(
                    find(trace_id, parent),
                    Some(("raft.apply".to_owned(), process.clone())),
                    "{trace_id}: {name} on {process} is not under its raft.apply"
                );
            }
            if name == "raft.append"
                && span.tags.get("raft.role").map(String::as_str) == Some("follower")
            {
                let delivered_by = span.refs.iter().find(|(t, id)| {
                    find(t, id)
                        .is_some_and(|(n, p)| n.ends_with("Raft/AppendEntries") && p == *process)
                });
                match delivered_by {
                    Some((_, id)) if Some(id) == span.parent.as_ref() => under_rpc += 1,
                    Some(_) => linked_to_rpc += 1,
                    None => panic!(
                        "{trace_id}: follower append on {process} has no AppendEntries of its own as parent or link: {:?}",
                        span.refs
                    ),
                }
            }
        }
        // Spans outliving a parent of their own process (measured, checked below for the
        // printed trace).
        let ends: HashMap<&str, (&str, u64)> = spans
            .iter()
            .map(|s| (s.id.as_str(), (s.process.as_str(), s.end)))
            .collect();
        if spans.iter().any(|s| {
            s.parent
                .as_deref()
                .and_then(|p| ends.get(p))
                .is_some_and(|(process, end)| *process == s.process && s.end > *end)
        }) {
            outliving += 1;
        }
    }
    println!(
        "{} WRITE traces: {under_rpc} follower appends under their AppendEntries, \
         {linked_to_rpc} linked to it; {outliving} traces with a span outliving a parent of \
         its own process",
        by_trace.len()
    );
    assert!(under_rpc > 0, "no follower append under its AppendEntries");

    // The printed trace: the gateway and all three nodes, each follower append under the
    // AppendEntries that carried it, no span outliving a parent of its own process.
    let spans = &fetched[&printed];
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    for s in spans {
        let Some(parent) = s.parent.as_deref().and_then(|p| by_id.get(p)) else {
            continue;
        };
        if parent.process == s.process {
            assert!(
                s.end <= parent.end,
                "{printed}: {} on {} ends {} µs after its parent {}",
                s.name,
                s.process,
                s.end - parent.end,
                parent.name
            );
        }
        if s.name == "raft.append"
            && s.tags.get("raft.role").map(String::as_str) == Some("follower")
        {
            assert!(
                parent.name.ends_with("Raft/AppendEntries") && parent.process == s.process,
                "{printed}: the printed trace's follower append on {} is not under the AppendEntries that carried it",
                s.process
            );
        }
    }
}
