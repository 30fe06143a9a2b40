//! The logs signal: `tracing` events (and `log` records, through `tracing-log`) become
//! OpenTelemetry log records, with the trace and span ids of the span they were written in,
//! batched (`OTEL_BLRP_*`) and exported by the exporters of `OTEL_LOGS_EXPORTER`.
//!
//! The bridge is `opentelemetry-appender-tracing`'s layer; the ids come from the OpenTelemetry
//! context that tracing-opentelemetry attaches while a span is entered. The log lines ferrotel
//! writes to standard output are a separate layer and do not change.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::{Config, LogsExporter};
use opentelemetry::context::FutureExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, SdkLogRecord, SdkLoggerProvider,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::InitError;
use crate::runtime::with_deadline;
use crate::stats::{Pipeline, PipelineCounters};

/// Builds the logger provider (`None` when `OTEL_LOGS_EXPORTER=none`) and the counters of each
/// of its pipelines. Must run inside the export runtime's context.
pub(crate) fn logger_provider(
    config: &Config,
    resource: Resource,
    handle: &Handle,
    reporter: Option<Arc<crate::health::LossReporter>>,
) -> Result<(Option<SdkLoggerProvider>, Vec<Pipeline>), InitError> {
    if config.logs_exporter.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut pipelines = Vec::new();
    let mut builder = SdkLoggerProvider::builder().with_resource(resource);
    for choice in &config.logs_exporter {
        let (name, exporter) = match choice {
            LogsExporter::Otlp => (
                "otlp",
                AnyLogExporter::Otlp(Box::new(crate::otlp::log_exporter(
                    &config.logs_otlp,
                    handle,
                )?)),
            ),
            LogsExporter::Console => (
                "console",
                AnyLogExporter::Console(opentelemetry_stdout::LogExporter::default()),
            ),
        };
        // As for spans: export errors are scrubbed of secrets and losses reported while
        // they happen.
        let counters = Arc::new(
            PipelineCounters::new(
                ferrotel_config::redact::Redactor::from_config(config),
                reporter.clone(),
            )
            .for_logs(),
        );
        let batch = &config.logs_batch;
        let batch_config = BatchConfigBuilder::default()
            .with_max_queue_size(batch.max_queue_size)
            .with_max_export_batch_size(batch.max_export_batch_size)
            .with_scheduled_delay(batch.schedule_delay)
            .build();
        let exporter = OnExportRuntime {
            inner: Arc::new(exporter),
            handle: handle.clone(),
            timeout: batch.export_timeout,
            counters: Arc::clone(&counters),
        };
        builder = builder.with_log_processor(
            BatchLogProcessor::builder(exporter)
                .with_batch_config(batch_config)
                .build(),
        );
        pipelines.push(Pipeline {
            exporter: name,
            counters,
            capacity: batch.max_queue_size as u64,
        });
    }
    Ok((Some(builder.build()), pipelines))
}

/// The exporters ferrotel can put behind a batch log processor.
#[derive(Debug)]
enum AnyLogExporter {
    Otlp(Box<opentelemetry_otlp::LogExporter>),
    Console(opentelemetry_stdout::LogExporter),
}

impl LogExporter for AnyLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        match self {
            AnyLogExporter::Otlp(e) => e.export(batch).await,
            AnyLogExporter::Console(e) => e.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            AnyLogExporter::Otlp(e) => e.shutdown_with_timeout(timeout),
            AnyLogExporter::Console(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            AnyLogExporter::Otlp(e) => e.set_resource(resource),
            AnyLogExporter::Console(e) => e.set_resource(resource),
        }
    }
}

/// Runs every export on the export runtime (the SDK's processor thread has no tokio runtime),
/// bounded by `OTEL_BLRP_EXPORT_TIMEOUT`, with telemetry suppressed so that what the transport
/// logs while exporting does not become log records itself, and counts the outcome.
#[derive(Debug)]
struct OnExportRuntime {
    inner: Arc<AnyLogExporter>,
    handle: Handle,
    timeout: Option<Duration>,
    counters: Arc<PipelineCounters>,
}

impl LogExporter for OnExportRuntime {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        // The batch borrows the processor's buffer; the export task needs its own copy.
        let owned: Vec<(SdkLogRecord, InstrumentationScope)> = batch
            .iter()
            .map(|(record, scope)| (record.clone(), scope.clone()))
            .collect();
        let records = owned.len() as u64;
        self.counters.queued.fetch_add(records, Ordering::Relaxed);
        let inner = Arc::clone(&self.inner);
        let handle = self.handle.clone();
        let timeout = self.timeout;
        let suppressed = opentelemetry::Context::current().with_telemetry_suppressed();
        let task = self.handle.spawn(
            async move {
                let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> = owned
                    .iter()
                    .map(|(record, scope)| (record, scope))
                    .collect();
                match with_deadline(&handle, timeout, inner.export(LogBatch::new(&refs))).await {
                    Ok(result) => result,
                    Err(_) => Err(OTelSdkError::Timeout(timeout.unwrap_or_default())),
                }
            }
            .with_context(suppressed),
        );
        let result = match task.await {
            Ok(result) => result,
            Err(e) => Err(OTelSdkError::InternalFailure(format!(
                "export task failed: {e}"
            ))),
        };
        match &result {
            Ok(()) => {
                self.counters.exported.fetch_add(records, Ordering::Relaxed);
            }
            Err(e) => self.counters.record_failure(records, e.to_string(), false),
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once while the provider is built, before any export holds a clone.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}
