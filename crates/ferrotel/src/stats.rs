//! Counts of what each span pipeline did with the spans it was handed, so nothing is lost
//! silently: spans dropped because the queue was full, and spans whose export failed, are
//! counted and reported by the guard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Live counters of one span pipeline (one exporter).
#[derive(Debug, Default)]
pub(crate) struct PipelineCounters {
    /// Spans handed to the batch processor.
    pub(crate) queued: AtomicU64,
    /// Spans the exporter accepted.
    pub(crate) exported: AtomicU64,
    /// Spans in batches the exporter failed or timed out on.
    pub(crate) failed: AtomicU64,
    /// Spans the collector accepted the request of but rejected (OTLP partial success).
    pub(crate) rejected: AtomicU64,
    /// The last export error, for the report.
    pub(crate) last_error: Mutex<Option<String>>,
}

impl PipelineCounters {
    pub(crate) fn record_failure(&self, spans: u64, error: String) {
        self.failed.fetch_add(spans, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }
}

/// A snapshot of one span pipeline's counters; see [`crate::Guard::span_export_stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanExportStats {
    /// The exporter: `otlp` or `console`.
    pub exporter: &'static str,
    /// Spans handed to the batch processor.
    pub queued: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans in batches whose export failed (refused, unreachable, timed out).
    pub failed: u64,
    /// Spans of exported requests that the collector rejected (`rejected_spans` of an OTLP
    /// partial success), counted within `exported`. Seen on the HTTP protocols; opentelemetry-otlp's
    /// gRPC client does not hand its answer over, so over gRPC this stays 0.
    pub rejected: u64,
    /// Spans not yet accounted for: still queued while running, and after shutdown, the ones
    /// the full queue (`OTEL_BSP_MAX_QUEUE_SIZE`) dropped.
    pub unaccounted: u64,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

/// One pipeline's name and counters.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(crate) exporter: &'static str,
    pub(crate) counters: Arc<PipelineCounters>,
}

impl Pipeline {
    pub(crate) fn snapshot(&self) -> SpanExportStats {
        let c = &self.counters;
        let queued = c.queued.load(Ordering::Relaxed);
        let exported = c.exported.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        SpanExportStats {
            exporter: self.exporter,
            queued,
            exported,
            failed,
            rejected: c.rejected.load(Ordering::Relaxed),
            unaccounted: queued.saturating_sub(exported + failed),
            last_error: c.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}
