//! The OTLP span exporter.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::exporter::OtlpBatchExporter;
use crate::signal::Traces;

/// Exports spans with OTLP; see [`OtlpBatchExporter`].
pub type OtlpSpanExporter = OtlpBatchExporter<Traces>;

impl SpanExporter for OtlpSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        self.send(request).await
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down()
    }

    fn set_resource(&mut self, resource: &Resource) {
        OtlpBatchExporter::set_resource(self, resource);
    }
}
