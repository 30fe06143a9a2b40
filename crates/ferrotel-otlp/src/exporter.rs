//! The OTLP exporter of a batch signal (spans, log records): its sender, the resource it
//! stamps on every request, and the counters its partial successes go to.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferrotel_config::OtlpConfig;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::SetupError;
use crate::pipeline::PipelineCounters;
use crate::sender::Sender;
use crate::signal::Signal;

/// Exports the items of signal `S` with OTLP over the protocol its settings name, and counts
/// the items a collector rejects in a partial success (which the SDK's own exporters only
/// log). Used as [`OtlpSpanExporter`](crate::OtlpSpanExporter) and
/// [`OtlpLogExporter`](crate::OtlpLogExporter).
#[derive(Debug)]
pub struct OtlpBatchExporter<S> {
    sender: Sender<S>,
    pub(crate) resource: ResourceAttributesWithSchema,
    counters: Arc<PipelineCounters>,
    shut_down: AtomicBool,
    signal: PhantomData<fn() -> S>,
}

impl<S: Signal> OtlpBatchExporter<S> {
    /// An exporter for the signal's settings, sending on `runtime`; rejected items are counted
    /// into `counters`.
    pub fn new(
        otlp: &OtlpConfig,
        runtime: &Handle,
        counters: Arc<PipelineCounters>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            sender: Sender::new(otlp, runtime)?,
            resource: ResourceAttributesWithSchema::default(),
            counters,
            shut_down: AtomicBool::new(false),
            signal: PhantomData,
        })
    }

    /// The endpoint, secrets hidden.
    pub fn target(&self) -> &str {
        self.sender.target()
    }

    /// Sends one request unless shut down; a partial success is not retried, only counted.
    pub(crate) async fn send(&self, request: S::Request) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match self.sender.send(request).await {
            Ok(accepted) => {
                self.counters
                    .record_rejected(accepted.rejected, &accepted.message);
                Ok(())
            }
            Err(error) => {
                if error.unsupported {
                    self.counters.mark_unsupported(&error.message);
                }
                Err(OTelSdkError::InternalFailure(error.message))
            }
        }
    }

    pub(crate) fn shut_down(&self) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
