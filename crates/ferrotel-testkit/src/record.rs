//! What the receiver keeps: flattened spans, metrics and log records, and one record per export
//! request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;

/// One span as it arrived, with the resource and instrumentation scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The resource attributes of the `ResourceSpans` the span came in.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope name (empty when the scope was absent).
    pub scope_name: String,
    /// The instrumentation scope version (empty when absent).
    pub scope_version: String,
    /// The schema URL of the instrumentation scope (empty when absent).
    pub scope_schema_url: String,
    /// The span exactly as decoded from the wire.
    pub span: Span,
}

impl ReceivedSpan {
    /// The span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id as hex, or `None` for a root span (empty or all-zero parent id).
    pub fn parent_span_id_hex(&self) -> Option<String> {
        let id = &self.span.parent_span_id;
        if id.iter().all(|b| *b == 0) {
            None
        } else {
            Some(hex(id))
        }
    }

    /// A span attribute rendered as a string (see [`any_value_to_string`]).
    pub fn attr(&self, key: &str) -> Option<String> {
        find_attr(&self.span.attributes, key)
    }

    /// A resource attribute rendered as a string, e.g. `resource_attr("service.name")`.
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        find_attr(&self.resource, key)
    }
}

/// One metric as it arrived (with all its data points and their exemplars), with the resource
/// and instrumentation scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// The resource attributes of the `ResourceMetrics` the metric came in.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope name (empty when the scope was absent).
    pub scope_name: String,
    /// The instrumentation scope version (empty when absent).
    pub scope_version: String,
    /// The schema URL of the instrumentation scope (empty when absent).
    pub scope_schema_url: String,
    /// The metric exactly as decoded from the wire.
    pub metric: Metric,
}

impl ReceivedMetric {
    /// The metric name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// A resource attribute rendered as a string.
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        find_attr(&self.resource, key)
    }
}

/// One log record as it arrived, with the resource and instrumentation scope it was sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    /// The resource attributes of the `ResourceLogs` the record came in.
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope name (empty when the scope was absent).
    pub scope_name: String,
    /// The schema URL of the instrumentation scope (empty when absent).
    pub scope_schema_url: String,
    /// The log record exactly as decoded from the wire.
    pub record: LogRecord,
}

impl ReceivedLog {
    /// The body rendered as a string (see [`any_value_to_string`]).
    pub fn body(&self) -> String {
        any_value_to_string(self.record.body.as_ref())
    }

    /// The trace id as 32 lowercase hex digits (empty when the record has none).
    pub fn trace_id_hex(&self) -> String {
        hex(&self.record.trace_id)
    }

    /// The span id as 16 lowercase hex digits (empty when the record has none).
    pub fn span_id_hex(&self) -> String {
        hex(&self.record.span_id)
    }

    /// A log record attribute rendered as a string.
    pub fn attr(&self, key: &str) -> Option<String> {
        find_attr(&self.record.attributes, key)
    }

    /// A resource attribute rendered as a string.
    pub fn resource_attr(&self, key: &str) -> Option<String> {
        find_attr(&self.resource, key)
    }
}

/// Which OTLP signal an export request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `TraceService/Export` or `POST /v1/traces`.
    Traces,
    /// `MetricsService/Export` or `POST /v1/metrics`.
    Metrics,
    /// `LogsService/Export` or `POST /v1/logs`.
    Logs,
    /// An HTTP request to a path the receiver does not serve (answered 404 or 405).
    Unknown,
}

/// Which server an export request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The OTLP/gRPC server.
    Grpc,
    /// The OTLP/HTTP server (protobuf or JSON bodies; see the `content-type` header).
    Http,
}

/// What the receiver answered to an export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted in full; the items were stored.
    Accepted,
    /// Answered with a partial success (items were stored); set by [`Fault::PartialSuccess`](crate::Fault::PartialSuccess).
    PartiallyAccepted {
        /// The rejected count put in the response.
        rejected: i64,
        /// The message put in the response.
        message: String,
    },
    /// Answered gRPC `UNAVAILABLE` / HTTP 503 by an injected fault; nothing stored.
    Unavailable {
        /// The retry delay sent (gRPC `RetryInfo` / HTTP `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Answered gRPC `RESOURCE_EXHAUSTED` / HTTP 429 by an injected fault; nothing stored.
    TooManyRequests {
        /// The retry delay sent (gRPC `RetryInfo` / HTTP `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Answered gRPC `INVALID_ARGUMENT` / HTTP 400 by [`Fault::Refuse`](crate::Fault::Refuse); nothing stored.
    Refused,
    /// The request could not be read or decoded (bad protobuf, bad gzip, wrong content type,
    /// unknown path); nothing stored. The text says what was wrong.
    Invalid(String),
    /// The client went away while the receiver was delaying its answer; nothing stored.
    Abandoned,
}

impl Outcome {
    /// Whether the items of the request were stored.
    pub fn is_stored(&self) -> bool {
        matches!(self, Outcome::Accepted | Outcome::PartiallyAccepted { .. })
    }
}

/// One export request as the receiver saw it, whatever it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The signal carried.
    pub signal: Signal,
    /// The server reached.
    pub transport: Transport,
    /// The request path (`/v1/traces`, or the gRPC method path).
    pub path: String,
    /// Every request header (gRPC: the metadata, `user-agent` included), name lowercased;
    /// repeated headers are joined with `", "`, binary values are shown lossily.
    pub headers: BTreeMap<String, String>,
    /// Whether the body was gzip-compressed (`Content-Encoding: gzip` / `grpc-encoding: gzip`).
    pub gzip: bool,
    /// Spans (traces), data points (metrics) or log records (logs) in the request; 0 when it
    /// could not be decoded.
    pub items: usize,
    /// What the receiver answered.
    pub outcome: Outcome,
}

impl RequestRecord {
    /// A header value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Renders an attribute value as a string: strings as-is, numbers and booleans in their usual
/// form, bytes as hex, arrays as `[a, b]` and key-value lists as `{k=v, …}`; `None` as `""`.
pub fn any_value_to_string(value: Option<&AnyValue>) -> String {
    let Some(value) = value.and_then(|v| v.value.as_ref()) else {
        return String::new();
    };
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        any_value::Value::BytesValue(b) => hex(b),
        any_value::Value::ArrayValue(a) => {
            let items: Vec<String> = a
                .values
                .iter()
                .map(|v| any_value_to_string(Some(v)))
                .collect();
            format!("[{}]", items.join(", "))
        }
        any_value::Value::KvlistValue(kv) => {
            let items: Vec<String> = kv
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, any_value_to_string(kv.value.as_ref())))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        // A profiles-only string-table reference: treated as absent, as the spec asks.
        any_value::Value::StringValueStrindex(_) => String::new(),
    }
}

/// Finds `key` in a list of proto attributes and renders its value as a string.
pub fn find_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| any_value_to_string(kv.value.as_ref()))
}

/// Lowercased header name -> value; repeats joined with ", ", non-UTF-8 shown lossily.
pub(crate) fn header_map(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
