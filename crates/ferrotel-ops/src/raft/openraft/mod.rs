//! (Feature `openraft`.) openraft (0.9) traced end to end: wrappers around its storage and
//! network traits, a traced client write, the entry carrier inside its application data, and
//! its metrics channel turned into the Raft gauges and counters.
//!
//! A node wraps its log store, state machine and network factory, proposes through
//! [`client_write`], and follows its metrics:
//!
//! ```no_run
//! use std::io::Cursor;
//! use std::sync::Arc;
//!
//! use ferrotel_ops::raft::openraft::{
//!     client_write, follow_metrics, Traced, TracedLogStore, TracedNetworkFactory,
//!     TracedStateMachine,
//! };
//! use ferrotel_ops::raft::RaftInstruments;
//! use ferrotel_ops::OpsTelemetry;
//! use openraft::storage::{RaftLogStorage, RaftStateMachine};
//! use openraft::{Config, Raft, RaftNetworkFactory};
//!
//! // The application's data travels wrapped in `Traced`.
//! openraft::declare_raft_types!(pub TypeConfig: D = Traced<String>, R = ());
//!
//! async fn start(
//!     id: u64,
//!     telemetry: &OpsTelemetry,
//!     log_store: impl RaftLogStorage<TypeConfig>,
//!     state_machine: impl RaftStateMachine<TypeConfig>,
//!     network: impl RaftNetworkFactory<TypeConfig>,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let instruments = RaftInstruments::new(telemetry, id);
//!     let config = Arc::new(Config::default().validate()?);
//!     let raft = Raft::new(
//!         id,
//!         config,
//!         TracedNetworkFactory::new(network, instruments.clone()),
//!         TracedLogStore::new(log_store, instruments.clone()),
//!         TracedStateMachine::new(state_machine, instruments.clone()),
//!     )
//!     .await?;
//!     tokio::spawn(follow_metrics(instruments.clone(), raft.metrics()));
//!
//!     // A `raft.propose` span under the current context; every replica's append and apply
//!     // spans for this entry become its children.
//!     let response = client_write(&raft, &instruments, "x=1".to_string()).await?;
//!     println!("committed at {}", response.log_id.index);
//!     Ok(())
//! }
//! ```
//!
//! openraft instruments with `tracing` but carries no trace context in its log entries, so
//! [`Traced`] wraps the application's data with the proposer's encoded
//! [`EntryContext`](crate::raft::EntryContext); [`CarriesEntryContext`] reads it back from an entry
//! on any replica. [`TracedLogStore`] opens the append spans, [`TracedStateMachine`] the apply
//! and snapshot spans (each entry's apply span is current while the state machine applies
//! it), [`TracedNetworkFactory`] the replicate, vote and snapshot-send spans. On the receiving
//! side, the transport's handler passes AppendEntries through [`append_entries`], so each
//! follower append hangs under the RPC that delivered it.
//! [`observe_metrics`] follows `Raft::metrics()` (term, leader changes, log size, replication
//! lag).
//!
//! The feature turns on openraft's `storage-v2` (so [`RaftLogStorage`] and
//! [`RaftStateMachine`] can be implemented outside openraft) and `serde` (so its RPC types,
//! carrying [`Traced`], can be sent over the service's own network).
//!
//! [`RaftLogStorage`]: openraft::storage::RaftLogStorage
//! [`RaftStateMachine`]: openraft::storage::RaftStateMachine

mod network;
mod scope;
mod storage;
mod write;

pub use network::{append_entries, TracedNetwork, TracedNetworkFactory};
pub use storage::{TracedLogStore, TracedSnapshotBuilder, TracedStateMachine};
pub use write::client_write;

use openraft::{Entry, EntryPayload, Node, NodeId, RaftMetrics, RaftTypeConfig};

use super::{ProposeGuard, RaftInstruments};

/// Application data with the proposer's encoded entry context: use `Traced<D>` as the
/// `D` of the `RaftTypeConfig`. Serializable when `D` is, so openraft's RPCs carrying it
/// can cross the service's network.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Traced<D> {
    /// The encoded [`EntryContext`](crate::raft::EntryContext); empty when there is none.
    pub context: Vec<u8>,
    /// The application's data.
    pub data: D,
}

impl<D> Traced<D> {
    /// `data` carrying the proposal's context (its span is the replicas' parent).
    pub fn proposed(proposal: &ProposeGuard, data: D) -> Self {
        Traced {
            context: proposal.encoded_entry_context(),
            data,
        }
    }

    /// `data` carrying the context of the current span, if any.
    pub fn current(data: D) -> Self {
        Traced {
            context: super::EntryContext::current()
                .map(|c| c.encode())
                .unwrap_or_default(),
            data,
        }
    }

    /// `data` without a context: replicas give its spans a fresh root.
    pub fn without_context(data: D) -> Self {
        Traced {
            context: Vec::new(),
            data,
        }
    }
}

/// What carries an encoded entry context: [`Traced`], and openraft's `Entry` whose
/// application data does.
pub trait CarriesEntryContext {
    /// The encoded context, `None` when the entry has none (blank, membership, old data).
    fn entry_context(&self) -> Option<&[u8]>;
}

impl<D> CarriesEntryContext for Traced<D> {
    fn entry_context(&self) -> Option<&[u8]> {
        (!self.context.is_empty()).then_some(self.context.as_slice())
    }
}

impl<C> CarriesEntryContext for Entry<C>
where
    C: RaftTypeConfig,
    C::D: CarriesEntryContext,
{
    fn entry_context(&self) -> Option<&[u8]> {
        match &self.payload {
            EntryPayload::Normal(data) => data.entry_context(),
            EntryPayload::Blank | EntryPayload::Membership(_) => None,
        }
    }
}

/// Records one snapshot of openraft's metrics: term, leader (counting changes, and
/// `raft.has_leader`), log entries (last index minus purged) and, on the leader, each
/// follower's lag behind the last log index, in entries and in time. Call it for every change of `Raft::metrics()`, e.g.
/// `while rx.changed().await.is_ok() { observe_metrics(&raft_instruments, &rx.borrow()) }`.
pub fn observe_metrics<NID, N>(instruments: &RaftInstruments, metrics: &RaftMetrics<NID, N>)
where
    NID: NodeId + Into<u64>,
    N: Node,
{
    instruments.observe_term(metrics.current_term);
    instruments.observe_leader(metrics.current_leader.clone().map(Into::into));
    let first = metrics.purged.as_ref().map(|p| p.index + 1).unwrap_or(0);
    let entries = metrics
        .last_log_index
        .map(|last| (last + 1).saturating_sub(first))
        .unwrap_or(0);
    instruments.observe_log_entries(entries);
    let last = metrics.last_log_index;
    match (&metrics.replication, last) {
        (Some(replication), Some(last)) => instruments.observe_replication(
            last,
            replication
                .iter()
                .filter(|(peer, _)| **peer != metrics.id)
                .map(|(peer, matched)| (peer.clone().into(), matched.as_ref().map(|m| m.index))),
        ),
        _ => instruments.observe_replication(0, []),
    }
}

/// Follows `Raft::metrics()` until the Raft node shuts down, observing every snapshot (the
/// current one first). Spawn it once per node:
/// `tokio::spawn(follow_metrics(instruments.clone(), raft.metrics()))`.
pub async fn follow_metrics<NID, N>(
    instruments: RaftInstruments,
    mut metrics: tokio::sync::watch::Receiver<RaftMetrics<NID, N>>,
) where
    NID: NodeId + Into<u64>,
    N: Node,
{
    observe_metrics(&instruments, &metrics.borrow_and_update());
    while metrics.changed().await.is_ok() {
        observe_metrics(&instruments, &metrics.borrow_and_update());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::OpsTelemetry;
    use openraft::{CommittedLeaderId, LogId};

    #[test]
    fn snapshots_with_every_field_or_none_are_accepted() {
        let telemetry = OpsTelemetry::new(None, None, Default::default());
        let raft = RaftInstruments::new(&telemetry, 1);
        let mut m = RaftMetrics::<u64, openraft::BasicNode>::new_initial(1);
        m.current_term = 3;
        m.current_leader = Some(1);
        m.last_log_index = Some(9);
        let log_id = |index| LogId::new(CommittedLeaderId::new(3, 1), index);
        m.purged = Some(log_id(1));
        m.replication = Some(
            [
                (1, Some(log_id(9))),
                (2, Some(log_id(9))),
                (3, Some(log_id(5))),
            ]
            .into_iter()
            .collect(),
        );
        observe_metrics(&raft, &m);
        // The values are checked on the wire in tests/raft.rs; here, a snapshot with
        // nothing set (a fresh node) is accepted too.
        observe_metrics(
            &raft,
            &RaftMetrics::<u64, openraft::BasicNode>::new_initial(2),
        );
    }

    #[test]
    fn traced_data_carries_its_context() {
        let d = Traced::without_context(5u8);
        assert_eq!(d.entry_context(), None);
        let d = Traced {
            context: vec![1, 2],
            data: 5u8,
        };
        assert_eq!(d.entry_context(), Some(&[1u8, 2][..]));
    }
}
