//! The node's state machine: the export's directory tree in memory, every file's bytes in
//! `object_store`'s local-filesystem store under the node's data directory, reached through
//! ferrotel-ops' traced store so each get and put is a storage span and sample.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Cursor;
use std::sync::{Arc, Mutex, RwLock};

use ferrotel::ops::storage::StorageInstruments;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::api::*;

/// The state machine; clones share it, so the node's query handler reads what Raft applied.
#[derive(Clone)]
pub(crate) struct Files {
    state: Arc<RwLock<Tree>>,
    store: Arc<dyn ObjectStore>,
    snapshot: Arc<RwLock<Option<StoredSnapshot>>>,
    /// Recently used chunks, so a READ after a WRITE skips the store (a cache hit or miss).
    cache: Arc<Mutex<ChunkCache>>,
    storage: StorageInstruments,
}

/// The most chunks the cache holds (64 KiB each: 16 MiB).
const CACHED_CHUNKS: usize = 256;

/// A small cache of chunks by (file, chunk); the oldest insert goes first.
#[derive(Default)]
struct ChunkCache {
    chunks: HashMap<(u64, u64), Vec<u8>>,
    order: VecDeque<(u64, u64)>,
}

impl ChunkCache {
    fn get(&self, key: (u64, u64)) -> Option<Vec<u8>> {
        self.chunks.get(&key).cloned()
    }

    fn put(&mut self, key: (u64, u64), bytes: Vec<u8>) {
        if self.chunks.insert(key, bytes).is_none() {
            self.order.push_back(key);
        }
        while self.chunks.len() > CACHED_CHUNKS {
            match self.order.pop_front() {
                Some(old) => {
                    self.chunks.remove(&old);
                }
                None => break,
            }
        }
    }

    fn forget(&mut self, key: (u64, u64)) {
        self.chunks.remove(&key);
    }
}

/// One file or directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Inode {
    attr: Attr,
    /// Directories: name → file id.
    children: BTreeMap<String, u64>,
}

/// Everything but the bytes: what a snapshot carries besides the files' contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Tree {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, openraft::BasicNode>,
    inodes: BTreeMap<u64, Inode>,
    next_id: u64,
}

#[derive(Debug, Clone)]
struct StoredSnapshot {
    meta: SnapshotMeta<u64, openraft::BasicNode>,
    data: Vec<u8>,
}

/// A snapshot's contents: the tree and every file's bytes.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    tree: Tree,
    files: Vec<(u64, Vec<u8>)>,
}

/// What applying a command changes once its bytes are stored.
enum Effect {
    None,
    /// Chunks rewritten: (file, chunk index, bytes).
    Put(Vec<(u64, u64, Vec<u8>)>),
    /// Chunks removed (a file, or what a truncation cut): (file, from chunk, to chunk).
    Delete(u64, u64, u64),
}

/// Files are stored in chunks of this size, one object each: a WRITE rewrites the chunks it
/// touches, not the whole file.
const CHUNK: u64 = 64 << 10;

fn object(id: u64, chunk: u64) -> Path {
    Path::from(format!("files/{id:016x}/{chunk:08x}"))
}

fn root_inode() -> Inode {
    Inode {
        attr: Attr {
            id: ROOT,
            dir: true,
            size: 0,
            mtime_ns: 0,
            version: 0,
        },
        children: BTreeMap::new(),
    }
}

fn valid_name(name: &str) -> Result<(), u32> {
    if name.len() > MAX_NAME {
        Err(NFS3ERR_NAMETOOLONG)
    } else if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        Err(NFS3ERR_INVAL)
    } else {
        Ok(())
    }
}

impl Tree {
    fn new() -> Tree {
        Tree {
            inodes: BTreeMap::from([(ROOT, root_inode())]),
            next_id: ROOT + 1,
            ..Tree::default()
        }
    }

    fn dir(&self, id: u64) -> Result<&Inode, u32> {
        match self.inodes.get(&id) {
            None => Err(NFS3ERR_STALE),
            Some(inode) if !inode.attr.dir => Err(NFS3ERR_NOTDIR),
            Some(inode) => Ok(inode),
        }
    }

    fn file(&self, id: u64) -> Result<&Inode, u32> {
        match self.inodes.get(&id) {
            None => Err(NFS3ERR_STALE),
            Some(inode) if inode.attr.dir => Err(NFS3ERR_ISDIR),
            Some(inode) => Ok(inode),
        }
    }

    fn touch(&mut self, id: u64, time_ns: u64, version: u64) {
        if let Some(inode) = self.inodes.get_mut(&id) {
            inode.attr.mtime_ns = time_ns;
            inode.attr.version = version;
        }
    }

    /// Adds `name` to `dir`, or finds it (`Ok(false)`) when it exists and `exclusive` is off.
    fn add(
        &mut self,
        dir: u64,
        name: &str,
        is_dir: bool,
        exclusive: bool,
        time_ns: u64,
        version: u64,
    ) -> Outcome {
        valid_name(name)?;
        if let Some(&id) = self.dir(dir)?.children.get(name) {
            let found = &self.inodes[&id];
            return if exclusive || found.attr.dir != is_dir {
                Err(NFS3ERR_EXIST)
            } else {
                Ok(Reply::Attr(found.attr))
            };
        }
        if self.inodes.len() >= MAX_FILES {
            return Err(NFS3ERR_NOSPC);
        }
        let id = self.next_id;
        self.next_id += 1;
        let attr = Attr {
            id,
            dir: is_dir,
            size: 0,
            mtime_ns: time_ns,
            version,
        };
        self.inodes.insert(
            id,
            Inode {
                attr,
                children: BTreeMap::new(),
            },
        );
        if let Some(parent) = self.inodes.get_mut(&dir) {
            parent.children.insert(name.to_string(), id);
        }
        self.touch(dir, time_ns, version);
        Ok(Reply::Attr(attr))
    }

    fn remove(&mut self, dir: u64, name: &str, time_ns: u64, version: u64) -> (Outcome, Effect) {
        let id = match self.dir(dir).map(|d| d.children.get(name).copied()) {
            Err(code) => return (Err(code), Effect::None),
            Ok(None) => return (Err(NFS3ERR_NOENT), Effect::None),
            Ok(Some(id)) => id,
        };
        if self.inodes.get(&id).is_some_and(|i| !i.children.is_empty()) {
            return (Err(NFS3ERR_NOTEMPTY), Effect::None);
        }
        let size = self
            .inodes
            .remove(&id)
            .filter(|i| !i.attr.dir)
            .map(|i| i.attr.size);
        if let Some(parent) = self.inodes.get_mut(&dir) {
            parent.children.remove(name);
        }
        self.touch(dir, time_ns, version);
        let effect = match size {
            Some(size) => Effect::Delete(id, 0, size.div_ceil(CHUNK)),
            None => Effect::None,
        };
        (Ok(Reply::Removed), effect)
    }

    /// Checks a resize of `file` to `size` and updates its attributes; the bytes follow.
    fn resize(&mut self, file: u64, size: u64, time_ns: u64, version: u64) -> Result<Attr, u32> {
        self.file(file)?;
        if size > MAX_FILE_SIZE {
            return Err(NFS3ERR_FBIG);
        }
        let inode = self.inodes.get_mut(&file).ok_or(NFS3ERR_STALE)?;
        inode.attr.size = size;
        inode.attr.mtime_ns = time_ns;
        inode.attr.version = version;
        Ok(inode.attr)
    }
}

impl Files {
    /// A fresh export (the root directory only) whose bytes live in `store`; `storage`
    /// counts the chunk cache's hits and misses.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, storage: StorageInstruments) -> Files {
        Files {
            state: Arc::new(RwLock::new(Tree::new())),
            store,
            snapshot: Arc::new(RwLock::new(None)),
            cache: Arc::new(Mutex::new(ChunkCache::default())),
            storage,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ChunkCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_tree<T>(&self, f: impl FnOnce(&Tree) -> T) -> T {
        f(&self.state.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn write_tree<T>(&self, f: impl FnOnce(&mut Tree) -> T) -> T {
        f(&mut self.state.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Chunk `chunk` of a file of `size` bytes, zero-filled to its full length.
    async fn chunk(&self, id: u64, chunk: u64, size: u64) -> Result<Vec<u8>, object_store::Error> {
        let start = chunk * CHUNK;
        let len = size.saturating_sub(start).min(CHUNK) as usize;
        if len == 0 {
            return Ok(Vec::new());
        }
        if let Some(mut cached) = self.cache().get((id, chunk)) {
            self.storage.cache_hit();
            cached.resize(len, 0);
            return Ok(cached);
        }
        self.storage.cache_miss();
        let mut bytes = Vec::with_capacity(len);
        {
            match self.store.get(&object(id, chunk)).await {
                Ok(got) => bytes.extend_from_slice(&got.bytes().await?),
                // A chunk never written (a hole) reads as zeros.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        bytes.resize(len, 0);
        self.cache().put((id, chunk), bytes.clone());
        Ok(bytes)
    }

    /// Bytes `start..end` of a file of `size` bytes.
    async fn range(
        &self,
        id: u64,
        start: u64,
        end: u64,
        size: u64,
    ) -> Result<Vec<u8>, object_store::Error> {
        let mut out = Vec::with_capacity((end - start) as usize);
        for chunk in start / CHUNK..end.div_ceil(CHUNK) {
            let bytes = self.chunk(id, chunk, size).await?;
            let from = start.saturating_sub(chunk * CHUNK) as usize;
            let to = ((end - chunk * CHUNK).min(CHUNK) as usize).min(bytes.len());
            if from < to {
                out.extend_from_slice(&bytes[from..to]);
            }
        }
        Ok(out)
    }

    /// Answers a query from what has been applied.
    pub(crate) async fn query(&self, query: Query) -> Outcome {
        match query {
            Query::GetAttr { id } => self.read_tree(|t| {
                t.inodes
                    .get(&id)
                    .map(|i| Reply::Attr(i.attr))
                    .ok_or(NFS3ERR_STALE)
            }),
            Query::Lookup { dir, name } => self.read_tree(|t| {
                let d = t.dir(dir)?;
                let id = match name.as_str() {
                    "." => dir,
                    // The export's root is its own parent: nothing outside it can be reached.
                    ".." => t.parent_of(dir),
                    _ => *d.children.get(&name).ok_or(NFS3ERR_NOENT)?,
                };
                t.inodes
                    .get(&id)
                    .map(|i| Reply::Attr(i.attr))
                    .ok_or(NFS3ERR_STALE)
            }),
            Query::ReadDir { dir } => self.read_tree(|t| {
                let d = t.dir(dir)?;
                Ok(Reply::Entries(
                    d.children
                        .iter()
                        .filter_map(|(name, id)| t.inodes.get(id).map(|i| (name.clone(), i.attr)))
                        .collect(),
                ))
            }),
            Query::Read {
                file,
                offset,
                count,
            } => {
                let attr = self.read_tree(|t| t.file(file).map(|i| i.attr))?;
                let end = offset
                    .saturating_add(u64::from(count.min(MAX_IO)))
                    .min(attr.size);
                if offset >= end {
                    return Ok(Reply::Data {
                        data: Vec::new(),
                        eof: true,
                        attr,
                    });
                }
                match self.range(file, offset, end, attr.size).await {
                    Ok(data) => Ok(Reply::Data {
                        data,
                        eof: end >= attr.size,
                        attr,
                    }),
                    Err(e) => {
                        tracing::error!(file, error = %e, "read failed");
                        Err(NFS3ERR_IO)
                    }
                }
            }
        }
    }

    /// Applies one command at log index `index`: the tree first, then the bytes.
    async fn apply_command(
        &self,
        command: &Command,
        index: u64,
    ) -> Result<Outcome, object_store::Error> {
        let (outcome, effect) = self.write_tree(|t| match command {
            Command::Create {
                dir,
                name,
                exclusive,
                time_ns,
            } => (
                t.add(*dir, name, false, *exclusive, *time_ns, index),
                Effect::None,
            ),
            Command::Mkdir { dir, name, time_ns } => {
                (t.add(*dir, name, true, true, *time_ns, index), Effect::None)
            }
            Command::Remove { dir, name, time_ns } => t.remove(*dir, name, *time_ns, index),
            // Sizes are checked here; the bytes are spliced below, outside the lock.
            Command::Write { .. } | Command::SetSize { .. } => (Ok(Reply::Removed), Effect::None),
        });
        let (outcome, effect) = match command {
            Command::Write {
                file,
                offset,
                data,
                time_ns,
            } => {
                self.splice(*file, *offset, data, None, *time_ns, index)
                    .await?
            }
            Command::SetSize {
                file,
                size,
                time_ns,
            } => {
                self.splice(*file, 0, &[], Some(*size), *time_ns, index)
                    .await?
            }
            _ => (outcome, effect),
        };
        match effect {
            Effect::None => {}
            Effect::Put(chunks) => {
                for (id, chunk, data) in chunks {
                    self.cache().put((id, chunk), data.clone());
                    let location = object(id, chunk);
                    let payload = PutPayload::from(data);
                    // A put that fails is tried once more, as a client of any object store
                    // does: the failure stays visible as its own storage span.
                    if self.store.put(&location, payload.clone()).await.is_err() {
                        self.store.put(&location, payload).await?;
                    }
                }
            }
            Effect::Delete(id, from, to) => self.delete_chunks(id, from, to).await?,
        }
        Ok(outcome)
    }

    /// A WRITE of `data` at `offset`, or a resize to `size`: the file's new bytes.
    async fn splice(
        &self,
        file: u64,
        offset: u64,
        data: &[u8],
        size: Option<u64>,
        time_ns: u64,
        index: u64,
    ) -> Result<(Outcome, Effect), object_store::Error> {
        let old = match self.read_tree(|t| t.file(file).map(|i| i.attr.size)) {
            Ok(size) => size,
            Err(code) => return Ok((Err(code), Effect::None)),
        };
        let new_size = match size {
            Some(size) => size,
            None => match offset.checked_add(data.len() as u64) {
                Some(end) if end <= MAX_FILE_SIZE => end.max(old),
                _ => return Ok((Err(NFS3ERR_FBIG), Effect::None)),
            },
        };
        if new_size > MAX_FILE_SIZE {
            return Ok((Err(NFS3ERR_FBIG), Effect::None));
        }
        let outcome = self
            .write_tree(|t| t.resize(file, new_size, time_ns, index))
            .map(Reply::Attr);
        if outcome.is_err() {
            return Ok((outcome, Effect::None));
        }
        let effect = if size.is_some() {
            // A resize: chunks past the end go, the new last chunk is cut (or zero-extended).
            let last = new_size.div_ceil(CHUNK);
            if new_size < old && new_size % CHUNK != 0 {
                let chunk = new_size / CHUNK;
                let bytes = self.chunk(file, chunk, new_size).await?;
                self.delete_chunks(file, last, old.div_ceil(CHUNK)).await?;
                Effect::Put(vec![(file, chunk, bytes)])
            } else {
                Effect::Delete(file, last, old.div_ceil(CHUNK))
            }
        } else {
            let end = offset + data.len() as u64;
            let mut chunks = Vec::new();
            for chunk in offset / CHUNK..end.div_ceil(CHUNK) {
                // The chunk as it stands (zeros past the old end), with the write laid over it.
                let mut bytes = self.chunk(file, chunk, old).await?;
                let chunk_start = chunk * CHUNK;
                let chunk_len = (new_size - chunk_start).min(CHUNK) as usize;
                bytes.resize(chunk_len, 0);
                let from = offset.max(chunk_start);
                let to = end.min(chunk_start + CHUNK);
                let src = &data[(from - offset) as usize..(to - offset) as usize];
                bytes[(from - chunk_start) as usize..(to - chunk_start) as usize]
                    .copy_from_slice(src);
                chunks.push((file, chunk, bytes));
            }
            Effect::Put(chunks)
        };
        Ok((outcome, effect))
    }

    async fn delete_chunks(&self, id: u64, from: u64, to: u64) -> Result<(), object_store::Error> {
        for chunk in from..to {
            self.cache().forget((id, chunk));
            match self.store.delete(&object(id, chunk)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn snapshot_data(&self) -> Result<(Tree, Vec<u8>), object_store::Error> {
        let tree = self.read_tree(Tree::clone);
        let mut files = Vec::new();
        for inode in tree.inodes.values().filter(|i| !i.attr.dir) {
            let size = inode.attr.size;
            files.push((
                inode.attr.id,
                self.range(inode.attr.id, 0, size, size).await?,
            ));
        }
        let data = SnapshotData {
            tree: tree.clone(),
            files,
        };
        let bytes = postcard::to_stdvec(&data).map_err(|e| object_store::Error::Generic {
            store: "snapshot",
            source: Box::new(e),
        })?;
        Ok((tree, bytes))
    }
}

impl Tree {
    fn parent_of(&self, dir: u64) -> u64 {
        self.inodes
            .iter()
            .find(|(_, i)| i.children.values().any(|&c| c == dir))
            .map_or(ROOT, |(&id, _)| id)
    }
}

fn sm_error(e: impl std::error::Error + Send + Sync + 'static) -> StorageError<u64> {
    StorageError::from(StorageIOError::write_state_machine(&e))
}

impl RaftStateMachine<TypeConfig> for Files {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId<u64>>,
            StoredMembership<u64, openraft::BasicNode>,
        ),
        StorageError<u64>,
    > {
        Ok(self.read_tree(|t| (t.last_applied, t.membership.clone())))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut outcomes = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            let outcome = match &entry.payload {
                EntryPayload::Blank => Ok(Reply::Removed),
                EntryPayload::Membership(m) => {
                    let m = StoredMembership::new(Some(entry.log_id), m.clone());
                    self.write_tree(|t| t.membership = m);
                    Ok(Reply::Removed)
                }
                // The adapter made this entry's raft.apply span current: the object_store
                // calls below are its children.
                EntryPayload::Normal(traced) => self
                    .apply_command(&traced.data, index)
                    .await
                    .map_err(sm_error)?,
            };
            self.write_tree(|t| t.last_applied = Some(entry.log_id));
            outcomes.push(outcome);
        }
        Ok(outcomes)
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
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let data: SnapshotData = postcard::from_bytes(&bytes).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(Some(meta.signature()), &e))
        })?;
        for (id, contents) in &data.files {
            for (chunk, bytes) in contents.chunks(CHUNK as usize).enumerate() {
                self.store
                    .put(&object(*id, chunk as u64), PutPayload::from(bytes.to_vec()))
                    .await
                    .map_err(sm_error)?;
            }
        }
        *self.cache() = ChunkCache::default();
        self.write_tree(|t| *t = data.tree);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        Ok(self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map(|s| Snapshot {
                meta: s.meta,
                snapshot: Box::new(Cursor::new(s.data)),
            }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for Files {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let (tree, data) = self
            .snapshot_data()
            .await
            .map_err(|e| StorageError::from(StorageIOError::read_state_machine(&e)))?;
        let last = tree.last_applied;
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: tree.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                last.map_or(0, |l| l.leader_id.term),
                last.map_or(0, |l| l.index)
            ),
        };
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        });
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn files() -> Files {
        let telemetry = ferrotel::ops::OpsTelemetry::new(None, None, Default::default());
        let storage = StorageInstruments::new(&telemetry, "memory", Default::default());
        Files::new(Arc::new(object_store::memory::InMemory::new()), storage)
    }

    fn attr(outcome: Outcome) -> Attr {
        match outcome {
            Ok(Reply::Attr(attr)) => attr,
            other => panic!("not attributes: {other:?}"),
        }
    }

    #[tokio::test]
    async fn writes_read_back_and_bad_input_gets_its_nfs_code() {
        let f = files();
        let created = attr(
            f.apply_command(
                &Command::Create {
                    dir: ROOT,
                    name: "a".into(),
                    exclusive: true,
                    time_ns: 1,
                },
                1,
            )
            .await
            .unwrap(),
        );
        let write = |offset, data: Vec<u8>| Command::Write {
            file: created.id,
            offset,
            data,
            time_ns: 2,
        };
        assert_eq!(
            attr(f.apply_command(&write(4, vec![9; 4]), 2).await.unwrap()).size,
            8
        );
        let read = f
            .query(Query::Read {
                file: created.id,
                offset: 0,
                count: 100,
            })
            .await;
        assert!(
            matches!(read, Ok(Reply::Data { ref data, eof: true, .. }) if data == &[0, 0, 0, 0, 9, 9, 9, 9])
        );
        // A WRITE far past the bound allocates nothing and says FBIG.
        assert_eq!(
            f.apply_command(&write(u64::MAX - 2, vec![1; 4]), 3)
                .await
                .unwrap(),
            Err(NFS3ERR_FBIG)
        );
        assert_eq!(
            f.apply_command(&write(MAX_FILE_SIZE, vec![1]), 4)
                .await
                .unwrap(),
            Err(NFS3ERR_FBIG)
        );
        // An unknown handle is stale; `..` at the root stays in the export.
        assert_eq!(
            f.query(Query::GetAttr { id: 999 }).await,
            Err(NFS3ERR_STALE)
        );
        let up = attr(
            f.query(Query::Lookup {
                dir: ROOT,
                name: "..".into(),
            })
            .await,
        );
        assert_eq!(up.id, ROOT);
        assert_eq!(
            f.apply_command(
                &Command::Create {
                    dir: ROOT,
                    name: "x/../../etc".into(),
                    exclusive: false,
                    time_ns: 5
                },
                5
            )
            .await
            .unwrap(),
            Err(NFS3ERR_INVAL)
        );
    }
}
