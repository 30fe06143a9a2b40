//! The dashboards and alerts are true: every metric name a Grafana panel in
//! `collector/grafana/dashboards/` or a rule in `collector/alerts.yml` queries is on the `/metrics`
//! page of some storage-cluster process, after a run with each NFS naming profile. A query of a
//! name no code emits fails here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use ferrotel_testkit::Receiver;
use serde_json::Value as Json;
use support::{demo, walk};

/// Names made outside ferrotel: Prometheus' own `up`, and the collector's spanmetrics
/// connector (`traces_span_metrics_*`), checked by the live stack tests instead.
fn made_elsewhere(name: &str) -> bool {
    name == "up" || name.starts_with("traces_span_metrics_")
}

/// PromQL words that are not metric names: keywords, and the aggregation operators (which
/// may be followed by a `by (…)` clause before their parenthesis).
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// The metric names of one PromQL expression: identifiers outside label matchers, ranges,
/// strings and grouping clauses that are not functions or keywords.
fn metric_names(expr: &str, prefix: &str) -> BTreeSet<String> {
    let expr = expr.replace("${prefix}", prefix).replace("$prefix", prefix);
    // Drop strings, {…} matchers and […] ranges.
    let mut plain = String::new();
    let mut depth = (0, 0);
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '{' => depth.0 += 1,
            '}' => depth.0 -= 1,
            '[' => depth.1 += 1,
            ']' => depth.1 -= 1,
            _ if depth == (0, 0) => plain.push(c),
            _ => {}
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let preceded_by_dollar = start > 0 && chars[start - 1] == '$';
            if matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) {
                // Its (label, …) list follows.
                skip_group = true;
            } else if next == Some(&'(') || preceded_by_dollar || KEYWORDS.contains(&word.as_str())
            {
                // A function, a dashboard variable or a keyword.
            } else {
                names.insert(word);
            }
            continue;
        }
        if c == '(' && skip_group {
            // Skip the grouping labels.
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            skip_group = false;
        } else if !c.is_whitespace() {
            skip_group = false;
        }
        i += 1;
    }
    names
}

/// Metric name → where it is queried (a dashboard's file name, or `alerts.yml NAME`).
fn queried(prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let dir = support::repo_root().join("collector/grafana/dashboards");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let dashboard: Json =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        walk(&dashboard, &mut |key, value| {
            if key == "expr" {
                for name in metric_names(value.as_str().unwrap_or_default(), prefix) {
                    out.entry(name).or_default().insert(file.clone());
                }
            }
        });
    }
    let alerts: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(support::repo_root().join("collector/alerts.yml")).unwrap(),
    )
    .unwrap();
    for group in alerts["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let what = rule["alert"]
                .as_str()
                .or(rule["record"].as_str())
                .unwrap_or("?")
                .to_string();
            for name in metric_names(rule["expr"].as_str().unwrap_or_default(), prefix) {
                out.entry(name)
                    .or_default()
                    .insert(format!("alerts.yml {what}"));
            }
        }
    }
    out
}

/// Every sample name on every process's page after a run with `profile`.
fn emitted(profile: &str) -> BTreeSet<String> {
    let receiver = Receiver::start();
    let serving = demo::serve(demo::command(
        &receiver,
        &["--ops", "150", "--nfs-metrics", profile],
    ));
    assert_eq!(
        serving.pages.len(),
        4,
        "the gateway and three nodes: {:?}",
        serving.pages
    );
    let mut names = BTreeSet::new();
    for (_, addr) in &serving.pages {
        for line in demo::metrics_page(*addr).lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_string());
        }
    }
    let finished = serving.stop();
    assert!(
        finished.status.success(),
        "{:?}\n{}",
        finished.status,
        finished.stdout
    );
    names
}

/// Checks the names `sources` query (dashboard file names, and `alerts.yml` for the rules)
/// against a run with `profile`.
fn check(profile: &str, sources: &[&str]) {
    let emitted = emitted(profile);
    let mut missing = Vec::new();
    for (name, users) in queried("ferrotel") {
        if made_elsewhere(&name) {
            continue;
        }
        let relevant: Vec<&String> = users
            .iter()
            .filter(|u| sources.iter().any(|s| u.starts_with(s)))
            .collect();
        if !relevant.is_empty() && !emitted.contains(&name) {
            missing.push(format!("{name} (queried by {relevant:?})"));
        }
    }
    assert!(
        missing.is_empty(),
        "with FERROTEL_NFS_METRICS={profile}, no process emits:\n  {}\nemitted: {emitted:?}",
        missing.join("\n  ")
    );
}

#[test]
fn every_queried_name_is_emitted_with_the_semconv_profile() {
    // The alert rules are written against the default (semconv) names.
    check(
        "semconv",
        &[
            "ferrotel-rpc.json",
            "raft-storage.json",
            "process.json",
            "alerts.yml",
        ],
    );
}

#[test]
fn every_queried_name_is_emitted_with_the_dittofs_profile() {
    check("dittofs", &["dittofs-nfs.json", "raft-storage.json"]);
}

#[test]
fn promql_names_are_found() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{service_name=~"$service"}[$__rate_interval]))) > on(job) group_left up"#,
        "ferrotel",
    );
    assert_eq!(
        names,
        ["rpc_server_call_duration_seconds_bucket", "up"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        metric_names("sum(${prefix}_nfs_requests_total) / 2", "dittofs"),
        ["dittofs_nfs_requests_total".to_string()].into()
    );
}
