//! The storage instruments: one span and one set of metric records per operation, through
//! [`StorageOp`].

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ferrotel_config::StorageMetrics;
use ferrotel_metrics::{BoundCounter, BoundHistogram, CounterSeries, HistogramSeries};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use crate::names::{self, storage as n};
use crate::series_cache::SeriesCache;
use crate::OpsTelemetry;

/// An object-store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageOperation {
    /// Read an object (or a range of it).
    Get,
    /// Write an object.
    Put,
    /// Delete an object.
    Delete,
    /// List objects under a prefix.
    List,
    /// Read an object's metadata.
    Head,
    /// Copy an object.
    Copy,
}

/// Every operation, in declaration order.
const OPERATIONS: usize = 6;
const ALL_OPERATIONS: [StorageOperation; OPERATIONS] = [
    StorageOperation::Get,
    StorageOperation::Put,
    StorageOperation::Delete,
    StorageOperation::List,
    StorageOperation::Head,
    StorageOperation::Copy,
];

impl StorageOperation {
    /// The lower-case name (`get`).
    pub const fn name(self) -> &'static str {
        match self {
            StorageOperation::Get => "get",
            StorageOperation::Put => "put",
            StorageOperation::Delete => "delete",
            StorageOperation::List => "list",
            StorageOperation::Head => "head",
            StorageOperation::Copy => "copy",
        }
    }

    /// The span name (`storage.get`).
    pub const fn span_name(self) -> &'static str {
        match self {
            StorageOperation::Get => "storage.get",
            StorageOperation::Put => "storage.put",
            StorageOperation::Delete => "storage.delete",
            StorageOperation::List => "storage.list",
            StorageOperation::Head => "storage.head",
            StorageOperation::Copy => "storage.copy",
        }
    }
}

/// Blixard's read and write metrics, without attributes.
struct Blixard {
    reads: BoundCounter,
    writes: BoundCounter,
    reads_series: OnceLock<CounterSeries>,
    writes_series: OnceLock<CounterSeries>,
    read_duration: HistogramSeries,
    write_duration: HistogramSeries,
}

/// The series of one operation, each made on its first use.
struct OperationSeries {
    /// The attributes a span is created with, for the sampler, which are also the metric
    /// labels: backend and operation.
    sampling: [KeyValue; 2],
    ok: OnceLock<HistogramSeries>,
    failed: OnceLock<SeriesCache<&'static str, HistogramSeries>>,
    io: OnceLock<CounterSeries>,
}

struct Inner {
    telemetry: OpsTelemetry,
    backend: &'static str,
    record_keys: bool,
    duration: BoundHistogram,
    io: BoundCounter,
    cache: BoundCounter,
    cache_hit: OnceLock<CounterSeries>,
    cache_miss: OnceLock<CounterSeries>,
    operations: [OperationSeries; OPERATIONS],
    blixard: Option<Blixard>,
}

impl Inner {
    fn series(&self, operation: StorageOperation) -> &OperationSeries {
        let [get, put, delete, list, head, copy] = &self.operations;
        match operation {
            StorageOperation::Get => get,
            StorageOperation::Put => put,
            StorageOperation::Delete => delete,
            StorageOperation::List => list,
            StorageOperation::Head => head,
            StorageOperation::Copy => copy,
        }
    }
}

/// Spans and metrics for one storage backend. Cheap to clone.
///
/// ```
/// use ferrotel_ops::storage::{StorageInstruments, StorageOperation};
/// use ferrotel_ops::OpsTelemetry;
///
/// let telemetry = OpsTelemetry::new(None, None, ferrotel_metrics::Exemplars::default());
/// let store = StorageInstruments::new(&telemetry, "fs", Default::default());
/// let op = store.start(StorageOperation::Put, "volumes/alpha/chunk-7");
/// // … write 65536 bytes …
/// op.finish(Ok(65536));
/// ```
#[derive(Clone)]
pub struct StorageInstruments {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StorageInstruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageInstruments")
            .field("backend", &self.inner.backend)
            .field("record_keys", &self.inner.record_keys)
            .field("blixard", &self.inner.blixard.is_some())
            .finish()
    }
}

impl StorageInstruments {
    /// Instruments for `backend` (`s3`, `gcs`, `azure`, `fs`, `memory`, `kv`, or a name of
    /// your own) with the metric names of `profile` (`FERROTEL_STORAGE_METRICS`).
    pub fn new(telemetry: &OpsTelemetry, backend: &'static str, profile: StorageMetrics) -> Self {
        let blixard = (profile == StorageMetrics::Blixard).then(|| Blixard {
            reads: telemetry.bound_counter(n::blixard::READS, "", "Total storage read operations."),
            writes: telemetry.bound_counter(
                n::blixard::WRITES,
                "",
                "Total storage write operations.",
            ),
            reads_series: OnceLock::new(),
            writes_series: OnceLock::new(),
            read_duration: telemetry
                .bound_histogram(
                    n::blixard::READ_DURATION,
                    "s",
                    "Read operation duration.",
                    &n::DURATION_BUCKETS,
                )
                .series(&[]),
            write_duration: telemetry
                .bound_histogram(
                    n::blixard::WRITE_DURATION,
                    "s",
                    "Write operation duration.",
                    &n::DURATION_BUCKETS,
                )
                .series(&[]),
        });
        StorageInstruments {
            inner: Arc::new(Inner {
                telemetry: telemetry.clone(),
                backend,
                record_keys: false,
                duration: telemetry.bound_histogram(
                    n::OPERATION_DURATION,
                    "s",
                    "Duration of storage operations.",
                    &n::DURATION_BUCKETS,
                ),
                io: telemetry.bound_counter(
                    n::IO,
                    "By",
                    "Bytes read and written by storage operations.",
                ),
                cache: telemetry.bound_counter(
                    n::CACHE_REQUESTS,
                    "{request}",
                    "Cache lookups, by storage.cache.result.",
                ),
                cache_hit: OnceLock::new(),
                cache_miss: OnceLock::new(),
                operations: ALL_OPERATIONS.map(|operation| OperationSeries {
                    sampling: [
                        KeyValue::new(n::BACKEND, backend),
                        KeyValue::new(n::OPERATION, operation.name()),
                    ],
                    ok: OnceLock::new(),
                    failed: OnceLock::new(),
                    io: OnceLock::new(),
                }),
                blixard,
            }),
        }
    }

    /// Records object keys on spans (`storage.key`). Off by default: keys can be
    /// high-cardinality or personal data. Metrics never carry them.
    pub fn record_keys(mut self, record: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.record_keys = record;
        }
        self
    }

    /// The backend name.
    pub fn backend(&self) -> &'static str {
        self.inner.backend
    }

    /// Starts an operation on `key` under the current context.
    pub fn start(&self, operation: StorageOperation, key: &str) -> StorageOp {
        Context::map_current(|cx| self.start_in(operation, key, cx))
    }

    /// Starts an operation on `key` under `parent`.
    pub fn start_in(&self, operation: StorageOperation, key: &str, parent: &Context) -> StorageOp {
        let inner = &self.inner;
        let sampling = &inner.series(operation).sampling;
        let cx = inner.telemetry.start_context(
            operation.span_name(),
            SpanKind::Client,
            parent,
            sampling,
        );
        if inner.record_keys && cx.span().is_recording() {
            cx.span()
                .set_attribute(KeyValue::new(n::KEY, key.to_owned()));
        }
        StorageOp {
            instruments: self.clone(),
            operation,
            cx,
            start: Instant::now(),
            finished: false,
        }
    }

    /// Counts a cache lookup that found its object.
    pub fn cache_hit(&self) {
        self.cache(true);
    }

    /// Counts a cache lookup that missed.
    pub fn cache_miss(&self) {
        self.cache(false);
    }

    fn cache(&self, hit: bool) {
        let inner = &self.inner;
        let (slot, result) = if hit {
            (&inner.cache_hit, "hit")
        } else {
            (&inner.cache_miss, "miss")
        };
        slot.get_or_init(|| {
            inner.cache.series(&[
                KeyValue::new(n::BACKEND, inner.backend),
                KeyValue::new(n::CACHE_RESULT, result),
            ])
        })
        .add(1);
    }
}

/// One storage operation in progress. Finish it with [`StorageOp::finish`]; dropping it
/// unfinished records it as cancelled (`error.type=cancelled`).
#[must_use = "a StorageOp records its operation when finished"]
pub struct StorageOp {
    instruments: StorageInstruments,
    operation: StorageOperation,
    cx: Context,
    start: Instant,
    finished: bool,
}

impl std::fmt::Debug for StorageOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageOp")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl StorageOp {
    /// The context holding this operation's span.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Ends the operation: `Ok(bytes moved)` or `Err(error type)`, e.g. `Err("not_found")`.
    pub fn finish(mut self, outcome: Result<u64, &'static str>) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: Result<u64, &'static str>) {
        self.finished = true;
        let inner = &self.instruments.inner;
        let elapsed = self.start.elapsed().as_secs_f64();
        let span = self.cx.span();
        let bytes = *outcome.as_ref().unwrap_or(&0);
        if span.is_recording() {
            if bytes > 0 {
                span.set_attribute(KeyValue::new(n::BYTES, bytes as i64));
            }
            if let Err(error) = outcome {
                span.set_attribute(KeyValue::new(names::ERROR_TYPE, error));
                span.set_status(Status::error(error));
            }
        }
        let series = inner.series(self.operation);
        // `sampling` holds exactly the metric labels: backend and operation.
        let labels = &series.sampling;
        match outcome {
            Ok(_) => series
                .ok
                .get_or_init(|| inner.duration.series(labels))
                .record(elapsed, &self.cx),
            Err(error) => series
                .failed
                .get_or_init(SeriesCache::new)
                .get_or_insert_with(error, || {
                    let [backend, operation] = labels.clone();
                    inner.duration.series(&[
                        backend,
                        operation,
                        KeyValue::new(names::ERROR_TYPE, error),
                    ])
                })
                .record(elapsed, &self.cx),
        }
        if bytes > 0 {
            series.io.get_or_init(|| inner.io.series(labels)).add(bytes);
        }
        if let Some(blixard) = &inner.blixard {
            match self.operation {
                StorageOperation::Get | StorageOperation::Head | StorageOperation::List => {
                    let reads = || blixard.reads.series(&[]);
                    blixard.reads_series.get_or_init(reads).add(1);
                    blixard.read_duration.record(elapsed, &self.cx);
                }
                StorageOperation::Put | StorageOperation::Delete | StorageOperation::Copy => {
                    let writes = || blixard.writes.series(&[]);
                    blixard.writes_series.get_or_init(writes).add(1);
                    blixard.write_duration.record(elapsed, &self.cx);
                }
            }
        }
        span.end();
    }
}

impl Drop for StorageOp {
    fn drop(&mut self) {
        if !self.finished {
            self.record(Err("cancelled"));
        }
    }
}
