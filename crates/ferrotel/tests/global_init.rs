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
    std::env::set_var("OTEL_METRICS_EXPORTER", "otlp");
    std::env::set_var("OTEL_METRIC_EXPORT_INTERVAL", "200");
    std::env::set_var("OTEL_BLRP_SCHEDULE_DELAY", "50");

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
        // The `log` crate reaches the logs signal too, with the span's ids.
        log::warn!("from the log crate");
        // A histogram and a counter made with the plain OpenTelemetry API, from the global
        // meter: their points carry this span as an exemplar.
        let meter = global::meter("checkout");
        let latency = meter
            .f64_histogram("checkout.latency")
            .with_unit("s")
            .build();
        latency.record(0.042, &[]);
        meter.u64_counter("checkout.orders").build().add(1, &[]);
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
    // A root ferrotel made has random ids: the W3C Level 2 random flag is set.
    assert!(traceparent.ends_with("-03"), "{traceparent}");
    assert_eq!(
        span.span.flags & 0xff,
        0x03,
        "exported flags: {:x}",
        span.span.flags
    );

    let logs = receiver
        .wait_for_logs(2, Duration::from_secs(20))
        .expect("log records arrive");
    let from_log = logs
        .iter()
        .find(|l| l.body() == "from the log crate")
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(from_log.trace_id_hex(), span.trace_id_hex());
    assert_eq!(from_log.span_id_hex(), span.span_id_hex());
    assert_eq!(from_log.record.severity_text, "WARN");

    let exemplar_of = |name: &str| {
        use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::metric::Data;
        let metrics = receiver
            .wait_for_metric(name, Duration::from_secs(20))
            .expect("metric arrives");
        let exemplars: Vec<_> = metrics
            .iter()
            .flat_map(|m| match &m.metric.data {
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .flat_map(|p| p.exemplars.clone())
                    .collect::<Vec<_>>(),
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .flat_map(|p| p.exemplars.clone())
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        assert!(!exemplars.is_empty(), "{name}: no exemplar in {metrics:#?}");
        exemplars[0].clone()
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for name in ["checkout.latency", "checkout.orders"] {
        let exemplar = exemplar_of(name);
        assert_eq!(hex(&exemplar.trace_id), span.trace_id_hex(), "{name}");
        assert_eq!(hex(&exemplar.span_id), span.span_id_hex(), "{name}");
    }
    // A second init in the same process reports the taken subscriber instead of panicking.
    let err = ferrotel::try_init().expect_err("subscriber already installed");
    assert!(err.to_string().contains("subscriber"), "{err}");
    assert!(err.to_string().contains("Guard::layer()"), "{err}");
    // init() itself never panics: it falls back to telemetry off.
    let fallback = ferrotel::init();
    assert!(fallback.providers().tracer_provider().is_none());
}
