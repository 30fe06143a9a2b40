//! The logs signal: `tracing` events (and `log` records, through `tracing-log`) become
//! OpenTelemetry log records, with the trace and span ids of the span they were written in,
//! batched (`OTEL_BLRP_*`) and exported by the exporters of `OTEL_LOGS_EXPORTER`.
//!
//! The bridge is `opentelemetry-appender-tracing`'s layer; the ids come from the OpenTelemetry
//! context that tracing-opentelemetry attaches while a span is entered. The log lines ferrotel
//! writes to standard output are a separate layer and do not change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::{Config, LogsExporter};
use ferrotel_otlp::{BatchSignal, LossReporter, OtlpLogExporter, PipelineCounters};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord,
    SdkLoggerProvider,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use super::Pipeline;
use crate::error::InitError;

/// Builds the logger provider (`None` when `OTEL_LOGS_EXPORTER=none`) and the counters of each
/// of its pipelines. Must run inside the export runtime's context.
pub(crate) fn logger_provider(
    config: &Config,
    resource: Resource,
    handle: &Handle,
    reporter: &Arc<LossReporter>,
    notes: &mut Vec<String>,
) -> Result<(Option<SdkLoggerProvider>, Vec<Pipeline>), InitError> {
    if config.logs_exporter.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut pipelines = Vec::new();
    let mut builder = SdkLoggerProvider::builder().with_resource(resource);
    let batch = &config.logs_batch;
    for choice in &config.logs_exporter {
        let (name, otlp) = match choice {
            LogsExporter::Otlp => ("otlp", true),
            LogsExporter::Console => ("console", false),
        };
        let pipeline = Pipeline::new(BatchSignal::Logs, name, batch, config, reporter);
        let exporter = if otlp {
            match OtlpLogExporter::new(&config.logs_otlp, handle, Arc::clone(&pipeline.counters)) {
                Ok(otlp) => AnyLogExporter::Otlp(Box::new(otlp)),
                // Not the service's fault (an unreadable TLS file): outside strict mode this
                // exporter is off and the problem reported, as for spans and metrics.
                Err(e) if !config.strict => {
                    notes.push(format!("OTLP log export is off for this run: {e}"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            AnyLogExporter::Console(opentelemetry_stdout::LogExporter::default())
        };
        let batch_config = BatchConfigBuilder::default()
            .with_max_queue_size(batch.max_queue_size)
            .with_max_export_batch_size(batch.max_export_batch_size)
            .with_scheduled_delay(batch.schedule_delay)
            .build();
        let exporter = pipeline.on_runtime(exporter, handle, batch);
        builder = builder.with_log_processor(Counted {
            inner: BatchLogProcessor::builder(exporter)
                .with_batch_config(batch_config)
                .build(),
            counters: Arc::clone(&pipeline.counters),
            shut_down: AtomicBool::new(false),
        });
        pipelines.push(pipeline);
    }
    Ok((Some(builder.build()), pipelines))
}

/// Admits log records into the batch processor and counts them, as the span pipeline does: a
/// record that would not fit in the queue (`OTEL_BLRP_MAX_QUEUE_SIZE`) is refused and counted
/// here, so the SDK's processor, which only logs its first drop, never drops one silently.
#[derive(Debug)]
struct Counted {
    inner: BatchLogProcessor,
    counters: Arc<PipelineCounters>,
    shut_down: AtomicBool,
}

impl LogProcessor for Counted {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if self.counters.admit(self.shut_down.load(Ordering::Acquire)) {
            self.inner.emit(record, scope);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The exporters ferrotel can put behind a batch log processor.
#[derive(Debug)]
enum AnyLogExporter {
    Otlp(Box<OtlpLogExporter>),
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
