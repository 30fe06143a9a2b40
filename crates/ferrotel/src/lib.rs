//! ferrotel: OpenTelemetry for Rust services, configured by the standard `OTEL_*` variables.
//!
//! ```no_run
//! let _telemetry = ferrotel::init(); // every OTEL_* variable; flushes on drop
//! let span = ferrotel::tracing::info_span!("handle_request", volume = "alpha");
//! let _entered = span.enter();
//! ferrotel::tracing::info!("logged with this span's trace_id and span_id");
//! ```
//!
//! [`init`] installs, from the environment:
//! - a `tracing` subscriber: an `EnvFilter` from `RUST_LOG` (else `OTEL_LOG_LEVEL`), a log
//!   formatter in text or JSON (`FERROTEL_LOG_FORMAT`) that writes `trace_id` and `span_id` on
//!   every line written inside a span, and the OpenTelemetry layer;
//! - the global propagator from `OTEL_PROPAGATORS` (tracecontext, baggage, b3, b3multi,
//!   jaeger, none);
//! - the tracer provider: sampler, span limits, batch processor (with `OTEL_BSP_EXPORT_TIMEOUT`
//!   honoured) and the exporters of `OTEL_TRACES_EXPORTER`;
//! - the meter provider with `OTEL_METRIC_EXPORT_INTERVAL` / `_TIMEOUT` and the exporters of
//!   `OTEL_METRICS_EXPORTER`, installed globally as an
//!   [`ExemplarMeterProvider`](ferrotel_metrics::ExemplarMeterProvider): every histogram and
//!   counter carries exemplars;
//! - the logs signal: `tracing` events and `log` records as OpenTelemetry log records with the
//!   span's ids, batched (`OTEL_BLRP_*`) to the exporters of `OTEL_LOGS_EXPORTER`.
//!
//! `OTEL_TRACES_EXPORTER=none` removes the exporter only: spans are still created, sampled and
//! propagated (with the W3C Level 2 random flag, see [`tracer::Level2Tracer`]). With a
//! subscriber of your own, add [`Guard::layer`] to it.
//!
//! OTLP runs over gRPC, HTTP/protobuf or HTTP/JSON with headers, timeout, gzip, TLS and mTLS. All export
//! traffic runs on a small runtime of ferrotel's own, so `init()` works the same in a
//! multi-thread tokio runtime, a current-thread one (`#[tokio::test]`) or a plain `fn main`.
//!
//! The variables and their defaults are listed in [`config::vars`]; settings made in code
//! through [`builder`] win over them. `OTEL_CONFIG_FILE` names a declarative configuration file
//! (YAML, `file_format: "1.1"`, see [`config::ConfigFile`]) that replaces the variables.
//!
//! Nothing is lost silently: every span, log record and metric data point is counted as
//! exported, dropped or failed ([`Guard::stats`]); a loss is logged at
//! once and then at most once a minute while it lasts, and the counts are exported as
//! ferrotel's own `otel.sdk.*` metrics (`otel.sdk.exporter.span.exported`,
//! `otel.sdk.processor.span.processed`, `otel.sdk.processor.span.queue.size`, …). Header values
//! and endpoint userinfo and queries never appear in a message ferrotel writes (SECURITY.md).
//!
//! The OpenTelemetry crates ferrotel is built on are re-exported, pinned to the versions it was
//! built with, so a service that uses them through ferrotel never meets version skew.

// docs.rs marks what a cargo feature gates (`ops`).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config_file;
mod error;
mod guard;
mod init;
mod pipelines;
pub mod process_metrics;
mod propagation;
mod signal;
mod subscriber;

pub use error::InitError;
pub use guard::{Guard, Providers};
pub use init::{builder, init, try_init, Builder};
pub use pipelines::{ExportStats, ShutdownReport};
pub use signal::{shutdown_signal, StopSignal};
pub use subscriber::RUST_LOG;

/// The configuration model: every `OTEL_*` variable, its default and its allowed values.
pub use ferrotel_config as config;
/// Exemplar-carrying histograms and counters, and bound instruments.
pub use ferrotel_metrics as metrics;
/// Ready-made NFS, storage and Raft spans and metrics (feature `ops`, on by default).
#[cfg(feature = "ops")]
#[cfg_attr(docsrs, doc(cfg(feature = "ops")))]
pub use ferrotel_ops as ops;
/// The OTLP exporter of every signal, its export runtime and its counts.
pub use ferrotel_otlp as otlp;
/// The `/metrics` endpoint (OpenMetrics with exemplars).
pub use ferrotel_prometheus as prometheus;
/// Propagators: W3C Trace Context Level 2, baggage, B3 and Jaeger.
pub use ferrotel_propagation as propagators;
/// Tower layers for tonic gRPC and HTTP servers and clients.
pub use ferrotel_tower as tower;
/// The tracer ferrotel installs (W3C Level 2 random flag kept), sampling decided before a span
/// is built, per-operation sampling rules, and the schema URL of every scope ferrotel creates.
pub use ferrotel_tracer as tracer;
pub use opentelemetry;
pub use opentelemetry_sdk;
pub use tracing;
pub use tracing_opentelemetry;
pub use tracing_subscriber;

/// The README's code blocks, compiled as doctests so the adoption example cannot rot (they use
/// `ferrotel::ops`).
#[doc = include_str!("../../../README.md")]
#[cfg(all(doctest, feature = "ops"))]
pub struct ReadmeDoctests;
