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
use opentelemetry::context::FutureExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord,
    SdkLoggerProvider,
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
        builder = builder.with_log_processor(Counted {
            inner: BatchLogProcessor::builder(exporter)
                .with_batch_config(batch_config)
                .build(),
            counters: Arc::clone(&counters),
            capacity: batch.max_queue_size as u64,
            shut_down: AtomicBool::new(false),
        });
        pipelines.push(Pipeline {
            exporter: name,
            counters,
            capacity: batch.max_queue_size as u64,
        });
    }
    Ok((Some(builder.build()), pipelines))
}

/// Admits log records into the batch processor and counts them, as `traces.rs` does for
/// spans: a record that would not fit in the queue (`OTEL_BLRP_MAX_QUEUE_SIZE`) is refused and
/// counted here, so the SDK's processor, which only logs its first drop, never drops one
/// silently.
#[derive(Debug)]
struct Counted {
    inner: BatchLogProcessor,
    counters: Arc<PipelineCounters>,
    capacity: u64,
    shut_down: AtomicBool,
}

impl LogProcessor for Counted {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        let c = &self.counters;
        c.queued.fetch_add(1, Ordering::Relaxed);
        if self.shut_down.load(Ordering::Acquire) {
            c.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let admitted = c
            .in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            // Only counted here, on the service's thread: the next export reports it.
            c.record_queue_full();
            return;
        }
        self.inner.emit(record, scope);
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
        let c = &self.counters;
        c.report_queue_full();
        // Out of the queue, into the export: never in both, never in neither.
        c.in_flight.fetch_add(records, Ordering::AcqRel);
        let _ = c
            .in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(records))
            });
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
                c.exported.fetch_add(records, Ordering::Relaxed);
            }
            Err(e) => {
                let timed_out = matches!(e, OTelSdkError::Timeout(_));
                c.record_failure(records, e.to_string(), timed_out);
            }
        }
        c.in_flight.fetch_sub(records, Ordering::AcqRel);
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
