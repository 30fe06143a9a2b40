//! The NFS instruments: one span and one set of metric records per procedure, through
//! [`NfsOp`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use ferrotel_config::NfsMetrics;
use ferrotel_metrics::{
    BoundCounter, BoundHistogram, BoundUpDownCounter, CounterSeries, HistogramSeries, UpDownSeries,
};
use opentelemetry::metrics::{Counter, Gauge, UpDownCounter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use super::procedure::{Direction, NfsStatus, Procedure};
use crate::names::{self, nfs as n};
use crate::series_cache::SeriesCache;
use crate::OpsTelemetry;

/// Which end of the protocol the instruments observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsSide {
    /// A server: SERVER spans and `nfs.server.*` metrics.
    Server,
    /// A client: CLIENT spans and `nfs.client.*` metrics.
    Client,
}

/// The name of an export or share, interned so that recording it costs no allocation. It also
/// keeps the metric series each [`NfsInstruments`] resolved for it, so a procedure on a share
/// seen before looks nothing up by name: create one `Share` per export and reuse it.
#[derive(Clone)]
pub struct Share(Arc<ShareInner>);

struct ShareInner {
    name: Arc<str>,
    /// Per instruments (by id): the series of each procedure on this share.
    bound: SeriesCache<u64, Arc<ProcedureSlots>>,
}

/// One slot per NFSv3 procedure number.
type ProcedureSlots = [OnceLock<Arc<ProcShare>>; PROCEDURES];

/// NULL (0) to COMMIT (21).
const PROCEDURES: usize = 22;

impl Share {
    /// A share named `name` (an export path such as `/export`).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Share(Arc::new(ShareInner {
            name: name.into(),
            bound: SeriesCache::new(),
        }))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0.name
    }

    fn value(&self) -> opentelemetry::Value {
        opentelemetry::Value::from(Arc::clone(&self.0.name))
    }

    /// The procedure slots of the instruments `id` on this share.
    fn slots(&self, id: u64) -> Arc<ProcedureSlots> {
        self.0
            .bound
            .get_or_insert_with(id, || Arc::new(std::array::from_fn(|_| OnceLock::new())))
    }
}

impl PartialEq for Share {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Share {}

impl std::hash::Hash for Share {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Share").field(&self.0.name).finish()
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.name)
    }
}

/// The metric series of one procedure on one share, resolved on its first use.
struct ProcShare {
    share: Share,
    /// The attributes a span is created with, for the sampler: procedure and share.
    sampling: [KeyValue; 2],
    /// `nfs.server.request.active{procedure}` or DittoFS' in-flight `{procedure,share}`.
    active: UpDownSeries,
    /// DittoFS: bytes `{procedure,share,direction}` and size `{operation,share}`.
    bytes: OnceLock<CounterSeries>,
    size: OnceLock<HistogramSeries>,
    ok: OnceLock<Arc<Finished>>,
    failed: SeriesCache<u32, Arc<Finished>>,
}

/// The series a procedure's end records to, for one outcome.
struct Finished {
    duration: HistogramSeries,
    count: CounterSeries,
}

/// An outcome as a key: the NFS status code, or `u32::MAX` for a cancelled procedure.
fn outcome_key(outcome: Outcome) -> u32 {
    match outcome {
        Outcome::Status(status) => status.code(),
        Outcome::Cancelled => u32::MAX,
    }
}

/// Identifies an `NfsInstruments` in a [`Share`]'s series slots.
static NEXT_INSTRUMENTS_ID: AtomicU64 = AtomicU64::new(1);

/// The semantic-conventions profile's instruments.
struct Semconv {
    duration: BoundHistogram,
    procedures: BoundCounter,
    active: BoundUpDownCounter,
    /// `nfs.server.io{network.io.direction}`: transmit (READ), receive (WRITE); each series
    /// made on its first bytes, as the SDK's counter would show it.
    io: BoundCounter,
    io_transmit: OnceLock<CounterSeries>,
    io_receive: OnceLock<CounterSeries>,
    stale: BoundCounter,
    stale_series: OnceLock<CounterSeries>,
    connections_active: UpDownCounter<i64>,
    connections_accepted: Counter<u64>,
    connections_closed: Counter<u64>,
    connections_max: Gauge<u64>,
}

/// The DittoFS profile's instruments.
struct Dittofs {
    requests: BoundCounter,
    duration_ms: BoundHistogram,
    in_flight: BoundUpDownCounter,
    bytes: BoundCounter,
    size: BoundHistogram,
    connections_active: UpDownCounter<i64>,
    connections_accepted: Counter<u64>,
    connections_closed: Counter<u64>,
    connections_force_closed: Counter<u64>,
    connections_max: Gauge<u64>,
}

enum Profile {
    Semconv(Semconv),
    Dittofs(Dittofs),
}

struct Inner {
    id: u64,
    telemetry: OpsTelemetry,
    side: NfsSide,
    profile: Profile,
}

/// Spans and metrics for NFS procedures. Cheap to clone; build one per server (or client) and
/// call [`NfsInstruments::start`] once per procedure.
///
/// ```
/// use ferrotel_ops::nfs::{NfsInstruments, NfsSide, NfsStatus, Procedure, Share};
/// use ferrotel_ops::OpsTelemetry;
///
/// let telemetry = OpsTelemetry::new(None, None, ferrotel_metrics::Exemplars::default());
/// let nfs = NfsInstruments::new(&telemetry, NfsSide::Server, Default::default(), "ferrotel");
/// let export = Share::new("/export");
///
/// let op = nfs.start(Procedure::Read, &export);
/// // … read 4096 bytes …
/// op.finish(NfsStatus::OK, 4096);
/// ```
#[derive(Clone)]
pub struct NfsInstruments {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for NfsInstruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let profile = match self.inner.profile {
            Profile::Semconv(_) => "semconv",
            Profile::Dittofs(_) => "dittofs",
        };
        f.debug_struct("NfsInstruments")
            .field("side", &self.inner.side)
            .field("profile", &profile)
            .finish()
    }
}

impl NfsInstruments {
    /// Instruments for one side, with the metric names of `profile`
    /// (`FERROTEL_NFS_METRICS`). `prefix` (`FERROTEL_METRICS_PREFIX`) starts every DittoFS
    /// name and is unused by the `semconv` profile.
    pub fn new(telemetry: &OpsTelemetry, side: NfsSide, profile: NfsMetrics, prefix: &str) -> Self {
        let meter = telemetry.meter();
        let profile = match profile {
            NfsMetrics::Semconv => {
                let server = side == NfsSide::Server;
                let pick = |s: &'static str, c: &'static str| if server { s } else { c };
                Profile::Semconv(Semconv {
                    duration: telemetry.bound_histogram(
                        pick(n::SERVER_REQUEST_DURATION, n::CLIENT_REQUEST_DURATION),
                        "s",
                        "Duration of NFS procedures.",
                        &n::DURATION_BUCKETS,
                    ),
                    procedures: telemetry.bound_counter(
                        pick(n::SERVER_PROCEDURE_COUNT, n::CLIENT_PROCEDURE_COUNT),
                        "{procedure}",
                        "NFS procedures handled.",
                    ),
                    io: telemetry.bound_counter(
                        pick(n::SERVER_IO, n::CLIENT_IO),
                        "By",
                        "Bytes read and written through NFS.",
                    ),
                    io_transmit: OnceLock::new(),
                    io_receive: OnceLock::new(),
                    stale: telemetry.bound_counter(
                        n::SERVER_FH_STALE_COUNT,
                        "{fh}",
                        "Stale file handles answered.",
                    ),
                    stale_series: OnceLock::new(),
                    active: telemetry.bound_up_down_counter(
                        pick(n::SERVER_REQUEST_ACTIVE, n::CLIENT_REQUEST_ACTIVE),
                        "{request}",
                        "NFS procedures in progress.",
                    ),
                    connections_active: meter
                        .i64_up_down_counter(n::SERVER_CONNECTION_ACTIVE)
                        .with_unit("{connection}")
                        .with_description("Open NFS client connections.")
                        .build(),
                    connections_accepted: meter
                        .u64_counter(n::SERVER_CONNECTION_ACCEPTED)
                        .with_unit("{connection}")
                        .with_description("NFS connections accepted.")
                        .build(),
                    connections_closed: meter
                        .u64_counter(n::SERVER_CONNECTION_CLOSED)
                        .with_unit("{connection}")
                        .with_description("NFS connections closed, by nfs.close_reason.")
                        .build(),
                    connections_max: meter
                        .u64_gauge(n::SERVER_CONNECTION_MAX)
                        .with_unit("{connection}")
                        .with_description("Most NFS client connections accepted at once.")
                        .build(),
                })
            }
            NfsMetrics::Dittofs => {
                let name = |suffix: &str| format!("{prefix}_{suffix}");
                Profile::Dittofs(Dittofs {
                    requests: telemetry.bound_counter(
                        name(n::dittofs::REQUESTS),
                        "",
                        "Total number of NFS requests.",
                    ),
                    duration_ms: telemetry.bound_histogram(
                        name(n::dittofs::REQUEST_DURATION),
                        "ms",
                        "Duration of NFS requests in milliseconds.",
                        &n::dittofs::DURATION_BUCKETS_MS,
                    ),
                    in_flight: telemetry.bound_up_down_counter(
                        name(n::dittofs::REQUESTS_IN_FLIGHT),
                        "",
                        "Current number of NFS requests being processed.",
                    ),
                    bytes: telemetry.bound_counter(
                        name(n::dittofs::BYTES_TRANSFERRED),
                        "",
                        "Total bytes transferred via NFS operations.",
                    ),
                    size: telemetry.bound_histogram(
                        name(n::dittofs::OPERATION_SIZE),
                        "By",
                        "Distribution of READ/WRITE operation sizes.",
                        &n::dittofs::SIZE_BUCKETS,
                    ),
                    connections_active: meter
                        .i64_up_down_counter(name(n::dittofs::ACTIVE_CONNECTIONS))
                        .with_description("Current number of active NFS connections.")
                        .build(),
                    connections_accepted: meter
                        .u64_counter(name(n::dittofs::CONNECTIONS_ACCEPTED))
                        .with_description("Total number of NFS connections accepted.")
                        .build(),
                    connections_closed: meter
                        .u64_counter(name(n::dittofs::CONNECTIONS_CLOSED))
                        .with_description("Total number of NFS connections closed.")
                        .build(),
                    connections_force_closed: meter
                        .u64_counter(name(n::dittofs::CONNECTIONS_FORCE_CLOSED))
                        .with_description(
                            "Total number of NFS connections force-closed during shutdown.",
                        )
                        .build(),
                    connections_max: meter
                        .u64_gauge(name(n::dittofs::MAX_CONNECTIONS))
                        .with_description("Most NFS connections accepted at once.")
                        .build(),
                })
            }
        };
        // A force-close is rare: its counter starts at zero so the panel and its rate exist
        // before the first one.
        if let Profile::Dittofs(m) = &profile {
            m.connections_force_closed.add(0, &[]);
        }
        NfsInstruments {
            inner: Arc::new(Inner {
                id: NEXT_INSTRUMENTS_ID.fetch_add(1, Ordering::Relaxed),
                telemetry: telemetry.clone(),
                side,
                profile,
            }),
        }
    }

    /// Starts a procedure under the current context.
    pub fn start(&self, procedure: Procedure, share: &Share) -> NfsOp {
        Context::map_current(|cx| self.start_in(procedure, share, cx))
    }

    /// Starts a procedure under `parent`.
    pub fn start_in(&self, procedure: Procedure, share: &Share, parent: &Context) -> NfsOp {
        let inner = &self.inner;
        let kind = match inner.side {
            NfsSide::Server => SpanKind::Server,
            NfsSide::Client => SpanKind::Client,
        };
        let series = self.series(procedure, share);
        // The sampling-relevant attributes, at creation; the rest only on a recorded span.
        let cx =
            inner
                .telemetry
                .start_context(procedure.span_name(), kind, parent, &series.sampling);
        if cx.span().is_recording() {
            cx.span().set_attributes([
                KeyValue::new(n::ONC_RPC_PROGRAM_NAME, "nfs"),
                KeyValue::new(n::ONC_RPC_VERSION, 3),
                KeyValue::new(n::ONC_RPC_PROCEDURE_NUMBER, i64::from(procedure.number())),
            ]);
        }
        series.active.add(1);
        NfsOp {
            instruments: self.clone(),
            procedure,
            series,
            cx,
            start: Instant::now(),
            finished: false,
        }
    }

    /// The series of `procedure` on `share`, resolved once per pair.
    fn series(&self, procedure: Procedure, share: &Share) -> Arc<ProcShare> {
        let make = || Arc::new(self.proc_share(procedure, share));
        let slots = share.slots(self.inner.id);
        match slots.get(procedure.number() as usize) {
            Some(slot) => Arc::clone(slot.get_or_init(make)),
            None => make(),
        }
    }

    fn proc_share(&self, procedure: Procedure, share: &Share) -> ProcShare {
        let active = match &self.inner.profile {
            Profile::Semconv(m) => m
                .active
                .series(&[KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name())]),
            Profile::Dittofs(m) => m.in_flight.series(&dittofs_labels(procedure, share)),
        };
        ProcShare {
            share: share.clone(),
            sampling: [
                KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name()),
                KeyValue::new(n::NFS_SHARE, share.value()),
            ],
            active,
            bytes: OnceLock::new(),
            size: OnceLock::new(),
            ok: OnceLock::new(),
            failed: SeriesCache::new(),
        }
    }

    /// The series the end of `procedure` on `share` with `outcome` records to.
    fn finished(&self, op: &NfsOp, outcome: Outcome) -> Arc<Finished> {
        let make = || Arc::new(self.finished_series(op.procedure, &op.series.share, outcome));
        if outcome == Outcome::Status(NfsStatus::OK) {
            return Arc::clone(op.series.ok.get_or_init(make));
        }
        op.series
            .failed
            .get_or_insert_with(outcome_key(outcome), make)
    }

    fn finished_series(&self, procedure: Procedure, share: &Share, outcome: Outcome) -> Finished {
        let error = error_type(outcome);
        match &self.inner.profile {
            Profile::Semconv(m) => {
                let proc_name = KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name());
                let version = KeyValue::new(n::ONC_RPC_VERSION, 3);
                let mut duration = vec![
                    KeyValue::new(n::ONC_RPC_PROGRAM_NAME, "nfs"),
                    version.clone(),
                    proc_name.clone(),
                    KeyValue::new(n::NFS_SHARE, share.value()),
                ];
                let mut count = vec![version, proc_name];
                if let Some(error) = error {
                    duration.push(KeyValue::new(names::ERROR_TYPE, error));
                    count.push(KeyValue::new(names::ERROR_TYPE, error));
                }
                Finished {
                    duration: m.duration.series(&duration),
                    count: m.procedures.series(&count),
                }
            }
            Profile::Dittofs(m) => {
                let [procedure_label, share_label] = dittofs_labels(procedure, share);
                let (status, code) = match error {
                    None => ("success", ""),
                    Some(code) => ("error", code),
                };
                Finished {
                    duration: m
                        .duration_ms
                        .series(&[procedure_label.clone(), share_label.clone()]),
                    count: m.requests.series(&[
                        procedure_label,
                        share_label,
                        KeyValue::new(n::dittofs::STATUS, status),
                        KeyValue::new(n::dittofs::ERROR_CODE, code),
                    ]),
                }
            }
        }
    }

    /// The most connections the server accepts at once (`nfs.server.connection.max`,
    /// `{prefix}_nfs_max_connections`), so that alerts can compare the open ones with it.
    /// [`TrackedListener::with_max_connections`](super::TrackedListener::with_max_connections)
    /// reports its own.
    pub fn observe_max_connections(&self, max: u64) {
        match &self.inner.profile {
            Profile::Semconv(m) => m.connections_max.record(max, &[]),
            Profile::Dittofs(m) => m.connections_max.record(max, &[]),
        }
    }

    /// Records an accepted connection; the returned guard records its close when dropped
    /// (or [`Connection::force_close`] during shutdown).
    pub fn connection_opened(&self) -> Connection {
        match &self.inner.profile {
            Profile::Semconv(m) => {
                m.connections_accepted.add(1, &[]);
                m.connections_active.add(1, &[]);
            }
            Profile::Dittofs(m) => {
                m.connections_accepted.add(1, &[]);
                m.connections_active.add(1, &[]);
            }
        }
        Connection {
            instruments: self.clone(),
            closed: false,
        }
    }

    fn connection_closed(&self, forced: bool) {
        match &self.inner.profile {
            Profile::Semconv(m) => {
                let reason = if forced { "force" } else { "client" };
                m.connections_closed
                    .add(1, &[KeyValue::new(n::CLOSE_REASON, reason)]);
                m.connections_active.add(-1, &[]);
            }
            Profile::Dittofs(m) => {
                if forced {
                    m.connections_force_closed.add(1, &[]);
                }
                m.connections_closed.add(1, &[]);
                m.connections_active.add(-1, &[]);
            }
        }
    }
}

fn dittofs_labels(procedure: Procedure, share: &Share) -> [KeyValue; 2] {
    [
        KeyValue::new(n::dittofs::PROCEDURE, procedure.name()),
        KeyValue::new(n::dittofs::SHARE, share.value()),
    ]
}

/// `error.type` of an outcome: the NFS status name, `cancelled`, or none for `NFS3_OK`.
fn error_type(outcome: Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Status(status) if status.is_ok() => None,
        Outcome::Status(status) => Some(status.name()),
        Outcome::Cancelled => Some("cancelled"),
    }
}

/// One NFS procedure in progress: its span (current in [`NfsOp::context`]) and its start
/// time. Finish it with [`NfsOp::finish`]; dropping it unfinished records the procedure as
/// cancelled (`error.type=cancelled`), so a client that hangs up is still counted.
#[must_use = "an NfsOp records its procedure when finished"]
pub struct NfsOp {
    instruments: NfsInstruments,
    procedure: Procedure,
    series: Arc<ProcShare>,
    cx: Context,
    start: Instant,
    finished: bool,
}

impl std::fmt::Debug for NfsOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfsOp")
            .field("procedure", &self.procedure)
            .field("share", &self.series.share)
            .finish_non_exhaustive()
    }
}

impl NfsOp {
    /// The context holding this procedure's span: run the work under it (e.g. with
    /// `opentelemetry::trace::FutureExt::with_context`) so that storage and Raft spans become
    /// its children.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The procedure.
    pub fn procedure(&self) -> Procedure {
        self.procedure
    }

    /// Ends the procedure with its NFS status and the bytes it read or wrote.
    pub fn finish(mut self, status: NfsStatus, bytes: u64) {
        self.record(Outcome::Status(status), bytes);
    }

    fn record(&mut self, outcome: Outcome, bytes: u64) {
        self.finished = true;
        let instruments = &self.instruments;
        let inner = &instruments.inner;
        let procedure = self.procedure;
        let elapsed = self.start.elapsed().as_secs_f64();
        let error = error_type(outcome);
        let span = self.cx.span();
        if span.is_recording() {
            let status_name = match outcome {
                Outcome::Status(status) => status.name(),
                Outcome::Cancelled => "cancelled",
            };
            span.set_attribute(KeyValue::new(n::NFS_STATUS, status_name));
            if bytes > 0 {
                span.set_attribute(KeyValue::new(n::NFS_BYTES, bytes as i64));
            }
            if let Some(error) = error {
                span.set_attribute(KeyValue::new(names::ERROR_TYPE, error));
                // A server span fails only for the server's faults; a client span for any
                // status other than NFS3_OK.
                let fault = match outcome {
                    Outcome::Status(status) => {
                        inner.side == NfsSide::Client || status.is_server_fault()
                    }
                    Outcome::Cancelled => false,
                };
                if fault {
                    span.set_status(Status::error(error));
                }
            }
        }
        let cx = &self.cx;
        let finished = instruments.finished(self, outcome);
        let direction = procedure.direction().filter(|_| bytes > 0);
        match &inner.profile {
            Profile::Semconv(m) => {
                finished.duration.record(elapsed, cx);
                finished.count.add(1);
                let io = |slot: &OnceLock<CounterSeries>, dir: &'static str| {
                    slot.get_or_init(|| {
                        m.io.series(&[KeyValue::new(n::NETWORK_IO_DIRECTION, dir)])
                    })
                    .add(bytes);
                };
                match direction {
                    Some(Direction::Read) => io(&m.io_transmit, "transmit"),
                    Some(Direction::Write) => io(&m.io_receive, "receive"),
                    None => {}
                }
                if outcome == Outcome::Status(NfsStatus::STALE) {
                    m.stale_series.get_or_init(|| m.stale.series(&[])).add(1);
                }
            }
            Profile::Dittofs(m) => {
                finished.count.add(1);
                finished.duration.record(elapsed * 1000.0, cx);
                if let Some(direction) = direction {
                    let dir = match direction {
                        Direction::Read => "read",
                        Direction::Write => "write",
                    };
                    let share = &self.series.share;
                    self.series
                        .bytes
                        .get_or_init(|| {
                            let [procedure_label, share_label] = dittofs_labels(procedure, share);
                            m.bytes.series(&[
                                procedure_label,
                                share_label,
                                KeyValue::new(n::dittofs::DIRECTION, dir),
                            ])
                        })
                        .add(bytes);
                    self.series
                        .size
                        .get_or_init(|| {
                            m.size.series(&[
                                KeyValue::new(n::dittofs::OPERATION, dir),
                                KeyValue::new(n::dittofs::SHARE, share.value()),
                            ])
                        })
                        .record_u64(bytes, cx);
                }
            }
        }
        self.series.active.add(-1);
        span.end();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Status(NfsStatus),
    Cancelled,
}

impl Drop for NfsOp {
    fn drop(&mut self) {
        if !self.finished {
            self.record(Outcome::Cancelled, 0);
        }
    }
}

/// An open client connection, counted until dropped.
#[must_use = "the connection is counted as closed when this is dropped"]
pub struct Connection {
    instruments: NfsInstruments,
    closed: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Closes the connection on the server's initiative (shutdown): counted as force-closed.
    pub fn force_close(mut self) {
        self.closed = true;
        self.instruments.connection_closed(true);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.closed {
            self.instruments.connection_closed(false);
        }
    }
}
