//! What every ferrotel integration test shares: a guard built from a variable map against the
//! one in-process receiver (`ferrotel-testkit`), never touching the process environment or the
//! global subscriber, so tests run side by side.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use ferrotel::config::Env;
use ferrotel::Guard;

/// How long a test waits for data to reach the receiver before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Variables that keep a test fast: short batch delay, short export timeout.
pub(crate) fn quick(pairs: &[(&str, &str)]) -> Env {
    let mut all: Vec<(String, String)> = vec![
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "50".into()),
        ("OTEL_METRIC_EXPORT_INTERVAL".into(), "200".into()),
        ("OTEL_METRICS_EXPORTER".into(), "none".into()),
        ("OTEL_LOGS_EXPORTER".into(), "none".into()),
    ];
    for (k, v) in pairs {
        all.retain(|(name, _)| name != k);
        all.push(((*k).to_string(), (*v).to_string()));
    }
    Env::from_pairs(all).with_executable_name("ferrotel-test")
}

/// The receiver's endpoint for an `OTEL_EXPORTER_OTLP_PROTOCOL` value.
pub(crate) fn endpoint(receiver: &ferrotel_testkit::Receiver, protocol: &str) -> String {
    if protocol == "grpc" {
        receiver.grpc_endpoint()
    } else {
        receiver.http_endpoint()
    }
}

/// `quick` variables that send OTLP with `protocol` to `receiver`, plus `pairs`.
pub(crate) fn sending_to(
    receiver: &ferrotel_testkit::Receiver,
    protocol: &str,
    pairs: &[(&str, &str)],
) -> Env {
    let endpoint = endpoint(receiver, protocol);
    let mut all = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
    ];
    all.extend_from_slice(pairs);
    quick(&all)
}

/// A guard from `env` with nothing installed globally.
pub(crate) fn guard(env: Env) -> Guard {
    ferrotel::builder()
        .env(env)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect("ferrotel starts")
}

/// Runs `f` with the guard's tracing dispatcher as the default.
pub(crate) fn traced<R>(guard: &Guard, f: impl FnOnce() -> R) -> R {
    let dispatch = guard
        .dispatch()
        .expect("dispatch kept when not installed")
        .clone();
    tracing::dispatcher::with_default(&dispatch, f)
}
