//! A real Prometheus (Debian's 2.42, `--enable-feature=exemplar-storage`) scrapes the endpoint
//! and answers `/api/v1/query_exemplars` with the trace ids of real spans — spans exported over
//! OTLP to the in-process receiver, whose ids were put into the histogram's exemplars.
//! Skipped (with `skipped: …`) when `prometheus` is not on `PATH`, unless
//! `FERROTEL_REQUIRE_EXTERNAL=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrotel_prometheus::{EndpointConfig, MetricsEndpoint, MetricsSource};
use ferrotel_testkit::raw_http::request;
use ferrotel_testkit::Receiver;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, Exemplar};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use support::{PrometheusGuard, SharedReader, DEADLINE};

const HISTOGRAM: &str = "request.latency";
const SERIES: &str = "request_latency_seconds_bucket";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn prometheus_stores_exemplars_with_real_trace_ids() {
    let Some(binary) =
        ferrotel_testkit::external::program("prometheus", "apt-get install prometheus")
    else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Real spans, exported over OTLP/gRPC to the in-process receiver.
    let receiver = Receiver::start();
    let tracer_provider = {
        let _context = rt.enter();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.grpc_endpoint())
            .build()
            .expect("span exporter");
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build()
    };
    let tracer = tracer_provider.tracer("ferrotel-prometheus-test");

    // A real histogram, recorded inside those spans; the source puts the spans' ids into the
    // exemplars of the collected data point, as the facade does.
    let reader = SharedReader::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .build();
    let histogram = meter_provider
        .meter("ferrotel-prometheus-test")
        .f64_histogram(HISTOGRAM)
        .with_unit("s")
        .with_boundaries(vec![0.005, 0.25, 5.0])
        .build();
    let now_nanos = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap();
    let mut exemplars = Vec::new();
    for (i, value) in [0.003, 0.2, 3.0].into_iter().enumerate() {
        tracer.in_span(format!("request-{i}"), |cx| {
            histogram.record(value, &[]);
            let span = cx.span();
            let ids = span.span_context();
            exemplars.push(Exemplar {
                value: Some(exemplar::Value::AsDouble(value)),
                time_unix_nano: now_nanos + i as u64 * 1_000_000,
                trace_id: ids.trace_id().to_bytes().to_vec(),
                span_id: ids.span_id().to_bytes().to_vec(),
                ..Default::default()
            });
        });
    }
    tracer_provider.force_flush().expect("flush spans");
    let spans = receiver
        .wait_for_spans(3, DEADLINE)
        .expect("the spans reach the receiver");
    let received: BTreeSet<String> = spans.iter().map(|s| s.trace_id_hex()).collect();
    let expected: BTreeSet<String> = exemplars.iter().map(|e| hex(&e.trace_id)).collect();
    assert_eq!(
        received, expected,
        "the exemplar ids are those of exported spans"
    );

    let source: MetricsSource = Arc::new(move || {
        let mut request = reader.collect_request();
        for metric in request
            .resource_metrics
            .iter_mut()
            .flat_map(|r| r.scope_metrics.iter_mut())
            .flat_map(|s| s.metrics.iter_mut())
        {
            if let Some(metric::Data::Histogram(h)) = &mut metric.data {
                for point in &mut h.data_points {
                    point.exemplars = exemplars.clone();
                }
            }
        }
        request
    });
    let config = EndpointConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ..EndpointConfig::default()
    };
    let endpoint = MetricsEndpoint::start(config, source, rt.handle()).expect("start endpoint");

    let target = endpoint.local_addr();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ferrotel\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let mut prometheus =
        PrometheusGuard::start(&binary, &config, &["--enable-feature=exemplar-storage"]);
    prometheus.wait_for("/-/ready", |p| {
        request(p.api, "GET", "/-/ready", &[], None)
            .ok()
            .filter(|r| r.status == 200)
    });

    // The scrape succeeds (Prometheus's OpenMetrics parser accepted the page).
    prometheus.wait_for("a healthy scrape", |p| {
        let targets = p.api_json("/api/v1/targets")?;
        let target = targets["data"]["activeTargets"]
            .as_array()?
            .first()?
            .clone();
        match target["health"].as_str()? {
            "up" => Some(()),
            "down" => panic!("scrape failed: {}", target["lastError"]),
            _ => None,
        }
    });

    let (start, end) = (
        now_nanos / 1_000_000_000 - 300,
        now_nanos / 1_000_000_000 + 300,
    );
    let path = format!("/api/v1/query_exemplars?query={SERIES}&start={start}&end={end}");
    let stored = prometheus.wait_for("the exemplars", |p| {
        let answer = p.api_json(&path)?;
        let ids: BTreeSet<String> = answer["data"]
            .as_array()?
            .iter()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
            .collect();
        (ids.len() >= expected.len()).then_some((ids, answer))
    });
    assert_eq!(stored.0, expected, "Prometheus answered {}", stored.1);
    println!("prometheus stored exemplars for trace ids {:?}", stored.0);

    drop(prometheus);
    endpoint.shutdown();
    let _ = tracer_provider.shutdown();
}
