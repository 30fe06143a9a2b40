//! `OTEL_SDK_DISABLED`, alone in its test binary: whether a `tracing` callsite is disabled
//! depends on every dispatcher alive in the process, so no other test's guard may run beside it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel::opentelemetry::trace::Tracer;
use ferrotel_testkit::Receiver;
use support::{guard, one_span, quick, traced};

#[test]
fn sdk_disabled_sends_no_request_at_all() {
    let receiver = Receiver::start();
    let endpoint = receiver.grpc_endpoint();
    let g = guard(quick(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
    ]));
    assert!(g.providers().tracer_provider().is_none());
    assert!(g.providers().meter_provider().is_none());
    // Nothing is interested in spans, so instrumentation is skipped at the callsite.
    assert!(traced(&g, || tracing::info_span!("skipped").is_disabled()));
    one_span(&g, "disabled");
    root_spans_if_any(&g);
    drop(g);
    assert_eq!(receiver.request_count(), 0);
}

fn root_spans_if_any(guard: &ferrotel::Guard) {
    guard
        .providers()
        .tracer("disabled")
        .in_span("nothing", |_| {});
}
