//! The OTLP log record exporter.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::Resource;

use crate::exporter::OtlpBatchExporter;
use crate::signal::Logs;

/// Exports log records with OTLP; see [`OtlpBatchExporter`].
pub type OtlpLogExporter = OtlpBatchExporter<Logs>;

impl LogExporter for OtlpLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        // Converted before the first await: the batch only borrows the records.
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(&batch, &self.resource),
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
