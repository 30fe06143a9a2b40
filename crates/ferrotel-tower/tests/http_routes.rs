//! Routes on plain HTTP servers: the route a request matched is `http.route` on its span and
//! its duration metric and names the span `{method} {route}`; a request that matched none
//! keeps the bare method; the raw path never becomes a metric attribute. With the `axum`
//! feature, axum's `MatchedPath` is the route without any setup.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

mod support;

use bytes::Bytes;
use ferrotel_testkit::Receiver;
use ferrotel_tower::ServerLayer;
use http_body_util::Full;
use hyper_util::rt::TokioExecutor;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::tracer_provider as provider;

const WAIT: Duration = Duration::from_secs(20);

async fn ok(
    _: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    Ok(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// GETs each path from `addr` with a plain client.
async fn get_all(addr: std::net::SocketAddr, paths: &[&str]) {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    for path in paths {
        let response = client
            .get(format!("http://{addr}{path}").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        use http_body_util::BodyExt as _;
        let _ = response.into_body().collect().await.unwrap();
    }
}

/// The attribute sets of `http.server.request.duration`'s points, each with its count.
fn duration_points(exporter: &InMemoryMetricExporter) -> Vec<(Vec<KeyValue>, u64)> {
    let mut points = Vec::new();
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != "http.server.request.duration" {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() else {
                    panic!("not a histogram: {metric:?}")
                };
                for point in histogram.data_points() {
                    let mut attributes: Vec<KeyValue> = point.attributes().cloned().collect();
                    attributes.sort_by(|a, b| a.key.cmp(&b.key));
                    points.push((attributes, point.count()));
                }
            }
        }
    }
    points
}

fn meter() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// Checks what reached the wire for two requests to `/volumes/…` and one to `/other`.
async fn assert_routes(
    receiver: &Receiver,
    tracer: &opentelemetry_sdk::trace::SdkTracerProvider,
    meter: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
) {
    tracer.force_flush().unwrap();
    meter.force_flush().unwrap();
    let spans = receiver.wait_for_spans(3, WAIT).unwrap();
    let routed: Vec<_> = spans
        .iter()
        .filter(|s| s.attr("http.route").as_deref() == Some("/volumes/{id}"))
        .collect();
    assert_eq!(routed.len(), 2, "{spans:#?}");
    for span in &routed {
        assert_eq!(span.name(), "GET /volumes/{id}");
        assert!(span.attr("url.path").unwrap().starts_with("/volumes/"));
    }
    let other = spans
        .iter()
        .find(|s| s.attr("url.path").as_deref() == Some("/other"))
        .expect("the unrouted request's span");
    assert_eq!(other.name(), "GET");
    assert_eq!(other.attr("http.route"), None);

    let points = duration_points(exporter);
    let route = KeyValue::new("http.route", "/volumes/{id}");
    let routed = points
        .iter()
        .find(|(attributes, _)| attributes.contains(&route))
        .unwrap_or_else(|| panic!("no point with the route: {points:?}"));
    assert_eq!(routed.1, 2, "both requests in one series: {points:?}");
    assert!(
        points
            .iter()
            .all(|(attributes, _)| attributes.iter().all(|kv| kv.key.as_str() != "url.path")),
        "the raw path is never a metric attribute: {points:?}"
    );
    assert_eq!(
        points.len(),
        2,
        "one series per route, and one without: {points:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_function_names_spans_and_metric_series() {
    let receiver = Receiver::start();
    let tracer = provider(&receiver, "routes");
    let (meter, exporter) = meter();
    let layer = ServerLayer::new()
        .tracer_provider(&tracer)
        .meter_provider(&meter)
        .route(|uri, _| {
            uri.path()
                .starts_with("/volumes/")
                .then_some("/volumes/{id}")
        });
    let addr = support::serve_http(layer, ok).await;
    get_all(addr, &["/volumes/42", "/volumes/7", "/other"]).await;
    assert_routes(&receiver, &tracer, &meter, &exporter).await;
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axums_matched_path_is_the_route_without_setup() {
    let receiver = Receiver::start();
    let tracer = provider(&receiver, "routes-axum");
    let (meter, exporter) = meter();
    let layer = ServerLayer::new()
        .tracer_provider(&tracer)
        .meter_provider(&meter);
    let app = axum::Router::new()
        .route("/volumes/{id}", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { "ok" })
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    get_all(addr, &["/volumes/42", "/volumes/7", "/other"]).await;
    assert_routes(&receiver, &tracer, &meter, &exporter).await;
}
