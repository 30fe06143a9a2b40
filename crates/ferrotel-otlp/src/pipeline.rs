//! Counts of what each batch pipeline (spans or log records) did with the items it was handed,
//! so nothing is lost silently. Every item is in exactly one place at any moment:
//!
//! `queued = exported + failed + dropped_queue_full + dropped_after_shutdown + in_queue + in_flight`
//!
//! ferrotel admits items into the SDK's batch queue itself ([`PipelineCounters::admit`]),
//! counting the ones a full queue refuses (which the SDK only logs once), and counts every
//! export's items while it runs and when it ends ([`OnExportRuntime`]), so an item stuck in an
//! export that never returns is told apart from one the full queue dropped.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferrotel_config::redact::Redactor;
use opentelemetry::context::FutureExt as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::loss::LossReporter;
use crate::runtime::with_deadline;

/// What a batch pipeline carries: names its items and its variables in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSignal {
    /// Spans (`OTEL_BSP_*`).
    Spans,
    /// Log records (`OTEL_BLRP_*`).
    Logs,
}

impl BatchSignal {
    /// `spans` or `log records`.
    pub fn items(self) -> &'static str {
        match self {
            BatchSignal::Spans => "spans",
            BatchSignal::Logs => "log records",
        }
    }

    /// The variable that sizes the queue.
    fn queue_variable(self) -> &'static str {
        match self {
            BatchSignal::Spans => "OTEL_BSP_MAX_QUEUE_SIZE",
            BatchSignal::Logs => "OTEL_BLRP_MAX_QUEUE_SIZE",
        }
    }
}

/// Live counters of one batch pipeline (one exporter).
#[derive(Debug)]
pub struct PipelineCounters {
    signal: BatchSignal,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` / `OTEL_BLRP_MAX_QUEUE_SIZE`.
    capacity: u64,
    queued: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    failed_timeout: AtomicU64,
    dropped_queue_full: AtomicU64,
    /// `dropped_queue_full` when it was last reported.
    reported_queue_full: AtomicU64,
    dropped_after_shutdown: AtomicU64,
    in_queue: AtomicU64,
    in_flight: AtomicU64,
    rejected: AtomicU64,
    /// The last export error, for the report (secrets scrubbed).
    last_error: Mutex<Option<String>>,
    redactor: Redactor,
    reporter: Option<Arc<LossReporter>>,
    /// Set when the endpoint does not serve the signal: the message with the fix, told once.
    unsupported: OnceLock<String>,
}

impl PipelineCounters {
    /// Counters of a pipeline whose queue holds `capacity` items; errors are scrubbed with
    /// `redactor` and losses reported to `reporter`.
    pub fn new(
        signal: BatchSignal,
        capacity: usize,
        redactor: Redactor,
        reporter: Option<Arc<LossReporter>>,
    ) -> Self {
        Self {
            signal,
            capacity: capacity as u64,
            queued: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failed_timeout: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            reported_queue_full: AtomicU64::new(0),
            dropped_after_shutdown: AtomicU64::new(0),
            in_queue: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            last_error: Mutex::new(None),
            redactor,
            reporter,
            unsupported: OnceLock::new(),
        }
    }

    /// The endpoint does not serve this signal at all: `message` (which names the fix) is
    /// told once, and the failures that follow are counted without another warning.
    pub fn mark_unsupported(&self, message: &str) {
        let message = self.redactor.scrub(message).into_owned();
        if self.unsupported.set(message.clone()).is_ok() {
            if let Some(reporter) = &self.reporter {
                reporter.warn_now(&message);
            }
        }
    }

    /// Counts an item that reached the pipeline and takes a queue slot for it. `false`: the
    /// item must be dropped, and was counted so (after shutdown, or with the queue full). Only
    /// counts: a full queue is reported by the next export, never from inside the service's
    /// own tracing.
    pub fn admit(&self, shut_down: bool) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        if shut_down {
            self.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let admitted = self
            .in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// An admitted item that will not reach the exporter after all: counted as failed.
    pub fn fail_admitted(&self, reason: String) {
        self.in_queue.fetch_sub(1, Ordering::AcqRel);
        self.record_failure(1, reason, false);
    }

    /// Items of an accepted request that the collector rejected (OTLP partial success).
    pub fn record_rejected(&self, rejected: u64, message: &str) {
        if rejected == 0 {
            return;
        }
        self.rejected.fetch_add(rejected, Ordering::Relaxed);
        let message = format!(
            "OTLP partial success: {rejected} {} rejected: {message}",
            self.signal.items()
        );
        self.set_last_error(self.redactor.scrub(&message).into_owned());
    }

    fn set_last_error(&self, message: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    fn record_failure(&self, items: u64, error: String, timed_out: bool) {
        self.failed.fetch_add(items, Ordering::Relaxed);
        if timed_out {
            self.failed_timeout.fetch_add(items, Ordering::Relaxed);
        }
        let error = self.redactor.scrub(&error).into_owned();
        if let (Some(reporter), None) = (&self.reporter, self.unsupported.get()) {
            reporter.loss(self.signal.items(), &error);
        }
        self.set_last_error(error);
    }

    /// Reports the queue-full drops counted since the last report, if any (export thread).
    fn report_queue_full(&self) {
        let dropped = self.dropped_queue_full.load(Ordering::Relaxed);
        let before = self.reported_queue_full.swap(dropped, Ordering::Relaxed);
        if dropped > before {
            if let Some(reporter) = &self.reporter {
                let items = self.signal.items();
                reporter.loss(
                    items,
                    &format!(
                        "{} {items} dropped because the batch queue was full (the exporter \
                         cannot keep up; {})",
                        dropped - before,
                        self.signal.queue_variable()
                    ),
                );
            }
        }
    }

    /// Runs one export of `items` items: out of the queue, into the export, and counted by its
    /// outcome, never in two places and never in none.
    async fn export<F>(&self, items: u64, export: F) -> OTelSdkResult
    where
        F: Future<Output = OTelSdkResult>,
    {
        self.report_queue_full();
        self.in_flight.fetch_add(items, Ordering::AcqRel);
        let _ = self
            .in_queue
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(items))
            });
        let result = export.await;
        match &result {
            Ok(()) => {
                self.exported.fetch_add(items, Ordering::Relaxed);
            }
            Err(e) => {
                let timed_out = matches!(e, OTelSdkError::Timeout(_));
                self.record_failure(items, e.to_string(), timed_out);
            }
        }
        self.in_flight.fetch_sub(items, Ordering::AcqRel);
        result
    }

    /// Items whose export failed, and of those the ones that ran out of time.
    pub fn failures(&self) -> (u64, u64) {
        (
            self.failed.load(Ordering::Relaxed),
            self.failed_timeout.load(Ordering::Relaxed),
        )
    }

    /// A snapshot, named after the exporter (`otlp`, `console`).
    pub fn snapshot(&self, exporter: &'static str) -> PipelineStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let dropped_queue_full = load(&self.dropped_queue_full);
        let dropped_after_shutdown = load(&self.dropped_after_shutdown);
        let in_queue = load(&self.in_queue);
        let in_flight = load(&self.in_flight);
        PipelineStats {
            signal: self.signal,
            exporter,
            queued: load(&self.queued),
            exported: load(&self.exported),
            failed: load(&self.failed),
            dropped_queue_full,
            dropped_after_shutdown,
            in_queue,
            in_flight,
            rejected: load(&self.rejected),
            unaccounted: in_queue + in_flight + dropped_queue_full + dropped_after_shutdown,
            capacity: self.capacity,
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            unsupported: self.unsupported.get().cloned(),
        }
    }
}

/// A snapshot of one batch pipeline (spans or log records) and its exporter.
///
/// `queued = exported + failed + dropped_queue_full + dropped_after_shutdown + in_queue +
/// in_flight`, exactly whenever no export is finishing at the moment of the snapshot (always
/// after a flush or shutdown).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipelineStats {
    /// Spans or log records.
    pub signal: BatchSignal,
    /// The exporter: `otlp` or `console`.
    pub exporter: &'static str,
    /// Items that reached the pipeline.
    pub queued: u64,
    /// Items the exporter accepted.
    pub exported: u64,
    /// Items in batches whose export failed (refused, unreachable, timed out).
    pub failed: u64,
    /// Items of accepted requests that the collector rejected (OTLP partial success), counted
    /// within `exported`.
    pub rejected: u64,
    /// Items the full queue refused.
    pub dropped_queue_full: u64,
    /// Items that arrived after shutdown.
    pub dropped_after_shutdown: u64,
    /// Items waiting in the queue.
    pub in_queue: u64,
    /// Items in an export that has not finished (after shutdown: one that never returned).
    pub in_flight: u64,
    /// Items not yet exported or counted as lost: `in_queue + in_flight` while running, and
    /// after shutdown what it could not flush within its bound, plus every drop.
    pub unaccounted: u64,
    /// The queue's capacity.
    pub capacity: u64,
    /// The last export error, if any (secrets redacted).
    pub last_error: Option<String>,
    /// Why the endpoint took none of these items, when it does not serve the signal (gRPC
    /// `UNIMPLEMENTED`, HTTP 404: a bare Jaeger takes traces only), with the fix.
    pub unsupported: Option<String>,
}

impl PipelineStats {
    /// Items lost for any reason: failed exports and drops.
    pub fn lost(&self) -> u64 {
        self.failed + self.dropped_queue_full + self.dropped_after_shutdown
    }

    /// What went wrong, one sentence each, for a shutdown report bounded by `bound`.
    pub fn problems(&self, bound: Duration) -> Vec<String> {
        let items = self.signal.items();
        let (queued, exporter) = (self.queued, self.exporter);
        let mut problems = Vec::new();
        if self.unsupported.is_some() {
            problems.push(format!(
                "{} of {queued} {items} were not sent: the endpoint does not accept them \
                 ({exporter} exporter; see the warning above)",
                self.failed
            ));
        } else if self.failed > 0 {
            problems.push(format!(
                "{} of {queued} {items} failed to export ({exporter} exporter; last error: {})",
                self.failed,
                self.last_error.as_deref().unwrap_or("unknown")
            ));
        }
        if self.rejected > 0 {
            problems.push(format!(
                "{} of {queued} {items} were rejected by the collector (OTLP partial success; \
                 {exporter} exporter)",
                self.rejected
            ));
        }
        if self.dropped_queue_full > 0 {
            problems.push(format!(
                "{} of {queued} {items} were dropped because the queue was full ({exporter} \
                 exporter): the exporter could not keep up (raise {} only if the collector is \
                 healthy)",
                self.dropped_queue_full,
                self.signal.queue_variable()
            ));
        }
        if self.dropped_after_shutdown > 0 {
            problems.push(format!(
                "{} {items} arrived after shutdown and were dropped ({exporter} exporter)",
                self.dropped_after_shutdown
            ));
        }
        if self.in_flight > 0 {
            problems.push(format!(
                "{} of {queued} {items} were lost in an export that had not returned when \
                 shutdown hit its {bound:?} bound ({exporter} exporter): the collector did not \
                 answer",
                self.in_flight
            ));
        }
        if self.in_queue > 0 {
            problems.push(format!(
                "{} of {queued} {items} were still queued when shutdown hit its {bound:?} bound \
                 ({exporter} exporter)",
                self.in_queue
            ));
        }
        problems
    }
}

/// Runs every export of the wrapped exporter on the export runtime (the SDK's processor
/// threads have no tokio runtime), bounded by the batch export timeout (`OTEL_BSP_EXPORT_TIMEOUT`
/// / `OTEL_BLRP_EXPORT_TIMEOUT`, which the SDK's processors do not apply), with telemetry
/// suppressed so that what the transport logs does not become telemetry itself, and counts
/// the outcome in the pipeline's [`PipelineCounters`].
#[derive(Debug)]
pub struct OnExportRuntime<E> {
    inner: Arc<E>,
    handle: Handle,
    timeout: Option<Duration>,
    counters: Arc<PipelineCounters>,
}

impl<E: Send + Sync + 'static> OnExportRuntime<E> {
    /// Wraps `inner`; `timeout` bounds each export (`None`: no limit).
    pub fn new(
        inner: E,
        handle: Handle,
        timeout: Option<Duration>,
        counters: Arc<PipelineCounters>,
    ) -> Self {
        Self {
            inner: Arc::new(inner),
            handle,
            timeout,
            counters,
        }
    }

    /// Runs `export(inner)` on the runtime and counts its `items`.
    async fn run<F, Fut>(&self, items: u64, export: F) -> OTelSdkResult
    where
        F: FnOnce(Arc<E>) -> Fut,
        Fut: Future<Output = OTelSdkResult> + Send + 'static,
    {
        let handle = self.handle.clone();
        let timeout = self.timeout;
        let suppressed = opentelemetry::Context::current().with_telemetry_suppressed();
        let work = export(Arc::clone(&self.inner));
        let task = self.handle.spawn(
            async move {
                match with_deadline(&handle, timeout, work).await {
                    Ok(result) => result,
                    Err(_) => Err(OTelSdkError::Timeout(timeout.unwrap_or_default())),
                }
            }
            .with_context(suppressed),
        );
        let joined = async {
            match task.await {
                Ok(result) => result,
                Err(e) if e.is_cancelled() => Err(OTelSdkError::InternalFailure(
                    "the export had not returned when shutdown hit its bound (the collector \
                     did not answer); cut off"
                        .to_owned(),
                )),
                Err(e) => Err(OTelSdkError::InternalFailure(format!(
                    "export task failed: {e}"
                ))),
            }
        };
        self.counters.export(items, joined).await
    }

    /// The wrapped exporter, while no export holds it (provider construction).
    fn inner_mut(&mut self) -> Option<&mut E> {
        Arc::get_mut(&mut self.inner)
    }
}

impl<E: SpanExporter + 'static> SpanExporter for OnExportRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let items = batch.len() as u64;
        self.run(items, move |inner| async move { inner.export(batch).await })
            .await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once while the provider is built, before any export holds a clone.
        if let Some(inner) = self.inner_mut() {
            inner.set_resource(resource);
        }
    }
}

impl<E: LogExporter + 'static> LogExporter for OnExportRuntime<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        // The batch borrows the processor's buffer; the export task needs its own copy.
        let owned: Vec<(SdkLogRecord, InstrumentationScope)> = batch
            .iter()
            .map(|(record, scope)| (record.clone(), scope.clone()))
            .collect();
        let items = owned.len() as u64;
        self.run(items, move |inner| async move {
            let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> = owned
                .iter()
                .map(|(record, scope)| (record, scope))
                .collect();
            inner.export(LogBatch::new(&refs)).await
        })
        .await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = self.inner_mut() {
            inner.set_resource(resource);
        }
    }
}
