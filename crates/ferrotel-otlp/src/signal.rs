//! The three OTLP services: what each request and answer is, where it goes, and how its
//! partial success is read. Everything else about export is the same for every signal.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::metric;

/// What the collector answered to a request it accepted: the `partial_success` part.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Items the collector rejected (`rejected_spans`, `rejected_data_points` or
    /// `rejected_log_records`); not retried.
    pub rejected: u64,
    /// `partial_success.error_message`.
    pub message: String,
}

/// One OTLP signal. Sealed: ferrotel exports exactly traces, metrics and logs.
pub trait Signal: sealed::Sealed + Send + Sync + 'static {
    /// The export request.
    type Request: prost::Message + serde::Serialize + Clone + Default + Send + Sync + 'static;
    /// The export answer.
    type Response: prost::Message + serde::de::DeserializeOwned + Default + Send + Sync + 'static;
    /// `traces`, `metrics` or `logs`, in messages.
    const NAME: &'static str;
    /// What the signal carries, in messages: `spans`, `data points`, `log records`.
    const ITEMS: &'static str;
    /// The variable infix of the signal's settings: `TRACES`, `METRICS`, `LOGS`.
    const ENV: &'static str;
    /// The gRPC method.
    const GRPC_PATH: &'static str;
    /// The partial success of an answer.
    fn accepted(response: Self::Response) -> Accepted;
    /// The items a request carries.
    fn items(request: &Self::Request) -> u64;
}

/// Spans: `TraceService/Export`.
#[derive(Debug)]
pub struct Traces;
/// Metric data points: `MetricsService/Export`.
#[derive(Debug)]
pub struct Metrics;
/// Log records: `LogsService/Export`.
#[derive(Debug)]
pub struct Logs;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Traces {}
    impl Sealed for super::Metrics {}
    impl Sealed for super::Logs {}
}

fn accepted(rejected: i64, message: String) -> Accepted {
    Accepted {
        rejected: u64::try_from(rejected).unwrap_or(0),
        message,
    }
}

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const NAME: &'static str = "traces";
    const ITEMS: &'static str = "spans";
    const ENV: &'static str = "TRACES";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn accepted(response: Self::Response) -> Accepted {
        response
            .partial_success
            .map(|p| accepted(p.rejected_spans, p.error_message))
            .unwrap_or_default()
    }

    fn items(request: &Self::Request) -> u64 {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        spans as u64
    }
}

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const NAME: &'static str = "metrics";
    const ITEMS: &'static str = "data points";
    const ENV: &'static str = "METRICS";
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    fn accepted(response: Self::Response) -> Accepted {
        response
            .partial_success
            .map(|p| accepted(p.rejected_data_points, p.error_message))
            .unwrap_or_default()
    }

    fn items(request: &Self::Request) -> u64 {
        let points: usize = request
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(metric::Data::Gauge(g)) => g.data_points.len(),
                Some(metric::Data::Sum(s)) => s.data_points.len(),
                Some(metric::Data::Histogram(h)) => h.data_points.len(),
                Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(metric::Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum();
        points as u64
    }
}

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const NAME: &'static str = "logs";
    const ITEMS: &'static str = "log records";
    const ENV: &'static str = "LOGS";
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

    fn accepted(response: Self::Response) -> Accepted {
        response
            .partial_success
            .map(|p| accepted(p.rejected_log_records, p.error_message))
            .unwrap_or_default()
    }

    fn items(request: &Self::Request) -> u64 {
        let records: usize = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        records as u64
    }
}
