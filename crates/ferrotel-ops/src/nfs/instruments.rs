//! The NFS instruments: one span and one set of metric records per procedure, through
//! [`NfsOp`].

use std::sync::Arc;
use std::time::Instant;

use ferrotel_config::NfsMetrics;
use ferrotel_metrics::{Histogram, U64Histogram};
use opentelemetry::metrics::{Counter, UpDownCounter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use super::procedure::{Direction, NfsStatus, Procedure};
use crate::names::{self, nfs as n};
use crate::OpsTelemetry;

/// Which end of the protocol the instruments observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfsSide {
    /// A server: SERVER spans and `nfs.server.*` metrics.
    Server,
    /// A client: CLIENT spans and `nfs.client.*` metrics.
    Client,
}

/// The name of an export or share, interned so that recording it costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Share(Arc<str>);

impl Share {
    /// A share named `name` (an export path such as `/export`).
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Share(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn value(&self) -> opentelemetry::Value {
        opentelemetry::Value::from(Arc::clone(&self.0))
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// NFS statuses that are the server's fault. On a server span only these set the span status
/// to Error; a NOENT or an ACCES is the client's business, as NOT_FOUND is for gRPC. A client
/// span is an error for every status other than `NFS3_OK`.
const SERVER_FAULTS: [u32; 8] = [5, 6, 19, 28, 69, 10006, 10007, 10008];

/// The semantic-conventions profile's instruments.
struct Semconv {
    duration: Histogram,
    procedures: Counter<u64>,
    io: Counter<u64>,
    stale: Counter<u64>,
    active: UpDownCounter<i64>,
    connections_active: UpDownCounter<i64>,
    connections_accepted: Counter<u64>,
    connections_closed: Counter<u64>,
}

/// The DittoFS profile's instruments.
struct Dittofs {
    requests: Counter<u64>,
    duration_ms: Histogram,
    in_flight: UpDownCounter<i64>,
    bytes: Counter<u64>,
    size: U64Histogram,
    connections_active: UpDownCounter<i64>,
    connections_accepted: Counter<u64>,
    connections_closed: Counter<u64>,
    connections_force_closed: Counter<u64>,
}

enum Profile {
    Semconv(Semconv),
    Dittofs(Dittofs),
}

struct Inner {
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
                    duration: telemetry.f64_histogram(
                        pick(n::SERVER_REQUEST_DURATION, n::CLIENT_REQUEST_DURATION),
                        "s",
                        "Duration of NFS procedures.",
                        &n::DURATION_BUCKETS,
                    ),
                    procedures: meter
                        .u64_counter(pick(n::SERVER_PROCEDURE_COUNT, n::CLIENT_PROCEDURE_COUNT))
                        .with_unit("{procedure}")
                        .with_description("NFS procedures handled.")
                        .build(),
                    io: meter
                        .u64_counter(pick(n::SERVER_IO, n::CLIENT_IO))
                        .with_unit("By")
                        .with_description("Bytes read and written through NFS.")
                        .build(),
                    stale: meter
                        .u64_counter(n::SERVER_FH_STALE_COUNT)
                        .with_unit("{fh}")
                        .with_description("Stale file handles answered.")
                        .build(),
                    active: meter
                        .i64_up_down_counter(pick(
                            n::SERVER_REQUEST_ACTIVE,
                            n::CLIENT_REQUEST_ACTIVE,
                        ))
                        .with_unit("{request}")
                        .with_description("NFS procedures in progress.")
                        .build(),
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
                })
            }
            NfsMetrics::Dittofs => {
                let name = |suffix: &str| format!("{prefix}_{suffix}");
                Profile::Dittofs(Dittofs {
                    requests: meter
                        .u64_counter(name(n::dittofs::REQUESTS))
                        .with_description("Total number of NFS requests.")
                        .build(),
                    duration_ms: telemetry.f64_histogram(
                        name(n::dittofs::REQUEST_DURATION),
                        "ms",
                        "Duration of NFS requests in milliseconds.",
                        &n::dittofs::DURATION_BUCKETS_MS,
                    ),
                    in_flight: meter
                        .i64_up_down_counter(name(n::dittofs::REQUESTS_IN_FLIGHT))
                        .with_description("Current number of NFS requests being processed.")
                        .build(),
                    bytes: meter
                        .u64_counter(name(n::dittofs::BYTES_TRANSFERRED))
                        .with_description("Total bytes transferred via NFS operations.")
                        .build(),
                    size: telemetry.u64_histogram(
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
        // The sampling-relevant attributes, at creation; the rest only on a recorded span.
        let span = inner.telemetry.start_span(
            procedure.span_name(),
            kind,
            parent,
            vec![
                KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name()),
                KeyValue::new(n::NFS_SHARE, share.value()),
            ],
        );
        let cx = parent.with_span(span);
        if cx.span().is_recording() {
            cx.span().set_attributes([
                KeyValue::new(n::ONC_RPC_PROGRAM_NAME, "nfs"),
                KeyValue::new(n::ONC_RPC_VERSION, 3),
                KeyValue::new(n::ONC_RPC_PROCEDURE_NUMBER, i64::from(procedure.number())),
            ]);
        }
        match &inner.profile {
            Profile::Semconv(m) => {
                m.active.add(
                    1,
                    &[KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name())],
                );
            }
            Profile::Dittofs(m) => m.in_flight.add(1, &dittofs_labels(procedure, share)),
        }
        NfsOp {
            instruments: self.clone(),
            procedure,
            share: share.clone(),
            cx,
            start: Instant::now(),
            finished: false,
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

/// One NFS procedure in progress: its span (current in [`NfsOp::context`]) and its start
/// time. Finish it with [`NfsOp::finish`]; dropping it unfinished records the procedure as
/// cancelled (`error.type=cancelled`), so a client that hangs up is still counted.
#[must_use = "an NfsOp records its procedure when finished"]
pub struct NfsOp {
    instruments: NfsInstruments,
    procedure: Procedure,
    share: Share,
    cx: Context,
    start: Instant,
    finished: bool,
}

impl std::fmt::Debug for NfsOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfsOp")
            .field("procedure", &self.procedure)
            .field("share", &self.share)
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
        let inner = &self.instruments.inner;
        let procedure = self.procedure;
        let elapsed = self.start.elapsed().as_secs_f64();
        let error: Option<&'static str> = match outcome {
            Outcome::Status(status) if status.is_ok() => None,
            Outcome::Status(status) => Some(status.name()),
            Outcome::Cancelled => Some("cancelled"),
        };
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
                let fault = match outcome {
                    Outcome::Status(status) => {
                        inner.side == NfsSide::Client || SERVER_FAULTS.contains(&status.code())
                    }
                    Outcome::Cancelled => false,
                };
                if fault {
                    span.set_status(Status::error(error));
                }
            }
        }
        let cx = &self.cx;
        match &inner.profile {
            Profile::Semconv(m) => {
                let proc_name = KeyValue::new(n::ONC_RPC_PROCEDURE_NAME, procedure.name());
                let version = KeyValue::new(n::ONC_RPC_VERSION, 3);
                let share = KeyValue::new(n::NFS_SHARE, self.share.value());
                let program = KeyValue::new(n::ONC_RPC_PROGRAM_NAME, "nfs");
                match error {
                    None => {
                        m.duration.record_with_context(
                            elapsed,
                            &[program, version.clone(), proc_name.clone(), share],
                            cx,
                        );
                        m.procedures.add(1, &[version, proc_name.clone()]);
                    }
                    Some(error) => {
                        let error = KeyValue::new(names::ERROR_TYPE, error);
                        m.duration.record_with_context(
                            elapsed,
                            &[
                                program,
                                version.clone(),
                                proc_name.clone(),
                                share,
                                error.clone(),
                            ],
                            cx,
                        );
                        m.procedures.add(1, &[version, proc_name.clone(), error]);
                    }
                }
                if let (Some(direction), true) = (procedure.direction(), bytes > 0) {
                    let dir = match direction {
                        Direction::Read => "transmit",
                        Direction::Write => "receive",
                    };
                    m.io.add(bytes, &[KeyValue::new(n::NETWORK_IO_DIRECTION, dir)]);
                }
                if outcome == Outcome::Status(NfsStatus::STALE) {
                    m.stale.add(1, &[]);
                }
                m.active.add(-1, &[proc_name]);
            }
            Profile::Dittofs(m) => {
                let labels = dittofs_labels(procedure, &self.share);
                let (status, code) = match error {
                    None => ("success", ""),
                    Some(code) => ("error", code),
                };
                let [procedure_label, share_label] = labels.clone();
                m.requests.add(
                    1,
                    &[
                        procedure_label.clone(),
                        share_label.clone(),
                        KeyValue::new(n::dittofs::STATUS, status),
                        KeyValue::new(n::dittofs::ERROR_CODE, code),
                    ],
                );
                m.duration_ms
                    .record_with_context(elapsed * 1000.0, &labels, cx);
                if let (Some(direction), true) = (procedure.direction(), bytes > 0) {
                    let dir = match direction {
                        Direction::Read => "read",
                        Direction::Write => "write",
                    };
                    m.bytes.add(
                        bytes,
                        &[
                            procedure_label,
                            share_label.clone(),
                            KeyValue::new(n::dittofs::DIRECTION, dir),
                        ],
                    );
                    m.size.record_with_context(
                        bytes,
                        &[KeyValue::new(n::dittofs::OPERATION, dir), share_label],
                        cx,
                    );
                }
                m.in_flight.add(-1, &labels);
            }
        }
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
