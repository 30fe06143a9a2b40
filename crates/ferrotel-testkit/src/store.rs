//! The shared store both servers write into, and the blocking / async waits tests use.

use std::error::Error;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use tokio::sync::Notify;

use crate::fault::ActiveFault;
use crate::record::{Outcome, ReceivedLog, ReceivedMetric, ReceivedSpan, RequestRecord, Signal};

/// A wait on the receiver that ended before what it waited for arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimeout {
    awaited: String,
    seen: String,
    waited: Duration,
}

impl WaitTimeout {
    /// What was awaited, e.g. `"3 spans"`.
    pub fn awaited(&self) -> &str {
        &self.awaited
    }

    /// A summary of what had arrived when the wait gave up.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    /// How long the wait lasted.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OTLP receiver: timed out after {:?} waiting for {}; seen: {}",
            self.waited, self.awaited, self.seen
        )
    }
}

impl Error for WaitTimeout {}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) spans: Vec<ReceivedSpan>,
    pub(crate) metrics: Vec<ReceivedMetric>,
    pub(crate) logs: Vec<ReceivedLog>,
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) fault: Option<ActiveFault>,
    /// The most spans kept (`None`: all); past it spans are counted, not stored.
    pub(crate) span_limit: Option<usize>,
    pub(crate) spans_dropped: u64,
    /// Signals answered as a server that lacks them (gRPC `UNIMPLEMENTED`, HTTP 404), as a
    /// bare Jaeger answers metrics and logs.
    pub(crate) unserved: Vec<Signal>,
}

impl State {
    /// A short human summary of what arrived, for timeout messages.
    fn summary(&self) -> String {
        const SHOWN: usize = 10;
        let mut span_names: Vec<&str> = self.spans.iter().map(|s| s.name()).collect();
        span_names.truncate(SHOWN);
        let mut metric_names: Vec<&str> = self.metrics.iter().map(|m| m.name()).collect();
        metric_names.sort_unstable();
        metric_names.dedup();
        metric_names.truncate(SHOWN);
        let mut outcomes: Vec<String> = self
            .requests
            .iter()
            .map(|r| format!("{:?}/{:?} {:?}", r.transport, r.signal, r.outcome))
            .collect();
        outcomes.truncate(SHOWN);
        format!(
            "{} span(s) {:?}, {} metric(s) {:?}, {} log record(s), {} export request(s) {:?}",
            self.spans.len(),
            span_names,
            self.metrics.len(),
            metric_names,
            self.logs.len(),
            self.requests.len(),
            outcomes
        )
    }
}

/// State behind a mutex, a condvar for blocking waiters and a `Notify` for async ones.
#[derive(Default)]
pub(crate) struct Store {
    state: Mutex<State>,
    changed: Condvar,
    notify: Notify,
}

impl Store {
    /// Locks the state; a poisoned lock is still usable (the data is append-only).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state under the lock, then wakes every waiter.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.notify_all();
        self.notify.notify_waiters();
        result
    }

    /// Records a request and, when its outcome says so, stores its items.
    pub(crate) fn record(&self, record: RequestRecord, items: Items) {
        self.update(|state| {
            if record.outcome.is_stored() {
                match items {
                    Items::Traces(req) => {
                        let room = state
                            .span_limit
                            .map_or(usize::MAX, |limit| limit.saturating_sub(state.spans.len()));
                        let mut spans = flatten_spans(req);
                        state.spans.extend(spans.by_ref().take(room));
                        state.spans_dropped += spans.count() as u64;
                    }
                    Items::Metrics(req) => state.metrics.extend(flatten_metrics(req)),
                    Items::Logs(req) => state.logs.extend(flatten_logs(req)),
                    Items::None => {}
                }
            }
            state.requests.push(record);
        });
    }

    /// Blocks until `check` returns `Some`, or `timeout` passes.
    pub(crate) fn wait<T>(
        &self,
        timeout: Duration,
        awaited: impl FnOnce() -> String,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut state = self.lock();
        loop {
            if let Some(found) = check(&state) {
                return Ok(found);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitTimeout {
                    awaited: awaited(),
                    seen: state.summary(),
                    waited: start.elapsed(),
                });
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits without blocking the calling runtime until `check` returns `Some`, or `timeout`
    /// passes.
    pub(crate) async fn wait_async<T>(
        &self,
        timeout: Duration,
        awaited: impl FnOnce() -> String,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, WaitTimeout> {
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start + timeout);
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a change between check and await is not missed.
            notified.as_mut().enable();
            {
                let state = self.lock();
                if let Some(found) = check(&state) {
                    return Ok(found);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(WaitTimeout {
                        awaited: awaited(),
                        seen: state.summary(),
                        waited: start.elapsed(),
                    });
                }
            }
            // On timeout loop once more: the check above then reports the final state.
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

/// The decoded payload of an export request, stored only if the outcome accepts it.
pub(crate) enum Items {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
    None,
}

impl Items {
    /// Spans or data points in the payload.
    pub(crate) fn count(&self) -> usize {
        match self {
            Items::Traces(req) => req
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            Items::Metrics(req) => req
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(data_point_count)
                .sum(),
            Items::Logs(req) => req
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
            Items::None => 0,
        }
    }
}

fn data_point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

fn flatten_spans(req: ExportTraceServiceRequest) -> impl Iterator<Item = ReceivedSpan> {
    req.resource_spans.into_iter().flat_map(|rs| {
        let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
        rs.scope_spans.into_iter().flat_map(move |ss| {
            let (scope_name, scope_version) =
                ss.scope.map(|s| (s.name, s.version)).unwrap_or_default();
            let scope_schema_url = ss.schema_url;
            let resource = resource.clone();
            ss.spans.into_iter().map(move |span| ReceivedSpan {
                resource: resource.clone(),
                scope_name: scope_name.clone(),
                scope_version: scope_version.clone(),
                scope_schema_url: scope_schema_url.clone(),
                span,
            })
        })
    })
}

fn flatten_metrics(req: ExportMetricsServiceRequest) -> impl Iterator<Item = ReceivedMetric> {
    req.resource_metrics.into_iter().flat_map(|rm| {
        let resource = rm.resource.map(|r| r.attributes).unwrap_or_default();
        rm.scope_metrics.into_iter().flat_map(move |sm| {
            let (scope_name, scope_version) =
                sm.scope.map(|s| (s.name, s.version)).unwrap_or_default();
            let scope_schema_url = sm.schema_url;
            let resource = resource.clone();
            sm.metrics.into_iter().map(move |metric| ReceivedMetric {
                resource: resource.clone(),
                scope_name: scope_name.clone(),
                scope_version: scope_version.clone(),
                scope_schema_url: scope_schema_url.clone(),
                metric,
            })
        })
    })
}

fn flatten_logs(req: ExportLogsServiceRequest) -> impl Iterator<Item = ReceivedLog> {
    req.resource_logs.into_iter().flat_map(|rl| {
        let resource = rl.resource.map(|r| r.attributes).unwrap_or_default();
        rl.scope_logs.into_iter().flat_map(move |sl| {
            let scope_name = sl.scope.map(|s| s.name).unwrap_or_default();
            let scope_schema_url = sl.schema_url;
            let resource = resource.clone();
            sl.log_records.into_iter().map(move |record| ReceivedLog {
                resource: resource.clone(),
                scope_name: scope_name.clone(),
                scope_schema_url: scope_schema_url.clone(),
                record,
            })
        })
    })
}

/// Holds a request for `delay` (a slow collector). A client that gives up meanwhile drops the
/// handler's future, and the request is recorded as [`Outcome::Abandoned`].
pub(crate) async fn hold(store: &Store, record: &RequestRecord, delay: Option<Duration>) {
    let Some(delay) = delay else {
        return;
    };
    let guard = AbandonGuard {
        store,
        record: Some(record.clone()),
    };
    tokio::time::sleep(delay).await;
    guard.disarm();
}

/// Records an `Abandoned` request if the client goes away while the answer is delayed.
struct AbandonGuard<'a> {
    store: &'a Store,
    record: Option<RequestRecord>,
}

impl AbandonGuard<'_> {
    fn disarm(mut self) {
        self.record = None;
    }
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.outcome = Outcome::Abandoned;
            self.store.record(record, Items::None);
        }
    }
}
