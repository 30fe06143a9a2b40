//! The user's stack, run for real: Jaeger v2, otelcol-ferrotel and Prometheus 3 from the binaries
//! `collector/build-tools` caches, started by `collector/run-local` with this repository's
//! configs on free loopback ports. Every assertion is on what reached Jaeger or Prometheus.
//! Without the binaries (no Go) each test prints `skipped: …`; under `.ci/run`
//! (FERROTEL_REQUIRE_EXTERNAL=1) that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use support::{otlp_request, poll, repo_root, span, span_id, trace_id, Stack};

const WAIT: Duration = Duration::from_secs(60);

/// Dashboards whose every panel query must return data from the live stack: the demo runs
/// with each NFS naming profile (semconv for the RPC dashboard, dittofs for the DittoFS one).
const LIVE_DASHBOARDS: &[&str] = &[
    "ferrotel-rpc.json",
    "raft-storage.json",
    "dittofs-nfs.json",
    "process.json",
];

#[test]
fn every_collector_and_jaeger_config_passes_validate() {
    let Some(otelcol) = support::tool_or_skip("otelcol") else {
        return;
    };
    let Some(jaeger) = support::tool_or_skip("jaeger") else {
        return;
    };
    let root = repo_root();
    for (binary, config) in [
        (&otelcol, "collector/otel-collector.yaml"),
        (&otelcol, "collector/scaled/agent.yaml"),
        (&otelcol, "collector/scaled/gateway.yaml"),
        (&jaeger, "collector/jaeger.yaml"),
    ] {
        let output = Command::new(binary)
            .arg("validate")
            .arg(format!("--config={}", root.join(config).display()))
            .env(
                "JAEGER_SAMPLING_STRATEGIES",
                root.join("collector/sampling-strategies.json"),
            )
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} validate {config} failed:\n{}{}",
            binary.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // And a broken config is refused: validate can fail.
    let broken = std::env::temp_dir().join(format!("ferrotel-broken-{}.yaml", std::process::id()));
    std::fs::write(
        &broken,
        std::fs::read_to_string(root.join("collector/otel-collector.yaml"))
            .unwrap()
            .replace("exporters: [otlp/jaeger]", "exporters: [otlp/nowhere]"),
    )
    .unwrap();
    let output = Command::new(&otelcol)
        .arg("validate")
        .arg(format!("--config={}", broken.display()))
        .output()
        .unwrap();
    std::fs::remove_file(&broken).ok();
    assert!(
        !output.status.success(),
        "validate accepted an undefined exporter"
    );
}

/// `processID -> service.instance.id` (or service name) of a Jaeger trace.
fn processes(trace: &Json) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (id, process) in trace["processes"].as_object().into_iter().flatten() {
        let instance = process["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["key"] == "service.instance.id")
            .and_then(|t| t["value"].as_str())
            .or(process["serviceName"].as_str())
            .unwrap_or_default();
        out.insert(id.clone(), instance.to_owned());
    }
    out
}

fn instances_of(trace: &Json) -> BTreeSet<String> {
    let processes = processes(trace);
    trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            processes
                .get(s["processID"].as_str().unwrap_or_default())
                .cloned()
        })
        .collect()
}

/// A PromQL expression of a dashboard with Grafana's variables filled in for an instant query
/// shortly after the demo ran.
fn instant(expr: &str) -> String {
    expr.replace("$__rate_interval", "2m")
        .replace("$__interval", "1m")
        .replace("$__range", "10m")
        .replace("$service", ".*")
        .replace("${prefix}", "ferrotel")
}

/// `(dashboard, panel title, expr)` of every target of the live dashboards.
fn live_panel_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for file in LIVE_DASHBOARDS {
        let path = repo_root().join("collector/grafana/dashboards").join(file);
        let dashboard: Json =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default().to_owned();
                out.push((
                    (*file).to_owned(),
                    panel["title"].as_str().unwrap_or_default().to_owned(),
                    expr,
                ));
            }
        }
    }
    out
}

#[test]
fn storage_cluster_through_the_real_stack() {
    if support::stack_tools_or_skip().is_none() {
        return;
    }
    let stack = Stack::start(false, &[("FERROTEL_TAIL_DECISION_WAIT", "2s")]);
    let demo = |ops: &str, profile: &str| {
        Command::new(env!("CARGO_BIN_EXE_storage-cluster"))
            .args(["--ops", ops, "--concurrency", "4", "--nfs-metrics", profile])
            .env(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                stack.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            )
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            // Push metrics every second so Prometheus (5 s scrapes) sees them change.
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_TRACES_EXPORTER")
            .env_remove("OTEL_SDK_DISABLED")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env_remove("OTEL_LOGS_EXPORTER")
            .output()
            .expect("run storage-cluster")
    };
    // Every process of every run (the driver, the gateway and three nodes, all writing to the
    // driver's stderr) exported every span, metric point and log record it made.
    // (A process's log lines, its loss warnings among them, go to stdout or stderr as it chose.)
    let no_loss = |output: &std::process::Output, run: &str| {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{run} failed:\n{stdout}\n{stderr}");
        support::assert_no_lost_telemetry(run, &format!("{stdout}{stderr}"));
    };
    let output = demo("200", "semconv");
    no_loss(&output, "storage-cluster --ops 200");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let trace_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace id: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no trace id in:\n{stdout}"))
        .to_owned();

    // Jaeger holds the printed WRITE trace, with spans from the gateway and all three nodes
    // (ONC RPC carries no trace context, so the driver's NFS call is a trace of its own) and
    // whole parent links.
    let trace = poll(WAIT, || {
        stack
            .jaeger_trace(&trace_id)
            .filter(|t| instances_of(t).len() >= 4)
    })
    .unwrap_or_else(|| {
        panic!(
            "Jaeger never held trace {trace_id} from the gateway and three nodes: {:?}\ncollector log:\n{}",
            stack.jaeger_trace(&trace_id).map(|t| instances_of(&t)),
            stack.log("otel-collector")
        )
    });
    let seen = instances_of(&trace);
    for instance in ["gateway", "node-1", "node-2", "node-3"] {
        assert!(
            seen.contains(instance),
            "no span from {instance} in Jaeger: {seen:?}"
        );
    }
    let spans = trace["spans"].as_array().unwrap();
    let ids: BTreeSet<&str> = spans.iter().filter_map(|s| s["spanID"].as_str()).collect();
    let mut roots = 0;
    for s in spans {
        let parents: Vec<&str> = s["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["refType"] == "CHILD_OF")
            .filter_map(|r| r["spanID"].as_str())
            .collect();
        match parents.as_slice() {
            [] => roots += 1,
            [parent] => assert!(
                ids.contains(parent),
                "span {} ({}) names parent {parent}, which is not in the trace",
                s["spanID"],
                s["operationName"]
            ),
            more => panic!("span with several parents: {more:?}"),
        }
    }
    assert_eq!(roots, 1, "one root span expected in {trace_id}");
    // The root is the gateway's NFS WRITE; every node appended and applied the entry in it.
    let processes = processes(&trace);
    let instance = |s: &Json| processes[s["processID"].as_str().unwrap_or_default()].clone();
    let root = spans
        .iter()
        .find(|s| s["references"].as_array().is_none_or(|r| r.is_empty()))
        .unwrap();
    assert_eq!(root["operationName"], "nfs.WRITE");
    assert_eq!(instance(root), "gateway");
    for operation in ["raft.append", "raft.apply"] {
        let on: BTreeSet<String> = spans
            .iter()
            .filter(|s| s["operationName"] == operation)
            .map(instance)
            .collect();
        assert_eq!(
            on,
            ["node-1", "node-2", "node-3"].map(String::from).into(),
            "{operation} in {trace_id}"
        );
    }

    // Prometheus 3 holds the RPC metrics, the ops metrics and the spanmetrics.
    for metric in [
        "rpc_server_call_duration_seconds_count",
        "rpc_client_call_duration_seconds_count",
        "nfs_server_request_duration_seconds_count",
        "storage_operation_duration_seconds_count",
        "raft_term",
        "raft_apply_duration_seconds_count",
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_milliseconds_bucket",
    ] {
        poll(WAIT, || {
            (!stack.prom_query(metric).is_empty()).then_some(())
        })
        .unwrap_or_else(|| panic!("Prometheus never held {metric}"));
    }

    // A short run can fall between two scrapes, so Prometheus first sees each counter at its
    // final value and every rate() is 0. Once the series exist, a second run (same instance
    // labels) with more operations moves them, as a service that keeps running does. (The
    // workload is deterministic: the same --ops would end on the very same counts.)
    let again = demo("400", "semconv");
    no_loss(&again, "storage-cluster --ops 400");
    // The DittoFS names, twice for the same reason.
    for ops in ["200", "400"] {
        let run = demo(ops, "dittofs");
        no_loss(
            &run,
            &format!("storage-cluster --ops {ops} --nfs-metrics dittofs"),
        );
    }
    // The quickstart writes log lines inside its spans, so it exports log records (the demo's
    // processes log nothing while all goes well): the collector takes them, and they reach the
    // end of the logs pipeline, where Jaeger's debug exporter counts each batch.
    let quickstart = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            stack.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        .env_remove("OTEL_LOGS_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .expect("run quickstart");
    no_loss(&quickstart, "quickstart");
    assert!(
        String::from_utf8_lossy(&quickstart.stdout).contains(" INFO "),
        "the quickstart wrote no log line, so it exported no log record"
    );
    poll(WAIT, || stack.jaeger_counted_log_records().then_some(())).unwrap_or_else(|| {
        panic!(
            "no log records reached the end of the logs pipeline; jaeger log:\n{}",
            stack.log("jaeger")
        )
    });

    // Exemplars: trace ids on the histograms, and Jaeger holds those traces.
    for histogram in [
        "rpc_server_call_duration_seconds_bucket",
        "traces_span_metrics_duration_milliseconds_bucket",
    ] {
        let ids = poll(WAIT, || {
            let ids = stack.exemplar_trace_ids(histogram, 10);
            (!ids.is_empty()).then_some(ids)
        })
        .unwrap_or_else(|| panic!("no exemplars on {histogram}"));
        let unique: BTreeSet<String> = ids.into_iter().take(10).collect();
        for id in &unique {
            poll(WAIT, || stack.jaeger_trace(id)).unwrap_or_else(|| {
                panic!("exemplar of {histogram} names trace {id}, which Jaeger does not hold")
            });
        }
    }

    // Every panel query of every live dashboard returns data.
    let mut checked = 0;
    for (dashboard, title, expr) in live_panel_queries() {
        let query = instant(&expr);
        poll(WAIT, || {
            let result = stack.prom_query(&query);
            result
                .iter()
                .any(|r| r["value"][1].as_str().is_some_and(|v| v != "NaN"))
                .then_some(())
        })
        .unwrap_or_else(|| panic!("{dashboard} panel {title:?} returns no data: {query}"));
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} panel queries checked");
    println!("{checked} panel queries returned data");
}

#[test]
fn tail_sampling_keeps_every_error_and_slow_trace() {
    if support::stack_tools_or_skip().is_none() {
        return;
    }
    let stack = Stack::start(
        false,
        &[
            ("FERROTEL_TAIL_SAMPLING_PERCENTAGE", "10"),
            ("FERROTEL_TAIL_DECISION_WAIT", "1s"),
            ("FERROTEL_TAIL_SLOW_MS", "500"),
        ],
    );
    let http = stack.get("FERROTEL_STACK_OTLP_HTTP").to_owned();
    let (errors, slow, normal) = (20u32, 10u32, 200u32);
    let mut kinds = Vec::new();
    let mut spans = Vec::new();
    for n in 0..errors + slow + normal {
        let id = trace_id(1, n);
        // Ordinary traces first, errors last: once the last error trace is in Jaeger, every
        // earlier trace has been decided (same decision_wait, earlier arrival).
        let (kind, status, ms) = if n < normal {
            ("normal", 0, 5)
        } else if n < normal + slow {
            ("slow", 0, 800)
        } else {
            ("error", 2, 5)
        };
        let root = span_id(u64::from(n) * 2);
        let child = span_id(u64::from(n) * 2 + 1);
        spans.push(span(&id, &root, "", "root", ms, 0));
        // The error is on the child: the policy must look at every span of the trace.
        spans.push(span(&id, &child, &root, "child", 1, status));
        kinds.push((id, kind));
        if spans.len() >= 100 {
            Stack::send_otlp_json(
                &http,
                &otlp_request("ferrotel-tail-test", std::mem::take(&mut spans)),
            );
        }
    }
    Stack::send_otlp_json(&http, &otlp_request("ferrotel-tail-test", spans));

    for (id, kind) in kinds.iter().filter(|(_, k)| *k != "normal") {
        let trace = poll(WAIT, || stack.jaeger_trace(id))
            .unwrap_or_else(|| panic!("tail sampling dropped {kind} trace {id}"));
        assert_eq!(
            trace["spans"].as_array().map(Vec::len),
            Some(2),
            "{kind} trace {id} is not whole"
        );
    }
    let kept = kinds
        .iter()
        .filter(|(_, k)| *k == "normal")
        .filter(|(id, _)| stack.jaeger_trace(id).is_some())
        .count();
    // Binomial(200, 0.1): mean 20, sd 4.2; 4.5 sd either side.
    assert!(
        (1..=39).contains(&kept),
        "kept {kept} of {normal} ordinary traces at 10%"
    );
    println!("tail sampling kept {errors} of {errors} error, {slow} of {slow} slow, {kept} of {normal} ordinary traces");
}

#[test]
fn scaled_variant_two_agents_one_gateway_keeps_traces_whole() {
    if support::stack_tools_or_skip().is_none() {
        return;
    }
    let stack = Stack::start(
        true,
        &[
            ("FERROTEL_TAIL_SAMPLING_PERCENTAGE", "50"),
            ("FERROTEL_TAIL_DECISION_WAIT", "2s"),
        ],
    );
    let agents = [
        stack.get("FERROTEL_STACK_OTLP_HTTP").to_owned(),
        stack.get("FERROTEL_STACK_AGENT2_OTLP_HTTP").to_owned(),
    ];
    let (errors, normal) = (10u32, 80u32);
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut kinds = Vec::new();
    for n in 0..errors + normal {
        let id = trace_id(2, n);
        let root = span_id(u64::from(n) * 2 + 1000);
        let child = span_id(u64::from(n) * 2 + 1001);
        let status = if n < errors { 2 } else { 0 };
        // Root through agent 1, child (with the error) through agent 2.
        first.push(span(&id, &root, "", "root", 5, 0));
        second.push(span(&id, &child, &root, "child", 1, status));
        kinds.push((id, n < errors));
    }
    Stack::send_otlp_json(&agents[0], &otlp_request("ferrotel-scaled-test", first));
    Stack::send_otlp_json(&agents[1], &otlp_request("ferrotel-scaled-test", second));
    // A log record through an agent: accepted, and passed on by the gateway to the end of the
    // logs pipeline.
    let log = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "ferrotel-scaled-test"}}]},
        "scopeLogs": [{"scope": {"name": "ferrotel-stack-test"}, "logRecords": [{
            "severityNumber": 9, "severityText": "INFO",
            "body": {"stringValue": "through an agent and a gateway"},
            "traceId": kinds[0].0, "spanId": span_id(1000)
        }]}]
    }]});
    Stack::send_otlp_json_to(&agents[1], "logs", &log);

    for (id, _) in kinds.iter().filter(|(_, error)| *error) {
        let trace = poll(WAIT, || {
            stack
                .jaeger_trace(id)
                .filter(|t| t["spans"].as_array().map_or(0, Vec::len) == 2)
        });
        assert!(
            trace.is_some(),
            "error trace {id} (error span via agent 2) not kept whole"
        );
    }
    let count_kept = || {
        let mut kept = 0;
        for (id, _) in kinds.iter().filter(|(_, error)| !*error) {
            if let Some(trace) = stack.jaeger_trace(id) {
                assert_eq!(
                    trace["spans"].as_array().map(Vec::len),
                    Some(2),
                    "trace {id} arrived in part: the decision was not per whole trace"
                );
                kept += 1;
            }
        }
        kept
    };
    // Binomial(80, 0.5): mean 40, sd 4.5; 4.5 sd either side. The kept traces reach Jaeger
    // over a few seconds after the error ones (a loaded machine), so wait for the lower bound
    // before reading the count.
    let _ = poll(WAIT, || (count_kept() >= 20).then_some(()));
    let kept = count_kept();
    assert!((20..=60).contains(&kept), "kept {kept} of {normal} at 50%");
    poll(WAIT, || stack.jaeger_counted_log_records().then_some(())).unwrap_or_else(|| {
        panic!(
            "the log record never left the gateway:\n{}",
            stack.log("jaeger")
        )
    });
    println!("scaled: {errors} error traces whole, {kept} of {normal} ordinary traces kept whole");
}
