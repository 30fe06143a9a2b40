//! Traced wrappers around openraft's network traits: replication, vote and snapshot RPCs.

use std::future::Future;

use opentelemetry::context::FutureExt as _;
use opentelemetry::Context;

use openraft::error::{
    Fatal, InstallSnapshotError, RPCError, RaftError, ReplicationClosed, StreamingError,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, Raft, RaftLogId as _, RaftTypeConfig, Snapshot, Vote};

use super::CarriesEntryContext;
use crate::raft::RaftInstruments;

/// On a follower: hands an AppendEntries RPC from the leader to `raft`, noting the current
/// context (the transport's server span of the RPC) as the delivery of its entries, so each
/// follower `raft.append` shows which RPC delivered it: its child when the RPC is in the
/// entry's trace, a link when not (see the [module docs](crate::raft)). Call it in place of
/// `raft.append_entries(rpc)` in the RPC handler; openraft's answer is returned unchanged.
pub async fn append_entries<C>(
    raft: &Raft<C>,
    instruments: &RaftInstruments,
    rpc: AppendEntriesRequest<C>,
) -> Result<AppendEntriesResponse<C::NodeId>, RaftError<C::NodeId>>
where
    C: RaftTypeConfig,
{
    if !rpc.entries.is_empty() {
        instruments.delivered(
            rpc.entries.iter().map(|e| e.get_log_id().index),
            &Context::current(),
        );
    }
    raft.append_entries(rpc).await
}

/// A [`RaftNetworkFactory`] whose clients are [`TracedNetwork`]s around the wrapped
/// factory's clients.
#[derive(Debug, Clone)]
pub struct TracedNetworkFactory<N> {
    inner: N,
    instruments: RaftInstruments,
}

impl<N> TracedNetworkFactory<N> {
    /// Wraps `inner`, recording with `instruments` (this node's).
    pub fn new(inner: N, instruments: RaftInstruments) -> Self {
        TracedNetworkFactory { inner, instruments }
    }

    /// The wrapped factory.
    pub fn inner(&self) -> &N {
        &self.inner
    }
}

impl<C, N> RaftNetworkFactory<C> for TracedNetworkFactory<N>
where
    C: RaftTypeConfig,
    C::NodeId: Into<u64>,
    C::Entry: CarriesEntryContext,
    N: RaftNetworkFactory<C>,
{
    type Network = TracedNetwork<N::Network>;

    async fn new_client(&mut self, target: C::NodeId, node: &C::Node) -> Self::Network {
        let inner = self.inner.new_client(target.clone(), node).await;
        TracedNetwork {
            inner,
            instruments: self.instruments.clone(),
            peer: target.into(),
        }
    }
}

/// A [`RaftNetwork`] client to one peer, tracing its RPCs:
///
/// - `append_entries` with no entries: a `raft.heartbeat` span (CLIENT), which starts no trace
///   unless a sampling rule names it; the RPC runs under its (unsampled) context, so the
///   transport's layers start no trace either. Metrics count it all the same.
/// - `append_entries`: a `raft.replicate` span (CLIENT) per traced entry, children of the
///   proposers' spans, with the log range the RPC carried. The inner call runs with the first such span as the current
///   OpenTelemetry context, so a tonic or HTTP client layer under it propagates that trace
///   to the peer; with no traced entry (heartbeats, unsampled entries) the caller's context
///   is kept.
/// - `vote`: a `raft.vote` span with the term and whether the vote was granted.
/// - `full_snapshot`: a `raft.snapshot` span (`raft.snapshot.operation=send`).
///
/// A failed RPC ends its spans with `error.type` (`timeout`, `unreachable`, `network`,
/// `payload_too_large`, `remote`, `closed`, `storage`).
#[derive(Debug, Clone)]
pub struct TracedNetwork<N> {
    inner: N,
    instruments: RaftInstruments,
    peer: u64,
}

impl<N> TracedNetwork<N> {
    /// The wrapped client.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The peer this client sends to.
    pub fn peer(&self) -> u64 {
        self.peer
    }
}

fn rpc_error_type<NID, N, E>(error: &RPCError<NID, N, E>) -> &'static str
where
    NID: openraft::NodeId,
    N: openraft::Node,
    E: std::error::Error,
{
    match error {
        RPCError::Timeout(_) => "timeout",
        RPCError::Unreachable(_) => "unreachable",
        RPCError::PayloadTooLarge(_) => "payload_too_large",
        RPCError::Network(_) => "network",
        RPCError::RemoteError(_) => "remote",
    }
}

fn streaming_error_type<C, E>(error: &StreamingError<C, E>) -> &'static str
where
    C: RaftTypeConfig,
    E: std::error::Error,
{
    match error {
        StreamingError::Closed(_) => "closed",
        StreamingError::StorageError(_) => "storage",
        StreamingError::Timeout(_) => "timeout",
        StreamingError::Unreachable(_) => "unreachable",
        StreamingError::Network(_) => "network",
        StreamingError::RemoteError(_) => "remote",
    }
}

// `install_snapshot` is deprecated only under openraft's `generic-snapshot-data`; forwarding
// it keeps the wrapper complete either way.
#[allow(deprecated)]
impl<C, N> RaftNetwork<C> for TracedNetwork<N>
where
    C: RaftTypeConfig,
    C::Entry: CarriesEntryContext,
    N: RaftNetwork<C>,
{
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C::NodeId>, RPCError<C::NodeId, C::Node, RaftError<C::NodeId>>>
    {
        if rpc.entries.is_empty() {
            let span = self.instruments.heartbeat(self.peer);
            let result = self
                .inner
                .append_entries(rpc, option)
                .with_context(span.context())
                .await;
            span.finish(result.as_ref().map(|_| ()).map_err(rpc_error_type));
            return result;
        }
        let batch = self.instruments.replicate(
            self.peer,
            rpc.entries
                .iter()
                .map(|e| (e.get_log_id().index, e.entry_context())),
        );
        let cx = batch
            .span_contexts()
            .first()
            .cloned()
            .unwrap_or_else(Context::current);
        let result = self
            .inner
            .append_entries(rpc, option)
            .with_context(cx)
            .await;
        batch.finish(result.as_ref().map(|_| ()).map_err(rpc_error_type));
        result
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<C>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<C::NodeId>,
        RPCError<C::NodeId, C::Node, RaftError<C::NodeId, InstallSnapshotError>>,
    > {
        self.inner.install_snapshot(rpc, option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C::NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<C::NodeId>, RPCError<C::NodeId, C::Node, RaftError<C::NodeId>>> {
        let mut span = self.instruments.vote(self.peer, rpc.vote.leader_id().term);
        let result = self.inner.vote(rpc, option).await;
        match &result {
            Ok(response) => {
                span.granted(response.vote_granted);
                span.finish(Ok(()));
            }
            Err(e) => span.finish(Err(rpc_error_type(e))),
        }
        result
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<C::NodeId>,
        snapshot: Snapshot<C>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C::NodeId>, StreamingError<C, Fatal<C::NodeId>>> {
        let span = self.instruments.snapshot("send");
        let result = self
            .inner
            .full_snapshot(vote, snapshot, cancel, option)
            .await;
        span.finish(result.as_ref().map(|_| ()).map_err(streaming_error_type));
        result
    }

    fn backoff(&self) -> Backoff {
        self.inner.backoff()
    }
}
