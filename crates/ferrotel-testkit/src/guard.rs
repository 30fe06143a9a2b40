//! A `ferrotel` guard built from a variable map against the in-process [`Receiver`], never
//! touching the process environment nor installing anything global, so tests run side by side.

use std::time::Duration;

use ferrotel::config::Env;
use ferrotel::{Builder, Guard};

use crate::Receiver;

/// How long a test waits for data to reach the receiver before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// `pairs` over variables that keep a test fast (short batch delay and metric interval, no
/// metric or log export): a later pair replaces an earlier one of the same name.
pub fn quick(pairs: &[(&str, &str)]) -> Env {
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
pub fn endpoint(receiver: &Receiver, protocol: &str) -> String {
    if protocol == "grpc" {
        receiver.grpc_endpoint()
    } else {
        receiver.http_endpoint()
    }
}

/// [`quick`] variables that send OTLP with `protocol` to `receiver`, plus `pairs`.
pub fn sending_to(receiver: &Receiver, protocol: &str, pairs: &[(&str, &str)]) -> Env {
    let endpoint = endpoint(receiver, protocol);
    // Every test that sends carries a marker secret; `.ci/run` fails if any output shows it.
    let header = format!("x-test-secret={}", crate::secret("header"));
    let mut all = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_HEADERS", header.as_str()),
    ];
    all.extend_from_slice(pairs);
    quick(&all)
}

/// A builder on `env` that installs neither the subscriber nor the globals.
pub fn builder(env: Env) -> Builder {
    ferrotel::builder()
        .env(env)
        .install_subscriber(false)
        .install_globals(false)
}

/// A guard from `env` with nothing installed globally; panics if ferrotel does not start.
pub fn guard(env: Env) -> Guard {
    builder(env).try_init().expect("ferrotel starts")
}
