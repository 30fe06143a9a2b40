//! An in-memory openraft log store, for tests and demos whose nodes live as long as one run
//! (a durable log is the service's own business; ferrotel wraps whichever one it has).

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogId, RaftLogReader, RaftTypeConfig};
use openraft::{StorageError, Vote};

/// The log, vote and committed id of one node, in memory; clones share them (openraft reads
/// through a clone while it appends).
pub struct MemLog<C: RaftTypeConfig> {
    inner: Arc<Mutex<Log<C>>>,
}

struct Log<C: RaftTypeConfig> {
    entries: BTreeMap<u64, C::Entry>,
    vote: Option<Vote<C::NodeId>>,
    committed: Option<LogId<C::NodeId>>,
    last_purged: Option<LogId<C::NodeId>>,
}

impl<C: RaftTypeConfig> Default for MemLog<C> {
    fn default() -> Self {
        MemLog {
            inner: Arc::new(Mutex::new(Log {
                entries: BTreeMap::new(),
                vote: None,
                committed: None,
                last_purged: None,
            })),
        }
    }
}

impl<C: RaftTypeConfig> Clone for MemLog<C> {
    fn clone(&self) -> Self {
        MemLog {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: RaftTypeConfig> Debug for MemLog<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.lock();
        f.debug_struct("MemLog")
            .field("entries", &log.entries.len())
            .field("last_purged", &log.last_purged)
            .finish_non_exhaustive()
    }
}

impl<C: RaftTypeConfig> MemLog<C> {
    fn lock(&self) -> MutexGuard<'_, Log<C>> {
        // A poisoned lock only means another task panicked mid-update of plain data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C> RaftLogReader<C> for MemLog<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        Ok(self
            .lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl<C> RaftLogStorage<C> for MemLog<C>
where
    C: RaftTypeConfig,
    C::Entry: Clone,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        let log = self.lock();
        let last = log
            .entries
            .values()
            .next_back()
            .map(|e| e.get_log_id().clone())
            .or_else(|| log.last_purged.clone());
        Ok(LogState {
            last_purged_log_id: log.last_purged.clone(),
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.lock().vote = Some(vote.clone());
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.lock().vote.clone())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        self.lock().committed = committed;
        Ok(())
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.lock().committed.clone())
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
        {
            let mut log = self.lock();
            for entry in entries {
                log.entries.insert(entry.get_log_id().index, entry);
            }
        }
        // In memory, written is flushed.
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.lock().entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        let mut log = self.lock();
        let kept = log.entries.split_off(&(log_id.index + 1));
        log.entries = kept;
        log.last_purged = Some(log_id);
        Ok(())
    }
}
