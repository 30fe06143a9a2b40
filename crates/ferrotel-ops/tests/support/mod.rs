//! What the ferrotel-ops wire tests share: one "process" (tracer provider, meter provider,
//! exemplar store) per Raft node, each exporting over OTLP/gRPC to the one in-process
//! receiver, and readers for what arrived.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ferrotel_metrics::{ExemplarFilter, Exemplars, MetricsTransport, OtlpMetricExporter};
use ferrotel_ops::OpsTelemetry;
use ferrotel_testkit::opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use ferrotel_testkit::{ReceivedMetric, Receiver};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// How long a test waits for data to reach the receiver before it fails.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// One node's telemetry pipelines. Call inside a multi-thread tokio runtime.
pub(crate) struct NodeTelemetry {
    pub(crate) service: String,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) telemetry: OpsTelemetry,
}

impl NodeTelemetry {
    /// Pipelines for the process `service`, exporting to `receiver`.
    pub(crate) fn new(receiver: &Receiver, service: &str) -> Self {
        let resource = Resource::builder()
            .with_service_name(service.to_owned())
            .build();
        let span_exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(receiver.grpc_endpoint())
            .build()
            .unwrap();
        let tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_batch_exporter(span_exporter)
            .build();
        let exemplars = Exemplars::new(ExemplarFilter::TraceBased);
        let channel = tonic::transport::Endpoint::from_shared(receiver.grpc_endpoint())
            .unwrap()
            .connect_lazy();
        let exporter = OtlpMetricExporter::new(
            MetricsTransport::Grpc {
                channel,
                metadata: Default::default(),
                gzip: false,
                timeout: Some(Duration::from_secs(10)),
            },
            exemplars.clone(),
            Temporality::Cumulative,
            tokio::runtime::Handle::current(),
        );
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(PeriodicReader::builder(exporter).build())
            .build();
        let telemetry = OpsTelemetry::new(Some(&tracer_provider), Some(&meter_provider), exemplars);
        NodeTelemetry {
            service: service.to_owned(),
            tracer_provider,
            meter_provider,
            telemetry,
        }
    }

    /// Exports every finished span and the current metrics, off the async workers (the
    /// exporters run on them).
    pub(crate) async fn flush(&self) {
        let traces = self.tracer_provider.clone();
        let metrics = self.meter_provider.clone();
        tokio::task::spawn_blocking(move || {
            traces.force_flush().unwrap();
            metrics.force_flush().unwrap();
        })
        .await
        .unwrap();
    }
}

/// The metrics named `name` exported by `service`, newest export last.
pub(crate) fn metrics_of(receiver: &Receiver, service: &str, name: &str) -> Vec<ReceivedMetric> {
    receiver
        .metrics()
        .into_iter()
        .filter(|m| m.name() == name && m.resource_attr("service.name").as_deref() == Some(service))
        .collect()
}

/// The latest value of a counter or gauge `name` of `service` whose point has every
/// attribute in `attrs` (rendered as strings); `None` when absent.
pub(crate) fn latest_value(
    receiver: &Receiver,
    service: &str,
    name: &str,
    attrs: &[(&str, &str)],
) -> Option<i64> {
    let metric = metrics_of(receiver, service, name).pop()?;
    let points = match metric.metric.data? {
        Data::Sum(s) => s.data_points,
        Data::Gauge(g) => g.data_points,
        other => panic!("{name} is not a sum or gauge: {other:?}"),
    };
    points
        .iter()
        .find(|p| {
            attrs
                .iter()
                .all(|(k, v)| ferrotel_testkit::find_attr(&p.attributes, k).as_deref() == Some(*v))
        })
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            Some(number_data_point::Value::AsDouble(v)) => v as i64,
            None => panic!("{name} point without a value"),
        })
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
