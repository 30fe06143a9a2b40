//! A base2 exponential histogram scraped by the real Prometheus 3 (`collector/build-tools`)
//! twice: as a native histogram over the protobuf exposition (`scrape_native_histograms`),
//! and as classic buckets over Prometheus text. `histogram_quantile` gives the true p95 within
//! one bucket's width both ways. Skipped (with `skipped: …`) when Prometheus 3 is not built,
//! unless `FERROTEL_REQUIRE_EXTERNAL=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use ferrotel_prometheus::{EndpointConfig, MetricsEndpoint, MetricsSource};
use ferrotel_testkit::raw_http::{request, urlencode};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, SdkMeterProvider, Stream,
};
use support::{prometheus3, PrometheusGuard, SharedReader};

/// The p95 Prometheus computes for `query`, once it has an answer.
fn quantile(prometheus: &mut PrometheusGuard, query: &str) -> f64 {
    let path = format!("/api/v1/query?query={}", urlencode(query));
    prometheus.wait_for(query, |p| {
        let answer = p.api_json(&path)?;
        let value = answer["data"]["result"].as_array()?.first()?["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()?;
        value.is_finite().then_some(value)
    })
}

#[test]
fn prometheus_3_gets_the_same_p95_from_native_and_classic_exponential_histograms() {
    let Some(binary) = prometheus3() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Every histogram exponential, with the specification's defaults.
    let reader = SharedReader::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .with_view(|i: &Instrument| {
            (i.kind() == InstrumentKind::Histogram).then(|| {
                Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 160,
                        max_scale: 20,
                        record_min_max: true,
                    })
                    .build()
                    .unwrap()
            })
        })
        .build();
    let histogram = provider
        .meter("ferrotel-prometheus-test")
        .f64_histogram("io.latency")
        .with_unit("s")
        .build();
    // 1 ms to 1 s evenly: the true p95 is 0.95 s.
    for i in 1..=1000 {
        histogram.record(f64::from(i) * 0.001, &[]);
    }
    let collected = reader.collect_request();
    let scale = collected.resource_metrics[0].scope_metrics[0].metrics[0]
        .data
        .as_ref()
        .and_then(|data| match data {
            metric::Data::ExponentialHistogram(h) => Some(h.data_points[0].scale),
            _ => None,
        })
        .expect("an exponential histogram");
    // One bucket's relative width at that scale (Prometheus merges finer scales to 8).
    let width = (-f64::from(scale.min(8))).exp2().exp2() - 1.0;

    let source: MetricsSource = Arc::new(move || reader.collect_request());
    let config = EndpointConfig {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        ..EndpointConfig::default()
    };
    let endpoint = MetricsEndpoint::start(config, source, rt.handle()).expect("start endpoint");
    let target = endpoint.local_addr();
    let config = format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: native
    scrape_protocols: [PrometheusProto]
    scrape_native_histograms: true
    static_configs: [{{targets: ['{target}']}}]
  - job_name: classic
    scrape_protocols: [PrometheusText0.0.4]
    static_configs: [{{targets: ['{target}']}}]
"
    );
    let mut prometheus = PrometheusGuard::start(&binary, &config, &[]);
    prometheus.wait_for("/-/ready", |p| {
        request(p.api, "GET", "/-/ready", &[], None)
            .ok()
            .filter(|r| r.status == 200)
    });
    prometheus.wait_for("two healthy scrapes", |p| {
        let targets = p.api_json("/api/v1/targets")?;
        let active = targets["data"]["activeTargets"].as_array()?.clone();
        for target in &active {
            if target["health"].as_str()? == "down" {
                panic!("scrape failed: {}", target["lastError"]);
            }
        }
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(())
    });

    // The native job stored a native histogram (a `histogram` value, no `_bucket` series).
    let native_series = prometheus.wait_for("the native histogram", |p| {
        let answer =
            p.api_json("/api/v1/query?query=io_latency_seconds%7Bjob%3D%22native%22%7D")?;
        let first = answer["data"]["result"].as_array()?.first()?.clone();
        Some(first)
    });
    assert!(
        native_series.get("histogram").is_some(),
        "a native histogram: {native_series}"
    );

    let native = quantile(
        &mut prometheus,
        "histogram_quantile(0.95, io_latency_seconds{job=\"native\"})",
    );
    let classic = quantile(
        &mut prometheus,
        "histogram_quantile(0.95, io_latency_seconds_bucket{job=\"classic\"})",
    );
    println!("scale {scale}: p95 native {native}, classic {classic}, bucket width {width:.4}");
    for (how, p95) in [("native", native), ("classic", classic)] {
        assert!(
            (p95 - 0.95).abs() <= 0.95 * width,
            "{how} p95 {p95} is more than one bucket ({width:.4}) from 0.95"
        );
    }
    assert!(
        (native - classic).abs() <= 0.95 * width,
        "native {native} and classic {classic} differ by more than one bucket"
    );

    drop(prometheus);
    endpoint.shutdown();
    let _ = provider.shutdown();
}
