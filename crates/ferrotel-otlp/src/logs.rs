//! The OTLP log record exporter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::OtlpConfig;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::SetupError;
use crate::pipeline::PipelineCounters;
use crate::sender::Sender;
use crate::signal::Logs;

/// Exports log records with OTLP over the protocol its settings name, and counts the records
/// a collector rejects in a partial success.
#[derive(Debug)]
pub struct OtlpLogExporter {
    sender: Sender<Logs>,
    resource: ResourceAttributesWithSchema,
    counters: Arc<PipelineCounters>,
    shut_down: AtomicBool,
}

impl OtlpLogExporter {
    /// An exporter for the logs signal's settings, sending on `runtime`; rejected records are
    /// counted into `counters`.
    pub fn new(
        otlp: &OtlpConfig,
        runtime: &Handle,
        counters: Arc<PipelineCounters>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            sender: Sender::new(otlp, runtime)?.counting_attempts(Arc::clone(&counters)),
            resource: ResourceAttributesWithSchema::default(),
            counters,
            shut_down: AtomicBool::new(false),
        })
    }

    /// The endpoint, secrets hidden.
    pub fn target(&self) -> &str {
        self.sender.target()
    }
}

impl LogExporter for OtlpLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Converted before the first await: the batch only borrows the records.
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(&batch, &self.resource),
        };
        match self.sender.send(request).await {
            Ok(accepted) => {
                self.counters
                    .record_rejected(accepted.rejected, &accepted.message);
                Ok(())
            }
            Err(message) => Err(OTelSdkError::InternalFailure(message)),
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
