//! Counts of what each span pipeline did with the spans it was handed, so nothing is lost
//! silently. Every span that ends is in exactly one place at any moment:
//!
//! `ended = exported + failed + dropped_queue_full + dropped_after_shutdown + in_queue + in_flight`
//!
//! ferrotel admits spans into the SDK's batch queue itself (counting the ones a full queue
//! refuses, which the SDK only logs once), and counts every export's spans while it runs and
//! when it ends, so a span stuck in an export that never returns is told apart from one the
//! full queue dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferrotel_config::redact::Redactor;

use crate::health::LossReporter;

/// Live counters of one span pipeline (one exporter).
#[derive(Debug, Default)]
pub(crate) struct PipelineCounters {
    /// Spans that ended and reached the pipeline (admitted or dropped).
    pub(crate) queued: AtomicU64,
    /// Spans the exporter accepted.
    pub(crate) exported: AtomicU64,
    /// Spans in batches the exporter failed on.
    pub(crate) failed: AtomicU64,
    /// Of `failed`, those whose export ran out of time.
    pub(crate) failed_timeout: AtomicU64,
    /// Spans refused because the queue was full (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub(crate) dropped_queue_full: AtomicU64,
    /// `dropped_queue_full` when it was last reported.
    pub(crate) reported_queue_full: AtomicU64,
    /// Spans that ended after the pipeline was shut down.
    pub(crate) dropped_after_shutdown: AtomicU64,
    /// Spans admitted into the queue and not yet handed to the exporter.
    pub(crate) in_queue: AtomicU64,
    /// Spans handed to the exporter whose export has not finished.
    pub(crate) in_flight: AtomicU64,
    /// Spans the collector accepted the request of but rejected (OTLP partial success).
    pub(crate) rejected: AtomicU64,
    /// The last export error, for the report (secrets scrubbed).
    pub(crate) last_error: Mutex<Option<String>>,
    /// Scrubs secrets out of error texts.
    pub(crate) redactor: Redactor,
    /// Reports losses while they happen.
    pub(crate) reporter: Option<Arc<LossReporter>>,
    /// What the pipeline carries, in loss reports; empty means spans.
    pub(crate) signal: &'static str,
}

impl PipelineCounters {
    /// Counters that scrub with `redactor` and report losses to `reporter`.
    pub(crate) fn new(redactor: Redactor, reporter: Option<Arc<LossReporter>>) -> Self {
        Self {
            redactor,
            reporter,
            ..Self::default()
        }
    }

    /// The same counters for a log pipeline: losses are reported as log records.
    pub(crate) fn for_logs(mut self) -> Self {
        self.signal = "log records";
        self
    }

    pub(crate) fn record_failure(&self, spans: u64, error: String, timed_out: bool) {
        self.failed.fetch_add(spans, Ordering::Relaxed);
        if timed_out {
            self.failed_timeout.fetch_add(spans, Ordering::Relaxed);
        }
        let error = self.redactor.scrub(&error).into_owned();
        if let Some(reporter) = &self.reporter {
            let signal = if self.signal.is_empty() {
                "spans"
            } else {
                self.signal
            };
            reporter.loss(signal, &error);
        }
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }

    /// Counts a span the full queue refused. Called on the service's thread while a span
    /// ends, so it only counts: the warning is written by the next export
    /// ([`PipelineCounters::report_queue_full`]), never from inside the service's tracing.
    pub(crate) fn record_queue_full(&self) {
        self.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
    }

    /// Reports the queue-full drops counted since the last report, if any (export thread).
    pub(crate) fn report_queue_full(&self) {
        let dropped = self.dropped_queue_full.load(Ordering::Relaxed);
        let before = self.reported_queue_full.swap(dropped, Ordering::Relaxed);
        if dropped > before {
            if let Some(reporter) = &self.reporter {
                let (signal, variable) = if self.signal.is_empty() {
                    ("spans", "OTEL_BSP_MAX_QUEUE_SIZE")
                } else {
                    (self.signal, "OTEL_BLRP_MAX_QUEUE_SIZE")
                };
                reporter.loss(
                    signal,
                    &format!(
                        "{} {signal} dropped because the batch queue was full (the exporter \
                         cannot keep up; {variable})",
                        dropped - before
                    ),
                );
            }
        }
    }
}

/// A snapshot of one span pipeline's counters; see [`crate::Guard::span_export_stats`].
///
/// `queued = exported + failed + dropped_queue_full + dropped_after_shutdown + in_queue +
/// in_flight`, exactly whenever no export is finishing at the moment of the snapshot (always
/// after a flush or shutdown).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanExportStats {
    /// The exporter: `otlp` or `console`.
    pub exporter: &'static str,
    /// Spans that ended and reached the pipeline.
    pub queued: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans in batches whose export failed (refused, unreachable, timed out).
    pub failed: u64,
    /// Spans of exported requests that the collector rejected (`rejected_spans` of an OTLP
    /// partial success), counted within `exported`, over every protocol.
    pub rejected: u64,
    /// Spans the full queue (`OTEL_BSP_MAX_QUEUE_SIZE`) refused.
    pub dropped_queue_full: u64,
    /// Spans that ended after shutdown.
    pub dropped_after_shutdown: u64,
    /// Spans waiting in the queue.
    pub in_queue: u64,
    /// Spans in an export that has not finished (after shutdown: one that never returned).
    pub in_flight: u64,
    /// Spans not yet exported or counted as lost: `in_queue + in_flight` while running, and
    /// after shutdown what it could not flush within its bound, plus every drop.
    pub unaccounted: u64,
    /// The last export error, if any (secrets redacted).
    pub last_error: Option<String>,
}

impl SpanExportStats {
    /// Spans lost for any reason: failed exports and drops.
    pub fn lost(&self) -> u64 {
        self.failed + self.dropped_queue_full + self.dropped_after_shutdown
    }
}

/// One pipeline's name and counters.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) exporter: &'static str,
    pub(crate) counters: Arc<PipelineCounters>,
    /// The queue's capacity (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub(crate) capacity: u64,
}

impl Pipeline {
    pub(crate) fn snapshot(&self) -> SpanExportStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let dropped_queue_full = load(&c.dropped_queue_full);
        let dropped_after_shutdown = load(&c.dropped_after_shutdown);
        let in_queue = load(&c.in_queue);
        let in_flight = load(&c.in_flight);
        SpanExportStats {
            exporter: self.exporter,
            queued: load(&c.queued),
            exported: load(&c.exported),
            failed: load(&c.failed),
            dropped_queue_full,
            dropped_after_shutdown,
            in_queue,
            in_flight,
            rejected: c.rejected.load(Ordering::Relaxed),
            unaccounted: in_queue + in_flight + dropped_queue_full + dropped_after_shutdown,
            last_error: c.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}
