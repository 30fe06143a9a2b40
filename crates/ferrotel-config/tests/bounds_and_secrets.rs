//! Every size, count and duration has a bound reported like any invalid value, and
//! no secret (header value, endpoint userinfo or query) appears in a configuration issue.
//!
//! The secrets here carry the test-suite marker `FERROTEL-TEST-SECRET` (the one
//! `ferrotel_testkit::SECRET_MARKER` names); `.ci/run` fails when it appears in any output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use ferrotel_config::bounds::{MAX_DURATION, MAX_QUEUE_SIZE, MIN_METRIC_EXPORT_INTERVAL};
use ferrotel_config::{Config, Env, Resolved, Severity};

const MARKER: &str = "FERROTEL-TEST-SECRET";

fn resolve(pairs: &[(&str, &str)]) -> Resolved {
    Config::builder()
        .resolve(&Env::from_pairs(pairs.iter().copied()))
        .expect("lenient")
}

fn messages(resolved: &Resolved) -> String {
    resolved
        .issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// --- sizes and counts have bounds -------------------------------------------------------

#[test]
fn a_huge_queue_size_is_refused_not_allocated() {
    // Before: accepted, and the SDK aborted allocating 36.8 GB at start-up.
    let resolved = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100000000")]);
    assert_eq!(resolved.config.batch.max_queue_size, 2048);
    let text = messages(&resolved);
    assert!(
        text.contains("OTEL_BSP_MAX_QUEUE_SIZE=\"100000000\""),
        "{text}"
    );
    assert!(text.contains(&MAX_QUEUE_SIZE.to_string()), "{text}");
    assert!(text.contains("368 bytes a slot"), "{text}");

    let strict = Config::builder()
        .strict(true)
        .resolve(&Env::from_pairs([("OTEL_BSP_MAX_QUEUE_SIZE", "100000000")]))
        .unwrap_err();
    assert_eq!(strict.issues()[0].variable, "OTEL_BSP_MAX_QUEUE_SIZE");

    let at_bound = resolve(&[("OTEL_BSP_MAX_QUEUE_SIZE", &MAX_QUEUE_SIZE.to_string())]);
    assert_eq!(at_bound.config.batch.max_queue_size, MAX_QUEUE_SIZE);
}

#[test]
fn a_huge_queue_size_set_in_code_is_refused_too() {
    let resolved = Config::builder()
        .batch_max_queue_size(100_000_000)
        .resolve(&Env::new())
        .expect("lenient");
    assert_eq!(resolved.config.batch.max_queue_size, 2048);
    assert!(messages(&resolved).contains("code: batch_max_queue_size"));
}

#[test]
fn every_count_and_length_limit_has_a_bound() {
    for var in [
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_SPAN_LINK_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ] {
        let resolved = resolve(&[(var, "99999999999")]);
        let issue = resolved
            .issues
            .iter()
            .find(|i| i.variable == var)
            .unwrap_or_else(|| panic!("{var}: no issue in {:?}", resolved.issues));
        assert_eq!(issue.severity, Severity::Invalid, "{var}");
        assert!(issue.to_string().contains("above the bound"), "{issue}");
    }
}

// --- nonsensical durations --------------------------------------------------------------

#[test]
fn a_zero_metric_export_interval_is_refused_with_a_message() {
    // Before: accepted silently, exporting back to back (1,192 requests in 9 s).
    let resolved = resolve(&[("OTEL_METRIC_EXPORT_INTERVAL", "0")]);
    assert_eq!(
        resolved.config.metrics.export_interval,
        Duration::from_secs(60)
    );
    let text = messages(&resolved);
    assert!(text.contains("OTEL_METRIC_EXPORT_INTERVAL=\"0\""), "{text}");
    assert!(text.contains("back to back"), "{text}");
    let ok = resolve(&[(
        "OTEL_METRIC_EXPORT_INTERVAL",
        &MIN_METRIC_EXPORT_INTERVAL.as_millis().to_string(),
    )]);
    assert!(ok.issues.is_empty(), "{:?}", ok.issues);

    let zero_delay = resolve(&[("OTEL_BSP_SCHEDULE_DELAY", "0")]);
    assert_eq!(
        zero_delay.config.batch.schedule_delay,
        Duration::from_secs(5)
    );
    assert!(messages(&zero_delay).contains("OTEL_BSP_SCHEDULE_DELAY"));
}

#[test]
fn very_large_timeouts_are_capped_and_the_cap_is_reported() {
    // Before: capped (or overflowed) without a word.
    let resolved = resolve(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "999999999999"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "999999999999"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "999999999999"),
        ("OTEL_BSP_SCHEDULE_DELAY", "999999999999"),
    ]);
    let config = &resolved.config;
    assert_eq!(config.traces_otlp.timeout, Some(MAX_DURATION));
    assert_eq!(config.metrics.export_timeout, Some(MAX_DURATION));
    assert_eq!(config.batch.export_timeout, Some(MAX_DURATION));
    assert_eq!(config.batch.schedule_delay, MAX_DURATION);
    let text = messages(&resolved);
    for var in [
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_METRIC_EXPORT_TIMEOUT",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_SCHEDULE_DELAY",
    ] {
        assert!(text.contains(var), "{var} not reported: {text}");
    }
    assert!(text.contains("the cap 86400000 ms"), "{text}");
    // 0 still means no limit, without a report.
    let none = resolve(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")]);
    assert_eq!(none.config.traces_otlp.timeout, None);
    assert!(none.issues.is_empty());
}

// --- secrets are never printed ----------------------------------------------------------

#[test]
fn a_non_utf8_header_list_is_reported_without_its_values() {
    // Before: the lossy raw value, bearer token included, was the issue's value.
    let mut raw = format!("authorization=Bearer {MARKER}-token,x-k=").into_bytes();
    raw.push(0xff);
    let env = Env::from_os_pairs([(
        OsString::from("OTEL_EXPORTER_OTLP_HEADERS"),
        OsString::from_vec(raw),
    )]);
    let resolved = Config::builder().resolve(&env).expect("lenient");
    let text = messages(&resolved);
    assert!(text.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{text}");
    assert!(text.contains("authorization=<redacted>"), "{text}");
    assert!(!text.contains(MARKER), "{text}");
}

#[test]
fn endpoint_userinfo_and_queries_never_appear_in_issues() {
    let bad_port = format!("http://user:{MARKER}-pw@collector:99999/?api_key={MARKER}-key");
    let grpc_port = format!("http://user:{MARKER}-pw@collector:4317/?api_key={MARKER}-key");
    for pairs in [
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", bad_port.as_str())],
        vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", bad_port.as_str())],
        // The port-4317 advice quotes the endpoint.
        vec![("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_port.as_str())],
    ] {
        let resolved = resolve(&pairs);
        assert!(!resolved.issues.is_empty(), "{pairs:?}");
        let text = messages(&resolved);
        assert!(!text.contains(MARKER), "{text}");
        assert!(text.contains("<redacted>@collector"), "{text}");
    }
}
