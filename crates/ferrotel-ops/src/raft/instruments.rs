//! One guard object per Raft operation: it opens the span (or spans, one per traced entry)
//! and records the operation's metrics when it finishes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use ferrotel_metrics::{BoundCounter, BoundHistogram, CounterSeries, HistogramSeries};
use opentelemetry::metrics::{AsyncInstrument, ObservableGauge};
use opentelemetry::trace::{Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use super::entry_context::EntryContext;
use crate::names::{raft as names, ERROR_TYPE};
use crate::OpsTelemetry;

/// The role a node appends entries in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The leader appends entries it created.
    Leader,
    /// A follower appends entries the leader replicated.
    Follower,
}

impl Role {
    /// `leader` or `follower`, the value of `raft.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

/// The Raft spans and metrics of one node. Cheap to clone; every clone records into the same
/// instruments. See the [module docs](super) for an example.
#[derive(Clone, Debug)]
pub struct RaftInstruments {
    inner: Arc<Inner>,
    /// Leader appends waiting for their commit (kept apart from `inner`: a batch holds it).
    pending: Arc<Mutex<VecDeque<(u64, EntryBatch)>>>,
}

/// The most leader appends [`RaftInstruments::leader_appended`] keeps waiting for their
/// commit; past it the oldest is ended as `error.type=untracked`.
pub const MAX_PENDING_COMMITS: usize = 1024;

/// The most leader appends whose time is kept for `raft.replication.lag.duration`; past it
/// the oldest is forgotten, and a follower behind every kept append is reported as lagging
/// by the age of the oldest kept one (a lower bound).
pub const MAX_TIMED_APPENDS: usize = 4096;
/// The most entries [`RaftInstruments::delivered`] remembers until their follower append;
/// past it the lowest indexes are forgotten (their appends then have no delivering span).
pub const MAX_PENDING_DELIVERIES: usize = 4096;

#[derive(Debug)]
struct Inner {
    /// Starts the spans (with the random-trace-id flag on roots).
    telemetry: OpsTelemetry,
    node_id: u64,
    /// `raft.node.id`, and `raft.group` when set: on every series and span.
    node: Vec<KeyValue>,
    /// Every series carries `raft.node.id`; those without further attributes are bound once.
    proposals: CounterSeries,
    proposals_failed: BoundCounter,
    committed: CounterSeries,
    applied: CounterSeries,
    leader_changes: CounterSeries,
    proposal_duration: BoundHistogram,
    proposal_ok: HistogramSeries,
    commit_duration: HistogramSeries,
    append_leader: HistogramSeries,
    append_follower: HistogramSeries,
    apply_duration: HistogramSeries,
    observed: Arc<Observed>,
    /// Log index -> the span of the RPC that delivered the entry, until its follower append.
    deliveries: Mutex<BTreeMap<u64, SpanContext>>,
    _gauges: [ObservableGauge<u64>; 6],
    _lag_duration: ObservableGauge<f64>,
}

/// What the observable gauges report, set by the `observe_*` methods.
#[derive(Debug, Default)]
struct Observed {
    term: AtomicU64,
    commit_index: AtomicU64,
    log_entries: AtomicU64,
    leader: Mutex<Option<u64>>,
    lag: Mutex<Vec<(u64, u64)>>,
    /// `raft.log.size`; `None` until an engine reports it, so none is exported.
    log_bytes: Mutex<Option<u64>>,
    /// On the leader: each follower's last acknowledged index (`None`: none yet).
    matched: Mutex<Vec<(u64, Option<u64>)>>,
    /// On the leader: `(last index, when)` of each append, oldest first.
    appended_at: Mutex<VecDeque<(u64, Instant)>>,
}

impl Observed {
    /// Seconds the oldest entry after `matched` has waited, 0 when no kept append is after it.
    fn lag_seconds(&self, matched: Option<u64>, now: Instant) -> f64 {
        let appended = lock(&self.appended_at);
        appended
            .iter()
            .find(|(last, _)| matched.is_none_or(|m| *last > m))
            .map_or(0.0, |(_, at)| {
                now.saturating_duration_since(*at).as_secs_f64()
            })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn node_id_value(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl RaftInstruments {
    /// The instruments of node `node_id`, recording through `telemetry`. Every metric carries
    /// `raft.node.id`, so several nodes may share one meter provider.
    pub fn new(telemetry: &OpsTelemetry, node_id: u64) -> Self {
        Self::build(telemetry, node_id, None)
    }

    /// The instruments of node `node_id` in the Raft group `group` of a multi-Raft service:
    /// every metric and span carries `raft.group` as well as `raft.node.id`.
    pub fn in_group(telemetry: &OpsTelemetry, node_id: u64, group: impl Into<String>) -> Self {
        Self::build(telemetry, node_id, Some(group.into()))
    }

    fn build(telemetry: &OpsTelemetry, node_id: u64, group: Option<String>) -> Self {
        let meter = telemetry.meter();
        let mut node = vec![KeyValue::new(names::NODE_ID, node_id_value(node_id))];
        if let Some(group) = group {
            node.push(KeyValue::new(names::GROUP, group));
        }
        let with = |kv: KeyValue| -> Vec<KeyValue> {
            let mut attrs = node.clone();
            attrs.push(kv);
            attrs
        };
        let counter = |name: &'static str, description: &'static str| {
            telemetry.bound_counter(name, "", description)
        };
        let histogram = |name: &'static str, description: &'static str| {
            telemetry.bound_histogram(name, "s", description, &names::DURATION_BUCKETS)
        };
        let observed = Arc::new(Observed::default());
        let gauge = |name: &'static str, description: &'static str, read: fn(&Observed) -> u64| {
            let observed = Arc::clone(&observed);
            let node = node.clone();
            meter
                .u64_observable_gauge(name)
                .with_description(description)
                .with_callback(move |o| o.observe(read(&observed), &node))
                .build()
        };
        let term = gauge(names::TERM, "The current Raft term", |o| {
            o.term.load(Ordering::Relaxed)
        });
        let commit_index = gauge(names::COMMIT_INDEX, "The Raft commit index", |o| {
            o.commit_index.load(Ordering::Relaxed)
        });
        let log_entries = gauge(names::LOG_ENTRIES, "Entries in the Raft log", |o| {
            o.log_entries.load(Ordering::Relaxed)
        });
        let has_leader = gauge(
            names::HAS_LEADER,
            "1 while this node knows a Raft leader, 0 while it knows none",
            |o| u64::from(lock(&o.leader).is_some()),
        );
        let per_peer = |o: &dyn AsyncInstrument<u64>, observed: &Observed, node: &[KeyValue]| {
            for (peer, lag) in lock(&observed.lag).iter() {
                let mut attrs = node.to_vec();
                attrs.push(KeyValue::new(names::PEER, node_id_value(*peer)));
                o.observe(*lag, &attrs);
            }
        };
        let lag = {
            let observed = Arc::clone(&observed);
            let node = node.clone();
            meter
                .u64_observable_gauge(names::REPLICATION_LAG)
                .with_description("Entries each follower is behind the leader")
                .with_callback(move |o| per_peer(o, &observed, &node))
                .build()
        };
        let lag_duration = {
            let observed = Arc::clone(&observed);
            let node = node.clone();
            meter
                .f64_observable_gauge(names::REPLICATION_LAG_DURATION)
                .with_unit("s")
                .with_description(
                    "How long the oldest entry a follower has not acknowledged has waited",
                )
                .with_callback(move |o| {
                    let now = Instant::now();
                    let matched = lock(&observed.matched).clone();
                    for (peer, matched) in matched {
                        let mut attrs = node.clone();
                        attrs.push(KeyValue::new(names::PEER, node_id_value(peer)));
                        o.observe(observed.lag_seconds(matched, now), &attrs);
                    }
                })
                .build()
        };
        let log_size = {
            let observed = Arc::clone(&observed);
            let node = node.clone();
            meter
                .u64_observable_gauge(names::LOG_SIZE)
                .with_unit("By")
                .with_description("The size of the Raft log")
                .with_callback(move |o| {
                    if let Some(bytes) = *lock(&observed.log_bytes) {
                        o.observe(bytes, &node);
                    }
                })
                .build()
        };
        let leader = with(KeyValue::new(names::ROLE, Role::Leader.as_str()));
        let follower = with(KeyValue::new(names::ROLE, Role::Follower.as_str()));
        let append = histogram(names::APPEND_DURATION, "One Raft log append");
        let proposal_duration = histogram(
            names::PROPOSAL_DURATION,
            "Raft proposal to commit and apply",
        );
        let proposals_failed = counter(names::PROPOSALS_FAILED, "Raft proposals that failed");
        // Counters start at zero, so `rate()` and a ratio over them have a series from the
        // first scrape rather than from the first failure.
        proposals_failed.series(&node);
        let inner = Inner {
            telemetry: telemetry.clone(),
            node_id,
            proposals: counter(names::PROPOSALS, "Raft proposals made on this node").series(&node),
            proposals_failed,
            committed: counter(
                names::COMMITTED_ENTRIES,
                "Raft entries this node saw committed",
            )
            .series(&node),
            applied: counter(
                names::APPLIED_ENTRIES,
                "Raft entries applied to the state machine",
            )
            .series(&node),
            leader_changes: counter(
                names::LEADER_CHANGES,
                "Raft leader changes this node observed",
            )
            .series(&node),
            proposal_ok: proposal_duration.series(&node),
            proposal_duration,
            commit_duration: histogram(names::COMMIT_DURATION, "Raft leader append to commit")
                .series(&node),
            append_leader: append.series(&leader),
            append_follower: append.series(&follower),
            apply_duration: histogram(names::APPLY_DURATION, "Applying one batch of Raft entries")
                .series(&node),
            node,
            observed,
            deliveries: Mutex::new(BTreeMap::new()),
            _gauges: [term, commit_index, log_entries, lag, has_leader, log_size],
            _lag_duration: lag_duration,
        };
        RaftInstruments {
            inner: Arc::new(inner),
            pending: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// The leader appended `entries`: their `raft.commit` spans (children of each proposer's
    /// span) and the commit latency run from now until [`RaftInstruments::committed_through`]
    /// reaches the last of them. For engines without a commit hook, such as openraft, whose
    /// state machine sees the commit when it applies.
    pub fn leader_appended<'a>(&self, entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>) {
        let mut batch = self.commit(std::iter::empty());
        let mut last = None;
        for (index, context) in entries {
            batch.entry(index, context);
            last = Some(index);
        }
        let Some(last) = last else {
            return;
        };
        {
            let mut appended = lock(&self.inner.observed.appended_at);
            appended.push_back((last, Instant::now()));
            while appended.len() > MAX_TIMED_APPENDS {
                appended.pop_front();
            }
        }
        let mut pending = lock(&self.pending);
        pending.push_back((last, batch));
        while pending.len() > MAX_PENDING_COMMITS {
            if let Some((_, old)) = pending.pop_front() {
                old.finish(Err("untracked"));
            }
        }
    }

    /// Entries up to `index` are committed: ends the commit of every leader append through it.
    /// (An append truncated by a new leader ends here too, when its index commits again.)
    pub fn committed_through(&self, index: u64) {
        let done: Vec<EntryBatch> = {
            let mut pending = lock(&self.pending);
            let mut done = Vec::new();
            while pending.front().is_some_and(|(last, _)| *last <= index) {
                if let Some((_, batch)) = pending.pop_front() {
                    done.push(batch);
                }
            }
            done
        };
        for batch in done {
            batch.finish(Ok(()));
        }
    }

    /// On a follower: the entries at `indexes` arrived in an RPC (AppendEntries) handled under
    /// `by`, typically the transport's server span. Their follower append becomes that span's
    /// child when it is in the entry's trace, and links to it otherwise (see the
    /// [module docs](super)). Call it before handing the RPC to the engine; entries the
    /// engine does not append again (it has them already) are forgotten at the next append.
    pub fn delivered(&self, indexes: impl IntoIterator<Item = u64>, by: &Context) {
        let span_context = by.span().span_context().clone();
        if !span_context.is_valid() {
            return;
        }
        let mut deliveries = lock(&self.inner.deliveries);
        for index in indexes {
            deliveries.insert(index, span_context.clone());
        }
        while deliveries.len() > MAX_PENDING_DELIVERIES {
            deliveries.pop_first();
        }
    }

    /// The node these instruments record for.
    pub fn node_id(&self) -> u64 {
        self.inner.node_id
    }

    /// A proposal (client write) made under the current context.
    pub fn propose(&self) -> ProposeGuard {
        Context::map_current(|cx| self.propose_in(cx))
    }

    /// A proposal made under `parent`.
    pub fn propose_in(&self, parent: &Context) -> ProposeGuard {
        let inner = &self.inner;
        inner.proposals.add(1);
        let mut span =
            inner
                .telemetry
                .start_span(names::SPAN_PROPOSE, SpanKind::Internal, parent, &[]);
        let slot = if span.is_recording() {
            for kv in &inner.node {
                span.set_attribute(kv.clone());
            }
            SpanSlot::Recording(Context::new().with_span(span))
        } else {
            SpanSlot::Quiet(span.span_context().clone())
        };
        ProposeGuard {
            inner: Arc::clone(inner),
            slot,
            start: Instant::now(),
            finished: false,
        }
    }

    /// A log append in `role`, with one span per traced entry of `entries` (log index and the
    /// entry's encoded context, if any). Add more entries with [`EntryBatch::entry`].
    pub fn append<'a>(
        &self,
        role: Role,
        entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>,
    ) -> EntryBatch {
        self.batch(BatchOp::Append(role), entries)
    }

    /// One replication round (AppendEntries) to `peer`, spans as for [`RaftInstruments::append`].
    pub fn replicate<'a>(
        &self,
        peer: u64,
        entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>,
    ) -> EntryBatch {
        self.batch(BatchOp::Replicate(peer), entries)
    }

    /// Entries waiting to commit on the leader, from now until [`EntryBatch::finish`].
    pub fn commit<'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>,
    ) -> EntryBatch {
        self.batch(BatchOp::Commit, entries)
    }

    /// Committed entries applied to the state machine; counts `raft.applied_entries`.
    pub fn apply<'a>(
        &self,
        entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>,
    ) -> EntryBatch {
        self.batch(BatchOp::Apply, entries)
    }

    fn batch<'a>(
        &self,
        op: BatchOp,
        entries: impl IntoIterator<Item = (u64, Option<&'a [u8]>)>,
    ) -> EntryBatch {
        let mut batch = EntryBatch {
            inner: Arc::clone(&self.inner),
            op,
            start: Instant::now(),
            entries: 0,
            spans: Vec::new(),
            root: None,
            finished: false,
        };
        let mut range: Option<(u64, u64)> = None;
        for (index, context) in entries {
            range = Some(range.map_or((index, index), |(first, _)| (first, index)));
            batch.entry(index, context);
        }
        // A replicate span stands for one traced entry, but its AppendEntries carried the
        // whole range: say so, or a span whose RPC moved other traces' entries looks empty.
        if let (BatchOp::Replicate(_), Some((first, last))) = (op, range) {
            for cx in &batch.spans {
                let span = cx.span();
                span.set_attribute(KeyValue::new(names::LOG_FIRST_INDEX, node_id_value(first)));
                span.set_attribute(KeyValue::new(names::LOG_LAST_INDEX, node_id_value(last)));
                span.set_attribute(KeyValue::new(names::ENTRY_COUNT, batch.entries as i64));
            }
        }
        batch
    }

    /// The leader's AppendEntries to `peer` carrying no entry. It starts no trace unless a
    /// sampling rule names `raft.heartbeat`; run the RPC under [`RaftSpan::context`] so the
    /// transport's own spans follow that decision.
    pub fn heartbeat(&self, peer: u64) -> RaftSpan {
        let mut span = self.span(names::SPAN_HEARTBEAT, SpanKind::Client, &Context::new());
        if span.recording {
            span.set(KeyValue::new(names::PEER, node_id_value(peer)));
        }
        span
    }

    /// This node asking `peer` for its vote in `term`.
    pub fn vote(&self, peer: u64, term: u64) -> RaftSpan {
        let mut span = self.span(names::SPAN_VOTE, SpanKind::Client, &Context::new());
        if span.recording {
            span.set(KeyValue::new(names::PEER, node_id_value(peer)));
            span.set(KeyValue::new(names::TERM_ATTR, node_id_value(term)));
        }
        span
    }

    /// This node running an election for `term`.
    pub fn election(&self, term: u64) -> RaftSpan {
        let mut span = self.span(names::SPAN_ELECTION, SpanKind::Internal, &Context::new());
        if span.recording {
            span.set(KeyValue::new(names::TERM_ATTR, node_id_value(term)));
        }
        span
    }

    /// A snapshot built, sent or installed (`operation`: `build`, `send`, `install`).
    pub fn snapshot(&self, operation: &'static str) -> RaftSpan {
        let mut span = self.span(names::SPAN_SNAPSHOT, SpanKind::Internal, &Context::new());
        if span.recording {
            span.set(KeyValue::new(names::SNAPSHOT_OPERATION, operation));
        }
        span
    }

    fn span(&self, name: &'static str, kind: SpanKind, parent: &Context) -> RaftSpan {
        let inner = &self.inner;
        let mut span = inner.telemetry.start_span(name, kind, parent, &[]);
        let recording = span.is_recording();
        if recording {
            for kv in &inner.node {
                span.set_attribute(kv.clone());
            }
        }
        RaftSpan {
            span,
            recording,
            finished: false,
        }
    }

    /// The current term (`raft.term`).
    pub fn observe_term(&self, term: u64) {
        self.inner.observed.term.store(term, Ordering::Relaxed);
    }

    /// The commit index advanced to `commit_index`, committing `newly_committed` entries
    /// (`raft.commit_index`, `raft.committed_entries`).
    pub fn observe_commit(&self, commit_index: u64, newly_committed: u64) {
        let inner = &self.inner;
        inner
            .observed
            .commit_index
            .store(commit_index, Ordering::Relaxed);
        if newly_committed > 0 {
            inner.committed.add(newly_committed);
        }
    }

    /// The leader this node knows of; a different leader than the last one seen counts a
    /// leader change (as etcd counts `leader_changes_seen_total`).
    pub fn observe_leader(&self, leader: Option<u64>) {
        let inner = &self.inner;
        let mut known = lock(&inner.observed.leader);
        if leader.is_some() && *known != leader {
            inner.leader_changes.add(1);
        }
        *known = leader;
    }

    /// Entries in the log (`raft.log.entries`).
    pub fn observe_log_entries(&self, entries: u64) {
        self.inner
            .observed
            .log_entries
            .store(entries, Ordering::Relaxed);
    }

    /// On the leader: the entries each follower is behind (`raft.replication.lag`), for
    /// engines that know the counts but not the indexes (else
    /// [`RaftInstruments::observe_replication`]). Replaces the previous set; an empty set (this
    /// node is not the leader) reports none.
    pub fn observe_replication_lag(&self, lags: impl IntoIterator<Item = (u64, u64)>) {
        let mut lag = lock(&self.inner.observed.lag);
        lag.clear();
        lag.extend(lags);
    }

    /// On the leader, whose log ends at `last_index`: the last index each follower has
    /// acknowledged (`None`: none yet). Reports `raft.replication.lag` in entries and
    /// `raft.replication.lag.duration`, the age of the oldest entry each follower lacks, timed
    /// from its [`RaftInstruments::leader_appended`]. Replaces the previous set; an empty set
    /// (this node is not the leader) reports none.
    pub fn observe_replication(
        &self,
        last_index: u64,
        matched: impl IntoIterator<Item = (u64, Option<u64>)>,
    ) {
        let observed = &self.inner.observed;
        let matched: Vec<(u64, Option<u64>)> = matched.into_iter().collect();
        self.observe_replication_lag(matched.iter().map(|(peer, m)| {
            let next = m.map_or(0, |m| m.saturating_add(1));
            (*peer, last_index.saturating_add(1).saturating_sub(next))
        }));
        // Appends every follower holds need no time any more.
        {
            let mut appended = lock(&observed.appended_at);
            if matched.is_empty() {
                // Not the leader: the times belong to a term that is over.
                appended.clear();
            } else if let Some(everyone) = matched.iter().map(|(_, m)| *m).min().flatten() {
                while appended.front().is_some_and(|(last, _)| *last <= everyone) {
                    appended.pop_front();
                }
            }
        }
        *lock(&observed.matched) = matched;
    }

    /// The size of the log in bytes (`raft.log.size`), for engines and adapters that know it;
    /// nothing is exported until it is first reported.
    pub fn observe_log_bytes(&self, bytes: u64) {
        *lock(&self.inner.observed.log_bytes) = Some(bytes);
    }
}

/// The span of a guard: a context holding the span when it records (so histograms can link
/// to it as an exemplar), only its ids when it does not.
#[derive(Debug)]
enum SpanSlot {
    Recording(Context),
    Quiet(opentelemetry::trace::SpanContext),
}

/// A proposal in flight: `finish` it with the entry's log index or `fail` it with the reason.
/// Dropped unfinished, it counts as failed with `error.type=dropped`.
#[derive(Debug)]
#[must_use = "a proposal is measured when it is finished or failed"]
pub struct ProposeGuard {
    inner: Arc<Inner>,
    slot: SpanSlot,
    start: Instant,
    finished: bool,
}

impl ProposeGuard {
    /// The proposal span's context, to put in the entry: every replica's spans for the entry
    /// become its children, and record exactly when this proposal is sampled.
    pub fn entry_context(&self) -> Option<EntryContext> {
        match &self.slot {
            SpanSlot::Recording(cx) => EntryContext::from_context(cx),
            SpanSlot::Quiet(sc) => EntryContext::from_span_context(sc),
        }
    }

    /// The encoded [`ProposeGuard::entry_context`] (empty when there is none).
    pub fn encoded_entry_context(&self) -> Vec<u8> {
        self.entry_context().map(|c| c.encode()).unwrap_or_default()
    }

    /// A context with the proposal span active, for the caller's own child spans.
    pub fn context(&self) -> Context {
        match &self.slot {
            SpanSlot::Recording(cx) => cx.clone(),
            SpanSlot::Quiet(sc) => Context::new().with_remote_span_context(sc.clone()),
        }
    }

    /// The proposal was committed and applied at `log_index`.
    pub fn finish(mut self, log_index: u64) {
        self.end(Ok(log_index));
    }

    /// The proposal failed (`error.type`, e.g. `not_leader`, `timeout`).
    pub fn fail(mut self, error_type: &'static str) {
        self.end(Err(error_type));
    }

    fn end(&mut self, result: Result<u64, &'static str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let inner = &self.inner;
        let elapsed = self.start.elapsed().as_secs_f64();
        let empty = Context::new();
        let cx = match &self.slot {
            SpanSlot::Recording(cx) => cx,
            SpanSlot::Quiet(_) => &empty,
        };
        match result {
            Ok(index) => {
                inner.proposal_ok.record(elapsed, cx);
                if let SpanSlot::Recording(cx) = &self.slot {
                    cx.span()
                        .set_attribute(KeyValue::new(names::LOG_INDEX, node_id_value(index)));
                }
            }
            Err(error_type) => {
                let mut attrs = inner.node.clone();
                attrs.push(KeyValue::new(ERROR_TYPE, error_type));
                // Rare: the series is looked up by its attributes.
                inner.proposals_failed.series(&attrs).add(1);
                inner.proposal_duration.series(&attrs).record(elapsed, cx);
                if let SpanSlot::Recording(cx) = &self.slot {
                    let span = cx.span();
                    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
                    span.set_status(Status::error(error_type));
                }
            }
        }
        if let SpanSlot::Recording(cx) = &self.slot {
            cx.span().end();
        }
    }
}

impl Drop for ProposeGuard {
    fn drop(&mut self) {
        self.end(Err("dropped"));
    }
}

#[derive(Clone, Copy, Debug)]
enum BatchOp {
    Append(Role),
    Replicate(u64),
    Commit,
    Apply,
}

impl BatchOp {
    fn span_name(self) -> &'static str {
        match self {
            BatchOp::Append(_) => names::SPAN_APPEND,
            BatchOp::Replicate(_) => names::SPAN_REPLICATE,
            BatchOp::Commit => names::SPAN_COMMIT,
            BatchOp::Apply => names::SPAN_APPLY,
        }
    }
}

/// A batch of entries going through one operation (append, replicate, commit, apply).
///
/// Spans: one per entry whose context says *sampled*, a child of the proposer's span, so
/// each proposal's trace holds the operation however the entries were batched; none for an
/// entry whose proposer did not sample; and one fresh root span (the sampler decides) for all
/// entries without a readable context (old logs, blank and membership entries, corrupt or
/// foreign bytes). Every span covers the whole batch and carries `raft.entry.count`.
///
/// `finish` records the duration once per batch; dropped unfinished, the spans end with
/// `error.type=cancelled`.
#[derive(Debug)]
#[must_use = "a batch is measured when it is finished"]
pub struct EntryBatch {
    inner: Arc<Inner>,
    op: BatchOp,
    start: Instant,
    entries: u64,
    spans: Vec<Context>,
    /// The context of the fresh root opened for entries without a readable context (its
    /// span when recorded, its ids when not).
    root: Option<Context>,
    finished: bool,
}

impl EntryBatch {
    /// Adds the entry at `index`, with its encoded context if it carries one.
    pub fn entry(&mut self, index: u64, context: Option<&[u8]>) {
        let _ = self.entry_scope(index, context);
    }

    /// Adds the entry at `index` like [`EntryBatch::entry`], and returns the context the
    /// entry's own work runs under: its span when recorded; the proposer's context when the
    /// proposer did not sample, so the work's spans are not sampled either; the fresh root's
    /// for an entry without a readable context.
    pub fn entry_scope(&mut self, index: u64, context: Option<&[u8]>) -> Context {
        match context.map(EntryContext::decode) {
            Some(Ok(entry_context)) => self.entry_with_scope(index, Some(&entry_context)),
            _ => self.entry_with_scope(index, None),
        }
    }

    /// Adds an entry whose context is already decoded.
    pub fn entry_with(&mut self, index: u64, context: Option<&EntryContext>) {
        let _ = self.entry_with_scope(index, context);
    }

    fn entry_with_scope(&mut self, index: u64, context: Option<&EntryContext>) -> Context {
        self.entries += 1;
        let delivery = match self.op {
            BatchOp::Append(Role::Follower) => self.take_delivery(index),
            _ => None,
        };
        match context {
            Some(c) if c.is_sampled() => {
                let proposer = c.to_span_context();
                // The delivering RPC is the parent when it is in the proposer's trace (the
                // tree shows who delivered what); otherwise the proposer stays the parent,
                // so its trace holds the append however entries were batched, and the RPC
                // is a link.
                match delivery {
                    Some(rpc) if rpc.trace_id() == proposer.trace_id() => self.open(
                        index,
                        &Context::new().with_remote_span_context(rpc),
                        Some(proposer),
                    ),
                    rpc => self.open(index, &c.to_context(), rpc),
                }
            }
            Some(c) => c.to_context(),
            None => match &self.root {
                Some(root) => root.clone(),
                None => {
                    let root = self.open(index, &Context::new(), delivery);
                    self.root = Some(root.clone());
                    root
                }
            },
        }
    }

    /// The span of the RPC that delivered the entry at `index`, if one was noted; deliveries
    /// of lower indexes are dropped (a follower appends in log order).
    fn take_delivery(&self, index: u64) -> Option<SpanContext> {
        let mut deliveries = lock(&self.inner.deliveries);
        if deliveries.is_empty() {
            return None;
        }
        let mut rest = deliveries.split_off(&index);
        let found = rest.remove(&index);
        *deliveries = rest;
        found
    }

    /// Entries added so far.
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The contexts of the recording spans, for the caller's own child spans.
    pub fn span_contexts(&self) -> &[Context] {
        &self.spans
    }

    /// Opens the entry's span under `parent` (linked to `link`) and returns its context: the
    /// span when it records, its ids when it does not.
    fn open(&mut self, index: u64, parent: &Context, link: Option<SpanContext>) -> Context {
        let inner = &self.inner;
        let kind = match self.op {
            BatchOp::Replicate(_) => SpanKind::Client,
            _ => SpanKind::Internal,
        };
        let links = link
            .map(|sc| vec![Link::with_context(sc)])
            .unwrap_or_default();
        let mut span = inner
            .telemetry
            .start_span_linked(self.op.span_name(), kind, parent, links);
        if !span.is_recording() {
            return Context::new().with_remote_span_context(span.span_context().clone());
        }
        for kv in &inner.node {
            span.set_attribute(kv.clone());
        }
        span.set_attribute(KeyValue::new(names::LOG_INDEX, node_id_value(index)));
        match self.op {
            BatchOp::Append(role) => span.set_attribute(KeyValue::new(names::ROLE, role.as_str())),
            BatchOp::Replicate(peer) => {
                span.set_attribute(KeyValue::new(names::PEER, node_id_value(peer)))
            }
            _ => {}
        }
        let cx = Context::new().with_span(span);
        self.spans.push(cx.clone());
        cx
    }

    /// Ends the operation: `Err(error_type)` marks every span failed.
    pub fn finish(mut self, result: Result<(), &'static str>) {
        self.end(result);
    }

    fn end(&mut self, result: Result<(), &'static str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let inner = &self.inner;
        let elapsed = self.start.elapsed().as_secs_f64();
        let empty = Context::new();
        let cx = self.spans.first().unwrap_or(&empty);
        match self.op {
            BatchOp::Append(role) => {
                let series = match role {
                    Role::Leader => &inner.append_leader,
                    Role::Follower => &inner.append_follower,
                };
                series.record(elapsed, cx);
            }
            BatchOp::Commit => {
                if self.entries > 0 {
                    inner.commit_duration.record(elapsed, cx);
                }
            }
            BatchOp::Apply => {
                inner.applied.add(self.entries);
                inner.apply_duration.record(elapsed, cx);
            }
            BatchOp::Replicate(_) => {}
        }
        let count = i64::try_from(self.entries).unwrap_or(i64::MAX);
        for cx in &self.spans {
            let span = cx.span();
            span.set_attribute(KeyValue::new(names::ENTRY_COUNT, count));
            if let Err(error_type) = result {
                span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
                span.set_status(Status::error(error_type));
            }
            span.end();
        }
    }
}

impl Drop for EntryBatch {
    fn drop(&mut self) {
        self.end(Err("cancelled"));
    }
}

/// A single-span Raft operation (vote, election, snapshot). Dropped unfinished, it ends
/// failed with `error.type=cancelled`.
#[derive(Debug)]
#[must_use = "the span ends when the guard is finished"]
pub struct RaftSpan {
    span: crate::telemetry::OpsSpan,
    recording: bool,
    finished: bool,
}

impl RaftSpan {
    fn set(&mut self, kv: KeyValue) {
        self.span.set_attribute(kv);
    }

    /// A context with this span as the parent, sampled or not, for the work it covers.
    pub fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.span.span_context().clone())
    }

    /// Whether the span is recorded (sampled).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Records whether the vote was granted (on a vote span).
    pub fn granted(&mut self, granted: bool) {
        if self.recording {
            self.set(KeyValue::new(names::VOTE_GRANTED, granted));
        }
    }

    /// Records whether this node won (on an election span).
    pub fn won(&mut self, won: bool) {
        if self.recording {
            self.set(KeyValue::new(names::ELECTION_WON, won));
        }
    }

    /// Ends the span; `Err(error_type)` marks it failed.
    pub fn finish(mut self, result: Result<(), &'static str>) {
        self.end(result);
    }

    fn end(&mut self, result: Result<(), &'static str>) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Err(error_type) = result {
            if self.recording {
                self.span
                    .set_attribute(KeyValue::new(ERROR_TYPE, error_type));
                self.span.set_status(Status::error(error_type));
            }
        }
        self.span.end();
    }
}

impl Drop for RaftSpan {
    fn drop(&mut self) {
        self.end(Err("cancelled"));
    }
}
