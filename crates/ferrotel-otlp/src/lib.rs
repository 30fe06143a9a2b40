//! The one OTLP exporter of ferrotel: spans, metrics and log records over gRPC, HTTP/protobuf
//! or HTTP/JSON, through one transport and one retry policy.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use ferrotel_config::{Config, Env};
//! use ferrotel_otlp::{BatchSignal, ExportRuntime, OtlpSpanExporter, PipelineCounters};
//! use opentelemetry::trace::{Tracer as _, TracerProvider as _};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! // A collector: the in-process OTLP receiver of ferrotel's tests.
//! let collector = ferrotel_testkit::Receiver::start();
//! let env = Env::from_pairs([
//!     ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.grpc_endpoint()),
//!     ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
//! ]);
//! let config = Config::builder().resolve(&env)?.config;
//!
//! let runtime = ExportRuntime::start()?;
//! let counters = Arc::new(PipelineCounters::new(BatchSignal::Spans, 2048, Default::default(), None));
//! let exporter = OtlpSpanExporter::new(&config.traces_otlp, runtime.handle(), counters)?;
//! let provider = SdkTracerProvider::builder().with_simple_exporter(exporter).build();
//! provider.tracer("docs").in_span("checkout", |_cx| {});
//!
//! let spans = collector.wait_for_spans(1, Duration::from_secs(10))?;
//! assert_eq!(spans[0].name(), "checkout");
//! # Ok(())
//! # }
//! ```
//!
//! ## What every signal shares
//!
//! - **The transport**: the endpoint, headers, timeout, gzip and TLS (CA, mTLS) of the signal's
//!   resolved [`OtlpConfig`](ferrotel_config::OtlpConfig); gRPC on a lazily connecting channel,
//!   HTTP on a client that follows no redirect (the export and its credentials go only to the
//!   configured endpoint), and an answer read up to [`MAX_RESPONSE_BYTES`].
//! - **The retry policy**: the OTLP specification's retryable answers (gRPC `UNAVAILABLE` and
//!   its kin; `RESOURCE_EXHAUSTED` only with `RetryInfo`; HTTP 429, 502, 503, 504 and failed
//!   connections) are retried with exponential backoff and jitter; the server's `RetryInfo` or
//!   `Retry-After` is honoured up to 30 s; no wait passes the export timeout. A partial
//!   success is never retried: its rejected items are counted.
//! - **The runtime**: every exchange runs on [`ExportRuntime`], a small tokio runtime of
//!   ferrotel's own, so export works the same from a multi-thread runtime, a current-thread
//!   one or a plain thread, and never blocks the service's runtime.
//! - **The accounting**: batch pipelines count every item as exported, failed, dropped or
//!   pending ([`PipelineCounters`], [`OnExportRuntime`]); the metric exporter counts data
//!   points ([`MetricExportStats`]); losses are reported while they happen ([`LossReporter`]).
//!   Error messages carry no header value and no endpoint userinfo or query.

mod error;
mod exporter;
mod logs;
mod loss;
mod metrics;
mod pipeline;
mod retry;
mod runtime;
mod sender;
mod signal;
mod spans;
mod tls;
mod transport;

pub use error::SetupError;
pub use exporter::OtlpBatchExporter;
pub use logs::OtlpLogExporter;
pub use loss::{LossReporter, REPORT_INTERVAL};
pub use metrics::{MetricExportStats, OtlpMetricExporter};
pub use pipeline::{BatchSignal, OnExportRuntime, PipelineCounters, PipelineStats};
pub use runtime::{on_export_thread, with_deadline, Bounded, ExportRuntime};
pub use sender::MAX_REQUEST_BYTES;
pub use signal::{Accepted, Logs, Metrics, Signal, Traces};
pub use spans::OtlpSpanExporter;
pub use transport::{RuntimeHttpClient, MAX_RESPONSE_BYTES, USER_AGENT};
