//! An in-memory openraft 0.9 node for the tests: log store (`ferrotel-testkit`'s), state machine (the applied
//! values, in order) and an in-process router that delivers RPCs by calling the target
//! node's `Raft` directly, and can cut a node off.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Cursor};
use std::sync::{Arc, Mutex, MutexGuard};

use ferrotel_ops::raft::openraft::{append_entries, Traced};
use ferrotel_ops::raft::RaftInstruments;
use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, Raft, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StoredMembership,
};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracer;

openraft::declare_raft_types!(
    /// The tests' cluster: `u64` values proposed with their trace context.
    pub(crate) TypeConfig: D = Traced<u64>, R = u64
);

pub(crate) type MemRaft = Raft<TypeConfig>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap()
}

/// The log and vote, in memory; clones share it (the log reader is a clone).
pub(crate) type MemLog = ferrotel_testkit::openraft::MemLog<TypeConfig>;

#[derive(Default)]
struct SmInner {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    values: Vec<u64>,
    /// The span current while each value was applied (what an object store call would have
    /// as its parent).
    applied_under: Vec<(u64, SpanContext)>,
    snapshot: Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>,
    snapshots_built: u64,
}

fn encode(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The state machine: every applied value, in log order; clones share it.
#[derive(Clone, Default)]
pub(crate) struct MemStateMachine {
    inner: Arc<Mutex<SmInner>>,
}

impl MemStateMachine {
    /// The values applied so far.
    pub(crate) fn values(&self) -> Vec<u64> {
        lock(&self.inner).values.clone()
    }

    /// Each applied value with the span that was current while it was applied.
    pub(crate) fn applied_under(&self) -> Vec<(u64, SpanContext)> {
        lock(&self.inner).applied_under.clone()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MemStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let mut inner = lock(&self.inner);
        inner.snapshots_built += 1;
        let meta = SnapshotMeta {
            last_log_id: inner.last_applied,
            last_membership: inner.membership.clone(),
            snapshot_id: format!("snapshot-{}", inner.snapshots_built),
        };
        let data = encode(&inner.values);
        inner.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemStateMachine {
    type SnapshotBuilder = MemStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let inner = lock(&self.inner);
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<u64>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut responses = Vec::new();
        for entry in entries {
            // An await between entries, as a state machine doing IO has.
            tokio::task::yield_now().await;
            let current = Context::map_current(|cx| cx.span().span_context().clone());
            let mut inner = lock(&self.inner);
            inner.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => responses.push(0),
                EntryPayload::Normal(traced) => {
                    inner.values.push(traced.data);
                    inner.applied_under.push((traced.data, current));
                    responses.push(traced.data);
                }
                EntryPayload::Membership(m) => {
                    inner.membership = StoredMembership::new(Some(entry.log_id), m);
                    responses.push(0);
                }
            }
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data = snapshot.into_inner();
        let mut inner = lock(&self.inner);
        inner.values = decode(&data);
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.snapshot = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        Ok(lock(&self.inner)
            .snapshot
            .clone()
            .map(|(meta, data)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
    }
}

#[derive(Default)]
struct RouterInner {
    nodes: BTreeMap<u64, MemRaft>,
    /// Each node's instruments and tracer, for the server span of the RPCs it receives.
    servers: BTreeMap<u64, (RaftInstruments, SdkTracer)>,
    cut_off: BTreeSet<u64>,
    append_contexts: Vec<SpanContext>,
}

/// Delivers RPCs between the nodes of one process; clones share it.
#[derive(Clone, Default)]
pub(crate) struct Router {
    inner: Arc<Mutex<RouterInner>>,
}

impl Router {
    /// Registers node `id`.
    pub(crate) fn add(&self, id: u64, raft: MemRaft) {
        lock(&self.inner).nodes.insert(id, raft);
    }

    /// AppendEntries to `id` are handled as a traced transport would: under a SERVER span
    /// `raft.AppendEntries` (the caller's current span its parent), through the adapter's
    /// `append_entries`.
    pub(crate) fn serve_traced(&self, id: u64, instruments: RaftInstruments, tracer: SdkTracer) {
        lock(&self.inner).servers.insert(id, (instruments, tracer));
    }

    /// From now on, every RPC from or to `id` fails as unreachable.
    pub(crate) fn cut_off(&self, id: u64) {
        lock(&self.inner).cut_off.insert(id);
    }

    /// Reconnects `id`.
    pub(crate) fn restore(&self, id: u64) {
        lock(&self.inner).cut_off.remove(&id);
    }

    /// The span context current while each AppendEntries was sent (what a client layer
    /// would propagate), when there was one.
    pub(crate) fn append_contexts(&self) -> Vec<SpanContext> {
        lock(&self.inner).append_contexts.clone()
    }

    /// The network factory of node `from`.
    pub(crate) fn network(&self, from: u64) -> RouterNetwork {
        RouterNetwork {
            router: self.clone(),
            from,
        }
    }
}

/// Node `from`'s side of the [`Router`].
pub(crate) struct RouterNetwork {
    router: Router,
    from: u64,
}

impl RaftNetworkFactory<TypeConfig> for RouterNetwork {
    type Network = RouterClient;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> RouterClient {
        RouterClient {
            router: self.router.clone(),
            from: self.from,
            target,
        }
    }
}

/// A connection from one node to another through the [`Router`].
pub(crate) struct RouterClient {
    router: Router,
    from: u64,
    target: u64,
}

impl RouterClient {
    fn target(&self) -> Result<MemRaft, Unreachable> {
        let inner = lock(&self.router.inner);
        let cut = inner.cut_off.contains(&self.from) || inner.cut_off.contains(&self.target);
        match inner.nodes.get(&self.target) {
            Some(raft) if !cut => Ok(raft.clone()),
            _ => Err(Unreachable::new(&io::Error::new(
                io::ErrorKind::NotConnected,
                "cut off",
            ))),
        }
    }
}

impl RaftNetwork<TypeConfig> for RouterClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let current = Context::map_current(|cx| cx.span().span_context().clone());
        if current.is_valid() {
            lock(&self.router.inner).append_contexts.push(current);
        }
        let raft = self.target().map_err(RPCError::Unreachable)?;
        let server = lock(&self.router.inner).servers.get(&self.target).cloned();
        let result = match server {
            Some((instruments, tracer)) => {
                let span = tracer
                    .span_builder("raft.AppendEntries")
                    .with_kind(SpanKind::Server)
                    .start_with_context(&tracer, &Context::current());
                let cx = Context::new().with_span(span);
                let result = append_entries(&raft, &instruments, rpc)
                    .with_context(cx.clone())
                    .await;
                cx.span().end();
                result
            }
            None => raft.append_entries(rpc).await,
        };
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        let raft = self.target().map_err(RPCError::Unreachable)?;
        raft.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let raft = self.target().map_err(RPCError::Unreachable)?;
        raft.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}
