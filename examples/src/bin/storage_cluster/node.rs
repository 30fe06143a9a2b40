//! A storage node: an in-memory file store replicated through a small Raft log.
//!
//! Leadership is static — node 1 leads term 1, there are no elections — but replication is the
//! real thing: the leader appends each write to its log, sends the entries its followers miss
//! with `AppendEntries` (one RPC at a time per follower, so later RPCs carry batches), and
//! commits an index once a majority of the cluster (the leader and one follower) holds it.
//! Followers check the previous entry, append, and apply what the leader says is committed.
//! Reads, GETATTR and LOOKUP are served by the leader from its applied state.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tracing::{field, info_span, Instrument as _};

use crate::args::NodeOptions;
use crate::proto::{
    AppendEntriesReply, AppendEntriesRequest, AttrReply, FileAttr, LogEntry, PathRequest, Raft,
    RaftClient, RaftServer, ReadReply, ReadRequest, Storage, StorageServer, WriteReply,
    WriteRequest,
};
use crate::telemetry::{self, TracedChannel};
use crate::Error;

/// The leader's id; it leads this term for the life of the cluster.
pub(crate) const LEADER_ID: u32 = 1;
const TERM: u64 = 1;
/// How long a write waits for a majority before it fails.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the leader waits at shutdown for replication still on the wire.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a node until the driver closes its stdin.
pub(crate) fn run(options: NodeOptions) -> Result<ExitCode, Error> {
    let instance = format!("node-{}", options.id);
    let telemetry = telemetry::init("storage-node", &instance, &[])?;
    let runtime = telemetry::runtime()?;
    let served = runtime.block_on(serve(options));
    drop(runtime);
    telemetry::shutdown(telemetry, &instance);
    served.map(|()| ExitCode::SUCCESS)
}

async fn serve(options: NodeOptions) -> Result<(), Error> {
    let mut followers = Vec::new();
    if options.id == LEADER_ID {
        for (id, addr) in &options.peers {
            followers.push(Follower {
                id: *id,
                client: RaftClient::new(telemetry::channel(*addr)?),
                match_index: tokio::sync::Mutex::new(0),
            });
        }
    } else if !options.peers.is_empty() {
        return Err(format!(
            "node-{}: only the leader (node-{LEADER_ID}) takes --peers",
            options.id
        )
        .into());
    }
    let node = Arc::new(Node::new(options.id, followers));
    let incoming = telemetry::listen_and_announce(options.listen).await?;
    Server::builder()
        .layer(telemetry::server_layer())
        .add_service(StorageServer::new(Arc::clone(&node)))
        .add_service(RaftServer::new(Arc::clone(&node)))
        .serve_with_incoming_shutdown(incoming, telemetry::shutdown_signal())
        .await
        .map_err(|e| format!("node-{}: server: {e}", options.id))?;
    node.drain().await;
    Ok(())
}

/// One node's state and its view of its followers.
struct Node {
    id: u32,
    state: Mutex<State>,
    /// The commit index, for writes waiting on theirs.
    committed: watch::Sender<u64>,
    followers: Vec<Follower>,
    /// Replication RPCs still running (they may outlive the write that started them).
    in_flight: Arc<AtomicUsize>,
}

/// What the leader knows of a follower. The lock serialises the RPCs to it, so entries arrive
/// in order; it holds the highest index known to be replicated there.
struct Follower {
    id: u32,
    client: RaftClient<TracedChannel>,
    match_index: tokio::sync::Mutex<u64>,
}

#[derive(Default)]
struct State {
    /// Entry `i` has index `i + 1`.
    log: Vec<LogEntry>,
    commit_index: u64,
    last_applied: u64,
    files: HashMap<String, File>,
    /// The leader's record of what each follower acknowledged, by follower slot.
    acked: Vec<u64>,
}

struct File {
    data: Vec<u8>,
    /// The index of the last entry that wrote the file.
    version: u64,
}

impl State {
    fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    fn term_at(&self, index: u64) -> u64 {
        match index {
            0 => 0,
            i => self.log.get(i as usize - 1).map_or(0, |e| e.term),
        }
    }

    /// Applies committed entries to the files; returns the range applied, if any.
    fn apply_committed(&mut self) -> Option<(u64, u64)> {
        let first = self.last_applied + 1;
        while self.last_applied < self.commit_index {
            let index = self.last_applied + 1;
            let Some(entry) = self.log.get(index as usize - 1) else {
                break;
            };
            let file = self.files.entry(entry.path.clone()).or_insert(File {
                data: Vec::new(),
                version: 0,
            });
            let offset = usize::try_from(entry.offset).unwrap_or(usize::MAX);
            let end = offset.saturating_add(entry.data.len());
            if end != usize::MAX {
                if file.data.len() < end {
                    file.data.resize(end, 0);
                }
                file.data[offset..end].copy_from_slice(&entry.data);
            }
            file.version = index;
            self.last_applied = index;
        }
        (self.last_applied >= first).then_some((first, self.last_applied))
    }

    fn attr(&self, path: &str) -> Option<FileAttr> {
        self.files.get(path).map(|file| FileAttr {
            size: file.data.len() as u64,
            version: file.version,
            file_handle: file_handle(path),
        })
    }
}

/// A stable handle for a path (FNV-1a), as an NFS server would hand out.
fn file_handle(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Node {
    fn new(id: u32, followers: Vec<Follower>) -> Self {
        let state = State {
            acked: vec![0; followers.len()],
            ..State::default()
        };
        Node {
            id,
            state: Mutex::new(state),
            committed: watch::channel(0).0,
            followers,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ensure_leader(&self) -> Result<(), Status> {
        if self.id == LEADER_ID {
            Ok(())
        } else {
            Err(Status::failed_precondition(format!(
                "node-{} is a follower; the leader is node-{LEADER_ID}",
                self.id
            )))
        }
    }

    /// Applies what is committed, in a `storage.apply` span when there is something to apply.
    fn apply(&self, state: &mut State) {
        let span = info_span!(
            "storage.apply",
            raft.commit_index = state.commit_index,
            raft.applied_from = field::Empty,
            raft.applied_to = field::Empty,
        );
        let _entered = span.enter();
        if let Some((from, to)) = state.apply_committed() {
            span.record("raft.applied_from", from);
            span.record("raft.applied_to", to);
        }
    }

    /// The leader's write path: append, replicate to a majority, apply, answer.
    async fn write(self: &Arc<Self>, request: WriteRequest) -> Result<WriteReply, Status> {
        self.ensure_leader()?;
        let index = {
            let _span = info_span!(
                "raft.append",
                raft.term = TERM,
                raft.log_index = field::Empty,
                raft.entries = 1,
            )
            .entered();
            let mut state = self.state();
            let index = state.last_index() + 1;
            state.log.push(LogEntry {
                term: TERM,
                index,
                path: request.path.clone(),
                offset: request.offset,
                data: request.data,
            });
            tracing::Span::current().record("raft.log_index", index);
            index
        };
        tracing::Span::current().record("raft.log_index", index);
        self.replicate(index)
            .instrument(info_span!(
                "raft.replicate",
                raft.term = TERM,
                raft.log_index = index,
                raft.quorum = self.quorum(),
                raft.acks = field::Empty,
            ))
            .await?;
        let state = self.state();
        let attr = state.attr(&request.path).ok_or_else(|| {
            Status::internal(format!("{} vanished after its write", request.path))
        })?;
        Ok(WriteReply {
            attr: Some(attr),
            log_index: index,
            node_id: self.id,
        })
    }

    /// Nodes that must hold an entry for it to commit, the leader included.
    fn quorum(&self) -> usize {
        let nodes = self.followers.len() + 1;
        nodes / 2 + 1
    }

    /// Sends the log to every follower, each in a task of its own, and returns once `index` is
    /// committed (a majority holds it) and applied. The slower follower's RPC finishes in the
    /// background, as in any Raft implementation.
    async fn replicate(self: &Arc<Self>, index: u64) -> Result<(), Status> {
        let (acks_tx, mut acks) = tokio::sync::mpsc::channel(self.followers.len().max(1));
        for slot in 0..self.followers.len() {
            let node = Arc::clone(self);
            let acks_tx = acks_tx.clone();
            let follower_id = self.followers[slot].id;
            let span = info_span!(
                "raft.send",
                raft.peer = %format!("node-{follower_id}"),
                raft.prev_log_index = field::Empty,
                raft.entries = field::Empty,
                raft.match_index = field::Empty,
            );
            let guard = InFlight::new(&self.in_flight);
            tokio::spawn(
                async move {
                    let _guard = guard;
                    let result = node.send_to(slot).await;
                    if let Err(status) = &result {
                        tracing::warn!(follower = follower_id, "append_entries failed: {status}");
                    }
                    let _ = acks_tx.send(result).await;
                }
                .instrument(span),
            );
        }
        drop(acks_tx);

        let needed = self.quorum() - 1; // the leader holds the entry already
        let mut acked = 0;
        let mut failures = Vec::new();
        let deadline = tokio::time::Instant::now() + COMMIT_TIMEOUT;
        while acked < needed {
            match tokio::time::timeout_at(deadline, acks.recv()).await {
                Ok(Some(Ok(match_index))) if match_index >= index => acked += 1,
                Ok(Some(Ok(_))) => failures.push("a follower fell behind".to_string()),
                Ok(Some(Err(status))) => failures.push(status.message().to_string()),
                Ok(None) => break,
                Err(_) => {
                    failures.push(format!("no majority within {COMMIT_TIMEOUT:?}"));
                    break;
                }
            }
        }
        tracing::Span::current().record("raft.acks", acked + 1);
        if acked < needed {
            return Err(Status::unavailable(format!(
                "entry {index} not committed: {}",
                failures.join("; ")
            )));
        }
        // The acks committed the entry; wait until it is applied (by whichever ack got there).
        let mut committed = self.committed.subscribe();
        let waited = tokio::time::timeout_at(deadline, committed.wait_for(|c| *c >= index)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(Status::unavailable(format!("entry {index} not applied"))),
        }
    }

    /// Records a follower's acknowledgement, then commits the highest index a majority holds
    /// and applies it.
    fn acknowledge(&self, slot: usize, match_index: u64) {
        let mut state = self.state();
        if let Some(acked) = state.acked.get_mut(slot) {
            *acked = (*acked).max(match_index);
        }
        let mut indexes = state.acked.clone();
        indexes.push(state.last_index());
        indexes.sort_unstable_by(|a, b| b.cmp(a));
        let majority = indexes.get(self.quorum() - 1).copied().unwrap_or(0);
        if majority > state.commit_index && state.term_at(majority) == TERM {
            state.commit_index = majority;
            self.apply(&mut state);
            let applied = state.last_applied;
            self.committed.send_if_modified(|c| {
                let moved = applied > *c;
                *c = applied.max(*c);
                moved
            });
        }
    }

    /// One follower's replication: sends what it misses, one RPC at a time. Returns its new
    /// match index.
    async fn send_to(&self, slot: usize) -> Result<u64, Status> {
        let follower = &self.followers[slot];
        let mut match_index = follower.match_index.lock().await;
        // A mismatch moves the start back; a follower that lost entries is caught up.
        for _ in 0..8 {
            let request = {
                let state = self.state();
                let prev = (*match_index).min(state.last_index());
                AppendEntriesRequest {
                    term: TERM,
                    leader_id: self.id,
                    prev_log_index: prev,
                    prev_log_term: state.term_at(prev),
                    entries: state.log[prev as usize..].to_vec(),
                    leader_commit: state.commit_index,
                }
            };
            let span = tracing::Span::current();
            span.record("raft.prev_log_index", request.prev_log_index);
            span.record("raft.entries", request.entries.len());
            let prev = request.prev_log_index;
            let reply = follower
                .client
                .clone()
                .append_entries(request)
                .await?
                .into_inner();
            if reply.term > TERM {
                return Err(Status::failed_precondition(format!(
                    "node-{} is in term {}",
                    follower.id, reply.term
                )));
            }
            if reply.success {
                *match_index = reply.match_index;
                span.record("raft.match_index", reply.match_index);
                self.acknowledge(slot, reply.match_index);
                return Ok(reply.match_index);
            }
            *match_index = reply.match_index.min(prev.saturating_sub(1));
        }
        Err(Status::internal(format!(
            "node-{} did not accept the log",
            follower.id
        )))
    }

    /// Waits (bounded) for replication RPCs still on the wire, so their spans end and export.
    async fn drain(&self) {
        let started = Instant::now();
        while self.in_flight.load(Ordering::Acquire) > 0 && started.elapsed() < DRAIN_TIMEOUT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A follower's side of `AppendEntries`.
    fn append_entries(&self, request: AppendEntriesRequest) -> AppendEntriesReply {
        let span = info_span!(
            "raft.append",
            raft.term = request.term,
            raft.leader_id = request.leader_id,
            raft.prev_log_index = request.prev_log_index,
            raft.entries = request.entries.len(),
            raft.leader_commit = request.leader_commit,
            raft.log_index = field::Empty,
            raft.success = field::Empty,
        );
        let _entered = span.enter();
        let mut state = self.state();
        let prev = request.prev_log_index;
        let consistent = request.term >= TERM
            && prev <= state.last_index()
            && state.term_at(prev) == request.prev_log_term;
        if !consistent {
            span.record("raft.success", false);
            return AppendEntriesReply {
                term: TERM,
                success: false,
                match_index: state.last_index().min(prev.saturating_sub(1)),
            };
        }
        for entry in request.entries {
            let at = entry.index as usize;
            if at == 0 || at > state.log.len() + 1 {
                break; // not contiguous: keep what fits, the leader resends the rest
            }
            if at <= state.log.len() {
                if state.log[at - 1].term == entry.term {
                    continue; // already have it
                }
                state.log.truncate(at - 1); // a conflicting suffix goes
            }
            state.log.push(entry);
        }
        let last = state.last_index();
        span.record("raft.log_index", last);
        span.record("raft.success", true);
        let commit = request.leader_commit.min(last);
        if commit > state.commit_index {
            state.commit_index = commit;
            self.apply(&mut state);
        }
        AppendEntriesReply {
            term: TERM,
            success: true,
            match_index: last,
        }
    }

    fn read_attr(&self, procedure: &'static str, path: &str) -> Result<FileAttr, Status> {
        self.ensure_leader()?;
        let state = self.state();
        tracing::Span::current().record("raft.commit_index", state.commit_index);
        state
            .attr(path)
            .ok_or_else(|| Status::not_found(format!("{procedure} {path}: no such file")))
    }
}

/// Counts a replication task as running until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn storage_span(procedure: &'static str, path: &str) -> tracing::Span {
    // The span's name is `storage.<op>`; `otel.name` gives it since span names are static.
    info_span!(
        "storage",
        otel.name = %format!("storage.{}", procedure.to_ascii_lowercase()),
        nfs.procedure = procedure,
        file.path = path,
        raft.term = TERM,
        raft.log_index = field::Empty,
        raft.commit_index = field::Empty,
        storage.bytes = field::Empty,
    )
}

#[tonic::async_trait]
impl Storage for Arc<Node> {
    async fn read(&self, request: Request<ReadRequest>) -> Result<Response<ReadReply>, Status> {
        let request = request.into_inner();
        let span = storage_span("READ", &request.path);
        let _entered = span.enter();
        let attr = self.read_attr("READ", &request.path)?;
        let state = self.state();
        let data = state.files.get(&request.path).map_or(Vec::new(), |file| {
            let start = usize::try_from(request.offset)
                .unwrap_or(usize::MAX)
                .min(file.data.len());
            let end = start
                .saturating_add(request.count as usize)
                .min(file.data.len());
            file.data[start..end].to_vec()
        });
        span.record("storage.bytes", data.len());
        Ok(Response::new(ReadReply {
            data,
            attr: Some(attr),
            node_id: self.id,
        }))
    }

    async fn write(&self, request: Request<WriteRequest>) -> Result<Response<WriteReply>, Status> {
        let request = request.into_inner();
        let span = storage_span("WRITE", &request.path);
        span.record("storage.bytes", request.data.len());
        let reply = Node::write(self, request).instrument(span).await?;
        Ok(Response::new(reply))
    }

    async fn get_attr(&self, request: Request<PathRequest>) -> Result<Response<AttrReply>, Status> {
        let path = request.into_inner().path;
        let _entered = storage_span("GETATTR", &path).entered();
        let attr = self.read_attr("GETATTR", &path)?;
        Ok(Response::new(AttrReply {
            attr: Some(attr),
            node_id: self.id,
        }))
    }

    async fn lookup(&self, request: Request<PathRequest>) -> Result<Response<AttrReply>, Status> {
        let path = request.into_inner().path;
        let _entered = storage_span("LOOKUP", &path).entered();
        let attr = self.read_attr("LOOKUP", &path)?;
        Ok(Response::new(AttrReply {
            attr: Some(attr),
            node_id: self.id,
        }))
    }
}

#[tonic::async_trait]
impl Raft for Arc<Node> {
    async fn append_entries(
        &self,
        request: Request<AppendEntriesRequest>,
    ) -> Result<Response<AppendEntriesReply>, Status> {
        if self.id == LEADER_ID {
            return Err(Status::failed_precondition(
                "the leader does not take AppendEntries in its own term",
            ));
        }
        Ok(Response::new(Node::append_entries(
            self,
            request.into_inner(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, byte: u8) -> LogEntry {
        LogEntry {
            term: TERM,
            index,
            path: "/f".into(),
            offset: 0,
            data: vec![byte; 4],
        }
    }

    #[test]
    fn follower_appends_in_order_and_applies_what_is_committed() {
        let node = Node::new(2, Vec::new());
        let reply = node.append_entries(AppendEntriesRequest {
            term: TERM,
            leader_id: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![entry(1, 1), entry(2, 2)],
            leader_commit: 1,
        });
        assert!(reply.success);
        assert_eq!(reply.match_index, 2);
        assert_eq!(node.state().attr("/f").map(|a| a.version), Some(1));

        // A gap is refused, with where to resume.
        let reply = node.append_entries(AppendEntriesRequest {
            term: TERM,
            leader_id: 1,
            prev_log_index: 5,
            prev_log_term: TERM,
            entries: vec![entry(6, 6)],
            leader_commit: 2,
        });
        assert!(!reply.success);
        assert_eq!(reply.match_index, 2);

        // A repeat is idempotent; the commit index moves the applied state.
        let reply = node.append_entries(AppendEntriesRequest {
            term: TERM,
            leader_id: 1,
            prev_log_index: 1,
            prev_log_term: TERM,
            entries: vec![entry(2, 2)],
            leader_commit: 2,
        });
        assert!(reply.success);
        let state = node.state();
        assert_eq!(state.last_index(), 2);
        assert_eq!(
            state.files.get("/f").map(|f| f.data.clone()),
            Some(vec![2; 4])
        );
    }
}
