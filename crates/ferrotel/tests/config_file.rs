//! `OTEL_CONFIG_FILE` on the wire: a configuration file gives the same export as the
//! equivalent variables (service name and resource, sampler, protocol, headers, gzip), the
//! other `OTEL_*` variables are ignored while it is used, and a broken file refuses to start
//! with the file and the line.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use ferrotel::opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use ferrotel::opentelemetry::Context;
use ferrotel_testkit::{Receiver, Signal, Transport};
use support::{endpoint, guard, quick, WAIT};

fn testdata(name: &str) -> String {
    format!("{}/tests/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What one guard put on the wire: span names, resource, transport, path, headers, gzip.
#[derive(Debug, PartialEq)]
struct Wire {
    spans: BTreeSet<String>,
    service_name: Option<String>,
    environment: Option<String>,
    transport: Transport,
    path: String,
    tenant: Option<String>,
    authorization: Option<String>,
    gzip: bool,
}

/// Starts a root span (which the parent-based sampler with an `always_off` root drops) and a
/// child of a remote sampled parent (which it keeps), shuts down, and reads the receiver.
fn export(receiver: &Receiver, guard: ferrotel::Guard) -> Wire {
    let tracer = guard.providers().tracer("config-file-test");
    tracer.start("dropped-root").end();
    let parent = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(parent);
    tracer.start_with_context("kept-child", &cx).end();
    let report = guard.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let spans = receiver.wait_for_spans(1, WAIT).expect("a span arrives");
    let request = receiver
        .requests()
        .into_iter()
        .find(|r| r.signal == Signal::Traces)
        .expect("a trace request");
    Wire {
        spans: spans.iter().map(|s| s.name().to_owned()).collect(),
        service_name: spans[0].resource_attr("service.name"),
        environment: spans[0].resource_attr("deployment.environment"),
        transport: request.transport,
        path: request.path.clone(),
        tenant: request.header("x-tenant").map(str::to_owned),
        authorization: request.header("authorization").map(str::to_owned),
        gzip: request.gzip,
    }
}

#[test]
fn a_file_exports_what_the_equivalent_variables_export() {
    for (protocol, file) in [
        ("grpc", "wire-grpc.yaml"),
        ("http/protobuf", "wire-http.yaml"),
    ] {
        let from_file = Receiver::start();
        let path = testdata(file);
        let file_endpoint = endpoint(&from_file, protocol);
        let file_guard = guard(quick(&[
            ("OTEL_CONFIG_FILE", &path),
            ("ENDPOINT", &file_endpoint),
            ("SERVICE", "ledger"),
            ("TOKEN", "t0k"),
            // Ignored while the file is used:
            ("OTEL_SERVICE_NAME", "not-this-one"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=other"),
        ]));
        assert_eq!(
            file_guard.config().config_file.as_deref(),
            Some(path.as_str())
        );
        let file_wire = export(&from_file, file_guard);

        let from_env = Receiver::start();
        let env_endpoint = endpoint(&from_env, protocol);
        let traces_endpoint = if protocol == "grpc" {
            env_endpoint
        } else {
            format!("{env_endpoint}/v1/traces")
        };
        let env_wire = export(
            &from_env,
            guard(quick(&[
                ("OTEL_SERVICE_NAME", "ledger"),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "deployment.environment=wire%20test",
                ),
                ("OTEL_PROPAGATORS", "tracecontext"),
                ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces_endpoint),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                    "authorization=Bearer%20t0k,x-tenant=acme",
                ),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ])),
        );

        assert_eq!(file_wire, env_wire, "{protocol}");
        assert_eq!(file_wire.spans, BTreeSet::from(["kept-child".to_owned()]));
        assert_eq!(file_wire.service_name.as_deref(), Some("ledger"));
        assert_eq!(file_wire.environment.as_deref(), Some("wire test"));
        assert_eq!(file_wire.tenant.as_deref(), Some("acme"));
        assert_eq!(file_wire.authorization.as_deref(), Some("Bearer t0k"));
        assert!(file_wire.gzip);
        let expected = if protocol == "grpc" {
            Transport::Grpc
        } else {
            Transport::Http
        };
        assert_eq!(file_wire.transport, expected);
    }
}

#[test]
fn an_unusable_file_refuses_to_start_naming_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("ferrotel-config-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "file_format: \"1.1\"\nresource:\n  attributes: ${A:?x}\n",
    )
    .unwrap();
    let broken = broken.display().to_string();
    let err = ferrotel::builder()
        .env(quick(&[("OTEL_CONFIG_FILE", &broken)]))
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("{broken}:3")), "{text}");
    assert!(err.config_error().is_some());

    let missing = dir.join("missing.yaml").display().to_string();
    let err = ferrotel::builder()
        .env(quick(&[("OTEL_CONFIG_FILE", &missing)]))
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .unwrap_err();
    assert!(err.to_string().contains(&missing), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_simple_processor_exports_each_span_as_it_ends() {
    let receiver = Receiver::start();
    let endpoint = receiver.http_endpoint();
    let g = guard(quick(&[
        ("OTEL_CONFIG_FILE", &testdata("wire-simple.yaml")),
        ("ENDPOINT", &endpoint),
    ]));
    g.providers()
        .tracer("config-file-test")
        .start("at-once")
        .end();
    // No flush and no wait: the export finished inside end(). (A batch processor would
    // still hold the span for its 5 s schedule delay.)
    assert_eq!(receiver.request_count(), 1);
    let spans = receiver.wait_for_spans(1, WAIT).expect("the span");
    assert_eq!(spans[0].name(), "at-once");
    drop(g);
}

#[test]
fn a_meter_provider_from_a_file_sends_metrics() {
    use ferrotel::opentelemetry::metrics::MeterProvider as _;
    let receiver = Receiver::start();
    let endpoint = receiver.grpc_endpoint();
    let g = guard(quick(&[
        ("OTEL_CONFIG_FILE", &testdata("wire-metrics.yaml")),
        ("ENDPOINT", &endpoint),
    ]));
    assert!(g.config().traces_exporter.is_empty(), "no tracer_provider");
    let meter = g
        .providers()
        .meter_provider()
        .expect("meter provider")
        .meter("test");
    meter
        .f64_histogram("file.latency")
        .with_unit("s")
        .build()
        .record(0.25, &[]);
    drop(g);
    let metrics = receiver
        .wait_for_metric("file.latency", WAIT)
        .expect("metric");
    assert_eq!(
        metrics[0].resource_attr("service.name").as_deref(),
        Some("metered-by-file")
    );
    let request = receiver
        .requests()
        .into_iter()
        .find(|r| r.signal == Signal::Metrics)
        .expect("a metrics request");
    assert_eq!(request.transport, Transport::Grpc);
    assert_eq!(request.header("x-tenant"), Some("acme"));
}

#[test]
fn parent_based_delegates_from_a_file_decide_on_the_wire() {
    let receiver = Receiver::start();
    let endpoint = receiver.http_endpoint();
    let g = guard(quick(&[
        ("OTEL_CONFIG_FILE", &testdata("wire-delegates.yaml")),
        ("ENDPOINT", &endpoint),
    ]));
    let tracer = g.providers().tracer("config-file-test");
    tracer.start("dropped-root").end();
    let unsampled = SpanContext::new(
        TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
        SpanId::from(0xb7ad_6b71_6920_3331_u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(unsampled);
    tracer.start_with_context("kept-unsampled-child", &cx).end();
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let spans = receiver.wait_for_spans(1, WAIT).expect("a span");
    let names: BTreeSet<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(names, BTreeSet::from(["kept-unsampled-child"]));
}
