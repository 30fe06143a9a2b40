//! An opt-in Prometheus `/metrics` page for ferrotel services: OpenMetrics text **with
//! exemplars** for scrapers that ask for it (Prometheus with `--enable-feature=exemplar-storage`
//! links histogram buckets to traces this way), classic Prometheus text otherwise.
//!
//! ```
//! use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
//! use opentelemetry_proto::tonic::metrics::v1::{
//!     exemplar, metric, Exemplar, Histogram, HistogramDataPoint, Metric, ResourceMetrics,
//!     ScopeMetrics, AggregationTemporality,
//! };
//! use ferrotel_prometheus::render_openmetrics;
//!
//! let latency = Metric {
//!     name: "rpc.server.duration".into(),
//!     unit: "s".into(),
//!     description: "Time spent serving RPCs".into(),
//!     data: Some(metric::Data::Histogram(Histogram {
//!         aggregation_temporality: AggregationTemporality::Cumulative as i32,
//!         data_points: vec![HistogramDataPoint {
//!             count: 3,
//!             sum: Some(0.7),
//!             explicit_bounds: vec![0.1, 0.5],
//!             bucket_counts: vec![1, 1, 1],
//!             exemplars: vec![Exemplar {
//!                 trace_id: vec![0xab; 16],
//!                 span_id: vec![0xcd; 8],
//!                 time_unix_nano: 1_700_000_000_500_000_000,
//!                 value: Some(exemplar::Value::AsDouble(0.25)),
//!                 ..Default::default()
//!             }],
//!             ..Default::default()
//!         }],
//!     })),
//!     ..Default::default()
//! };
//! let request = ExportMetricsServiceRequest {
//!     resource_metrics: vec![ResourceMetrics {
//!         scope_metrics: vec![ScopeMetrics { metrics: vec![latency], ..Default::default() }],
//!         ..Default::default()
//!     }],
//! };
//!
//! let text = render_openmetrics(&request);
//! assert!(text.starts_with("# HELP rpc_server_duration_seconds Time spent serving RPCs\n"));
//! assert!(text.contains("# TYPE rpc_server_duration_seconds histogram\n"));
//! assert!(text.contains("# UNIT rpc_server_duration_seconds seconds\n"));
//! // 0.25 falls in the `le="0.5"` bucket, so its exemplar is written on that line.
//! assert!(text.contains(&format!(
//!     "rpc_server_duration_seconds_bucket{{le=\"0.5\"}} 2 # {{trace_id=\"{}\",span_id=\"{}\"}} 0.25 1700000000.5\n",
//!     "ab".repeat(16), "cd".repeat(8),
//! )));
//! assert!(text.ends_with("# EOF\n"));
//! ```
//!
//! # Serving
//!
//! [`MetricsEndpoint::start`] binds first (a taken port is an error returned right away), then
//! serves on the runtime it is given:
//!
//! | Route | Answer |
//! |---|---|
//! | `GET`/`HEAD /metrics` | The `Accept` range of highest quality among: the protobuf exposition (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`, exponential histograms as native histograms), OpenMetrics 1.0 (`application/openmetrics-text`); else Prometheus text 0.0.4; `HEAD` answers the headers without collecting |
//! | `GET`/`HEAD /health` | `200 ok`, never rate limited (liveness probes must not fail because scrapes are throttled) |
//! | `GET`/`HEAD /` | a small HTML page linking `/metrics` and `/health`, not rate limited |
//! | other methods | `405` with `Allow: GET, HEAD` |
//! | other paths | `404` |
//!
//! Every response carries `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
//! `X-XSS-Protection: 1; mode=block`. Scrapes beyond the token bucket
//! ([`EndpointConfig::max_requests_per_second`], [`EndpointConfig::burst`]) get `429` with
//! `Retry-After: 1`.
//!
//! Nothing a scraper does can block the service's own threads: the [`MetricsSource`] runs on
//! the runtime's blocking pool, one collection at a time, and a scrape that waits longer than
//! [`EndpointConfig::collect_timeout`] gets `503`. Connections beyond
//! [`EndpointConfig::max_connections`] are closed as soon as they are accepted (an idle one
//! gives its slot up first), and one peer holds at most
//! [`EndpointConfig::max_connections_per_peer`] of them; a client that
//! sends no request head within [`HEADER_READ_TIMEOUT`], or stops reading its response for
//! [`WRITE_STALL_TIMEOUT`], is disconnected; no connection outlives [`MAX_CONNECTION_AGE`].
//! Request bodies are never read.
//!
//! # Translation
//!
//! Names follow the OpenTelemetry "Prometheus and OpenMetrics compatibility" specification:
//! invalid characters become `_`, units become suffixes (`s` → `_seconds`, `By` → `_bytes`,
//! `m/s` → `_meters_per_second`, `1` → `_ratio` for gauges, `{…}` annotations dropped),
//! monotonic sums get `_total`, non-monotonic sums are gauges. Attributes become labels, the
//! instrumentation scope becomes `otel_scope_name` / `otel_scope_version` on every sample,
//! and the resource attributes become one `target_info` sample. Exemplars are written (in
//! OpenMetrics only) on the `_bucket` line of the bucket their value falls in — at most one
//! per bucket, the latest — and on counters' `_total` line. Delta-temporality sums and
//! histograms are left out; exponential histograms are written as classic ones, a bucket at
//! each of their bucket boundaries, and in the protobuf exposition also as native histograms
//! (their scale merged down to Prometheus's largest schema, 8).

mod endpoint;
mod idle;
mod model;
mod names;
mod protobuf;
mod rate_limit;
mod render;
mod routes;
mod write_timeout;

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

pub use endpoint::{
    EndpointConfig, MetricsEndpoint, HEADER_READ_TIMEOUT, MAX_CONNECTION_AGE, WRITE_STALL_TIMEOUT,
};
pub use protobuf::{render_protobuf, PROTOBUF_CONTENT_TYPE};
pub use render::{
    render_openmetrics, render_prometheus_text, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
};

/// Produces the metrics to expose, on demand, once per scrape. Called on a blocking-pool
/// thread, so it may block (e.g. collect a `ManualReader`); it should be quick all the same.
pub type MetricsSource = Arc<dyn Fn() -> ExportMetricsServiceRequest + Send + Sync>;
