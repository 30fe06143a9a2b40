//! Traced wrappers around openraft's storage traits: the log store (append spans) and the
//! state machine (apply and snapshot spans).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    LogId, LogState, OptionalSend, RaftLogId as _, RaftLogReader, RaftSnapshotBuilder,
    RaftTypeConfig, Snapshot, SnapshotMeta, StorageError, StoredMembership, Vote,
};

use super::scope::{self, Scope, ScopedEntries};
use super::CarriesEntryContext;
use crate::raft::{RaftInstruments, RaftSpan, Role};

/// The `error.type` of a span whose storage call failed.
const STORAGE_ERROR: &str = "storage";

/// A [`RaftLogStorage`] that opens a `raft.append` span per traced entry around every append
/// of the wrapped store, and forwards everything else.
///
/// The role (`raft.role`) comes from the vote this store last saved or read: `leader` when
/// that vote is committed and names this node (openraft's own test for leadership), else
/// `follower`. Votes and appends go through the store in order, so the role is the one in
/// force when the entries are appended.
///
/// Elections are seen here too: a `raft.election` span opens when this node saves a vote for
/// itself that is not yet committed (it became a candidate), and ends at the next vote saved,
/// with `raft.election.won` true when that vote is its own, committed.
///
/// The spans end when the inner `append` returns (the entries are readable), not when the
/// IO is flushed: openraft's `LogFlushed` callback cannot be built outside openraft, so it
/// cannot be wrapped.
///
/// With [`TracedLogStore::with_entry_size`] it also reports the log's size in bytes
/// (`raft.log.size`), from the entries it sees appended, truncated and purged.
#[derive(Debug)]
pub struct TracedLogStore<S> {
    inner: S,
    instruments: RaftInstruments,
    leading: bool,
    election: Option<RaftSpan>,
    sizes: Option<LogSizes>,
}

/// An entry's size; `None` for an entry of another type than the one given.
type SizeOf = Arc<dyn Fn(&dyn Any) -> Option<u64> + Send + Sync>;

/// The size of each entry in the log, and their sum.
struct LogSizes {
    size_of: SizeOf,
    by_index: BTreeMap<u64, u64>,
    total: u64,
}

impl std::fmt::Debug for LogSizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSizes")
            .field("entries", &self.by_index.len())
            .field("total", &self.total)
            .finish()
    }
}

impl LogSizes {
    fn remove(&mut self, removed: BTreeMap<u64, u64>) {
        self.total = self.total.saturating_sub(removed.values().sum());
    }
}

impl<S> TracedLogStore<S> {
    /// Wraps `inner`, recording with `instruments` (whose node id is this node's).
    pub fn new(inner: S, instruments: RaftInstruments) -> Self {
        TracedLogStore {
            inner,
            instruments,
            leading: false,
            election: None,
            sizes: None,
        }
    }

    /// Reports `raft.log.size`: `size` gives the bytes of one entry (e.g. its encoded length,
    /// for the store's type of entry `E`, openraft's `Entry<C>`). Counted from the entries
    /// appended through this wrapper: entries already in the log when it started are not.
    pub fn with_entry_size<E: Any>(
        mut self,
        size: impl Fn(&E) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.sizes = Some(LogSizes {
            size_of: Arc::new(move |entry: &dyn Any| entry.downcast_ref::<E>().map(&size)),
            by_index: BTreeMap::new(),
            total: 0,
        });
        self.instruments.observe_log_bytes(0);
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn note_vote<NID>(&mut self, vote: &Vote<NID>) -> bool
    where
        NID: openraft::NodeId + Into<u64>,
    {
        let mine = vote.leader_id().voted_for().map(Into::into) == Some(self.instruments.node_id());
        self.leading = vote.is_committed() && mine;
        mine
    }

    fn note_saved_vote<NID>(&mut self, vote: &Vote<NID>)
    where
        NID: openraft::NodeId + Into<u64>,
    {
        let mine = self.note_vote(vote);
        if let Some(mut election) = self.election.take() {
            election.won(self.leading);
            election.finish(Ok(()));
        }
        if mine && !vote.is_committed() {
            self.election = Some(self.instruments.election(vote.leader_id().term));
        }
    }
}

impl<C, S> RaftLogReader<C> for TracedLogStore<S>
where
    C: RaftTypeConfig,
    S: RaftLogReader<C>,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.inner.try_get_log_entries(range).await
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.inner.limited_get_log_entries(start, end).await
    }
}

impl<C, S> RaftLogStorage<C> for TracedLogStore<S>
where
    C: RaftTypeConfig,
    C::NodeId: Into<u64>,
    C::Entry: CarriesEntryContext + Any,
    S: RaftLogStorage<C>,
{
    type LogReader = S::LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        self.inner.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.inner.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.inner.save_vote(vote).await?;
        self.note_saved_vote(vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        let vote = self.inner.read_vote().await?;
        match &vote {
            Some(v) => {
                self.note_vote(v);
            }
            None => self.leading = false,
        }
        Ok(vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        self.inner.save_committed(committed).await
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        self.inner.read_committed().await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let role = if self.leading {
            Role::Leader
        } else {
            Role::Follower
        };
        let mut batch = self.instruments.append(role, std::iter::empty());
        // On the leader the commit wait starts with the append: (index, context) of each entry.
        let mut appended: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
        let mut sized: Vec<(u64, u64)> = Vec::new();
        let size_of = self.sizes.as_ref().map(|s| Arc::clone(&s.size_of));
        let leading = role == Role::Leader;
        // Spans open as the inner store takes the entries: no copy of the batch.
        let entries = entries.into_iter().inspect(|e| {
            let index = e.get_log_id().index;
            batch.entry(index, e.entry_context());
            if leading {
                appended.push((index, e.entry_context().map(<[u8]>::to_vec)));
            }
            if let Some(bytes) = size_of.as_ref().and_then(|size_of| size_of(e as &dyn Any)) {
                sized.push((index, bytes));
            }
        });
        let result = self.inner.append(entries, callback).await;
        if let (Ok(()), Some(sizes)) = (&result, self.sizes.as_mut()) {
            for (index, bytes) in sized {
                let old = sizes.by_index.insert(index, bytes).unwrap_or(0);
                sizes.total = sizes.total.saturating_sub(old).saturating_add(bytes);
            }
            self.instruments.observe_log_bytes(sizes.total);
        }
        batch.finish(result.as_ref().map(|_| ()).map_err(|_| STORAGE_ERROR));
        if result.is_ok() && !appended.is_empty() {
            self.instruments
                .leader_appended(appended.iter().map(|(i, c)| (*i, c.as_deref())));
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let index = log_id.index;
        self.inner.truncate(log_id).await?;
        if let Some(sizes) = self.sizes.as_mut() {
            // Entries from `log_id.index` on are gone.
            let removed = sizes.by_index.split_off(&index);
            sizes.remove(removed);
            self.instruments.observe_log_bytes(sizes.total);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let index = log_id.index;
        self.inner.purge(log_id).await?;
        if let Some(sizes) = self.sizes.as_mut() {
            // Entries up to `log_id.index` are gone.
            let kept = sizes.by_index.split_off(&index.saturating_add(1));
            let removed = std::mem::replace(&mut sizes.by_index, kept);
            sizes.remove(removed);
            self.instruments.observe_log_bytes(sizes.total);
        }
        Ok(())
    }
}

/// A [`RaftStateMachine`] that opens `raft.apply` spans (one per traced entry, children of
/// the proposer's span) around every apply of the wrapped state machine, counts the applied
/// entries, and opens `raft.snapshot` spans for snapshots built and installed.
///
/// Each entry's apply span is the current OpenTelemetry context from the moment the wrapped
/// state machine takes the entry from its iterator until it takes the next one, so the spans
/// its work opens (object store calls, the application's own) are children of that entry's
/// apply. An entry the proposer did not sample has its proposer's unsampled context current
/// instead, so that work is not sampled either. A state machine that collects the batch
/// before working on it sees the last entry's context throughout: take entries one by one.
///
/// A state machine only sees committed entries, so it also reports the commit: after each
/// apply, `raft.commit_index` is the last applied index and `raft.committed_entries` grows by
/// the batch (the commit as this node has applied it).
#[derive(Debug, Clone)]
pub struct TracedStateMachine<S> {
    inner: S,
    instruments: RaftInstruments,
}

impl<S> TracedStateMachine<S> {
    /// Wraps `inner`, recording with `instruments`.
    pub fn new(inner: S, instruments: RaftInstruments) -> Self {
        TracedStateMachine { inner, instruments }
    }

    /// The wrapped state machine.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<C, S> RaftStateMachine<C> for TracedStateMachine<S>
where
    C: RaftTypeConfig,
    C::Entry: CarriesEntryContext,
    S: RaftStateMachine<C>,
{
    type SnapshotBuilder = TracedSnapshotBuilder<S::SnapshotBuilder>;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<C::NodeId>>,
            StoredMembership<C::NodeId, C::Node>,
        ),
        StorageError<C::NodeId>,
    > {
        self.inner.applied_state().await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<C::R>, StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = self.instruments.apply(std::iter::empty());
        let mut last = None;
        let scope = Scope::new();
        let result = {
            // Each entry's apply span is current while the inner state machine works on it.
            let entries = ScopedEntries::new(entries.into_iter(), &scope, |e: &C::Entry| {
                let index = e.get_log_id().index;
                last = Some(index);
                batch.entry_scope(index, e.entry_context())
            });
            let applying = std::pin::pin!(self.inner.apply(entries));
            scope::run(&scope, applying).await
        };
        match &result {
            Ok(_) => {
                if let Some(last) = last {
                    self.instruments.observe_commit(last, batch.len());
                    self.instruments.committed_through(last);
                }
                batch.finish(Ok(()));
            }
            Err(_) => batch.finish(Err(STORAGE_ERROR)),
        }
        result
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        TracedSnapshotBuilder {
            inner: self.inner.get_snapshot_builder().await,
            instruments: self.instruments.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<C::SnapshotData>, StorageError<C::NodeId>> {
        self.inner.begin_receiving_snapshot().await
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<C::NodeId, C::Node>,
        snapshot: Box<C::SnapshotData>,
    ) -> Result<(), StorageError<C::NodeId>> {
        let span = self.instruments.snapshot("install");
        let result = self.inner.install_snapshot(meta, snapshot).await;
        span.finish(result.as_ref().map(|_| ()).map_err(|_| STORAGE_ERROR));
        result
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<C>>, StorageError<C::NodeId>> {
        self.inner.get_current_snapshot().await
    }
}

/// The snapshot builder of a [`TracedStateMachine`]: a `raft.snapshot` span
/// (`raft.snapshot.operation=build`) around every build of the wrapped builder.
#[derive(Debug, Clone)]
pub struct TracedSnapshotBuilder<B> {
    inner: B,
    instruments: RaftInstruments,
}

impl<B> TracedSnapshotBuilder<B> {
    /// The wrapped builder.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<C, B> RaftSnapshotBuilder<C> for TracedSnapshotBuilder<B>
where
    C: RaftTypeConfig,
    B: RaftSnapshotBuilder<C>,
{
    async fn build_snapshot(&mut self) -> Result<Snapshot<C>, StorageError<C::NodeId>> {
        let span = self.instruments.snapshot("build");
        let result = self.inner.build_snapshot().await;
        span.finish(result.as_ref().map(|_| ()).map_err(|_| STORAGE_ERROR));
        result
    }
}
