//! The OTLP span exporter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::OtlpConfig;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::SetupError;
use crate::pipeline::PipelineCounters;
use crate::sender::Sender;
use crate::signal::Traces;

/// Exports spans with OTLP over the protocol its settings name, and counts the spans a
/// collector rejects in a partial success (which the SDK's own exporter only logs).
#[derive(Debug)]
pub struct OtlpSpanExporter {
    sender: Sender<Traces>,
    resource: ResourceAttributesWithSchema,
    counters: Arc<PipelineCounters>,
    shut_down: AtomicBool,
}

impl OtlpSpanExporter {
    /// An exporter for the traces signal's settings, sending on `runtime`; rejected spans are
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

impl SpanExporter for OtlpSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        match self.sender.send(request).await {
            Ok(accepted) => {
                // A partial success is not retried, only counted.
                self.counters
                    .record_rejected(accepted.rejected, &accepted.message);
                Ok(())
            }
            Err(message) => Err(OTelSdkError::InternalFailure(message)),
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
