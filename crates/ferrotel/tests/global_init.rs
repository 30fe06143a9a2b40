//! The five lines of the README, for real: `ferrotel::init()` reads the process environment,
//! installs the global subscriber, propagator and providers, and its guard flushes on drop.
//! One test in its own binary, because it owns process-wide state.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Duration;

use ferrotel::opentelemetry::global;
use ferrotel::tracing_opentelemetry::OpenTelemetrySpanExt as _;
use ferrotel_testkit::Receiver;

#[test]
fn init_from_the_process_environment() {
    let receiver = Receiver::start();
    // Safe here: this binary has one test and sets the variables before any thread reads them.
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint());
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    // The marker secret `.ci/run` scans the test output for.
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!("x-test-secret={}", ferrotel_testkit::secret("global")),
    );
    std::env::set_var("OTEL_SERVICE_NAME", "five-lines");
    std::env::set_var("OTEL_PROPAGATORS", "tracecontext,baggage,b3multi");
    std::env::set_var("OTEL_METRICS_EXPORTER", "none");

    let guard = ferrotel::init();
    // TRACE/DEBUG callsites of the service's dependencies stay switched off globally (a
    // filter without a level hint would make every one of them evaluated per call).
    assert_eq!(
        tracing::level_filters::LevelFilter::current(),
        tracing::level_filters::LevelFilter::INFO
    );
    let carrier = {
        let span = tracing::info_span!("checkout");
        let _entered = span.enter();
        tracing::info!("inside");
        let mut carrier = HashMap::new();
        global::get_text_map_propagator(|p| p.inject_context(&span.context(), &mut carrier));
        carrier
    };
    drop(guard);

    let spans = receiver
        .wait_for_spans(1, Duration::from_secs(20))
        .expect("span arrives");
    let span = &spans[0];
    assert_eq!(span.name(), "checkout");
    assert_eq!(
        span.resource_attr("service.name").as_deref(),
        Some("five-lines")
    );
    // OTEL_PROPAGATORS took effect globally: W3C and B3 multi headers for the same span.
    let traceparent = carrier.get("traceparent").expect("traceparent injected");
    assert!(traceparent.contains(&span.trace_id_hex()), "{traceparent}");
    assert_eq!(
        carrier.get("x-b3-traceid").map(String::as_str),
        Some(span.trace_id_hex().as_str())
    );
    // A second init in the same process reports the taken subscriber instead of panicking.
    let err = ferrotel::try_init().expect_err("subscriber already installed");
    assert!(err.to_string().contains("subscriber"), "{err}");
    // init() itself never panics: it falls back to telemetry off.
    let fallback = ferrotel::init();
    assert!(fallback.tracer_provider().is_none());
}
