//! `OTEL_TRACES_SAMPLER=jaeger_remote` against the real Jaeger v2 remote_sampling extension
//! serving `collector/sampling-strategies.json`: the observed per-operation ratios must match
//! the strategies within binomial bounds. Skips without the cached binaries unless
//! FERROTEL_REQUIRE_EXTERNAL=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel::config::Env;
use ferrotel::opentelemetry::trace::{Span as _, Tracer as _};
use support::{poll, Stack};

/// Spans per operation.
const N: u32 = 2000;

#[test]
fn per_operation_strategies_are_followed() {
    if support::tool_or_skip("jaeger").is_none() {
        return;
    }
    let stack = Stack::start_jaeger();
    let endpoint = format!("{}/sampling", stack.get("FERROTEL_STACK_JAEGER_SAMPLING"));
    let env = Env::from_pairs([
        ("OTEL_SERVICE_NAME", "ferrotel-sampling-test".to_owned()),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote".to_owned()),
        (
            "OTEL_TRACES_SAMPLER_ARG",
            // Nothing is sampled until the strategies arrive, so their arrival is observable.
            format!("endpoint={endpoint},pollingIntervalMs=200,initialSamplingRate=0"),
        ),
        // Sampled spans go to Jaeger itself. (With OTEL_TRACES_EXPORTER=none ferrotel 0.1 builds
        // no tracer provider at all, so the guard's tracer samples nothing.)
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            stack.get("OTEL_EXPORTER_OTLP_ENDPOINT").to_owned(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        // Room for every span the test can sample (4 x N at most), so none is dropped.
        ("OTEL_BSP_MAX_QUEUE_SIZE", (8 * N).to_string()),
    ]);
    let guard = ferrotel::builder()
        .env(env)
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect("telemetry with the jaeger_remote sampler");
    let tracer = guard.providers().tracer("sampling-test");
    let sampled = |name: &'static str| {
        let span = tracer.start(name);
        let yes = span.span_context().is_sampled();
        drop(span);
        yes
    };
    poll(Duration::from_secs(30), || sampled("always").then_some(()))
        .expect("the strategies never arrived from Jaeger's remote_sampling extension");

    // (operation, probability in sampling-strategies.json; "other" takes the service default)
    for (operation, p) in [
        ("always", 1.0),
        ("quarter", 0.25),
        ("tenth", 0.1),
        ("other", 0.5),
    ] {
        let kept = (0..N).filter(|_| sampled(operation)).count() as f64;
        let n = f64::from(N);
        let sd = (n * p * (1.0 - p)).sqrt();
        let (low, high) = (n * p - 4.5 * sd, n * p + 4.5 * sd);
        assert!(
            (low..=high).contains(&kept),
            "{operation}: {kept} of {N} sampled, strategy {p} allows {low:.0}..={high:.0}"
        );
        println!("{operation}: {kept} of {N} sampled (strategy {p})");
    }
    // And Jaeger took every sampled span: nothing was lost on the way.
    drop(tracer);
    let report = guard.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
