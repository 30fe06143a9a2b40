//! The gateway: a real NFSv3 server (`nfs3_server`) whose export lives in the replicated store.
//! Its filesystem turns each procedure into a proposal or a query to the Raft leader, follows
//! leader changes, and is wrapped in ferrotel-ops' `TracedFs`, which gives every procedure its
//! `nfs.*` SERVER span and the NFS metrics (semconv or DittoFS naming, `FERROTEL_NFS_METRICS`).
//!
//! ONC RPC carries no trace context, so a gateway NFS span is the root of the trace its work
//! makes: proposal, replication, append and apply on every node, the object_store puts.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotel::opentelemetry::trace::TraceContextExt as _;
use ferrotel::opentelemetry::Context;
use ferrotel::ops::nfs::{track_mounts, NfsSide, Share, TracedFs};
use nfs3_server::nfs3_types::nfs3::{
    createverf3, fattr3, filename3, ftype3, nfspath3, nfsstat3, nfstime3, sattr3, set_size3,
    specdata3, stable_how,
};
use nfs3_server::nfs3_types::xdr_codec::Opaque;
use nfs3_server::tcp::{NFSTcp as _, NFSTcpListener};
use nfs3_server::vfs::{
    DirEntryPlus, FileHandleU64, NextResult, NfsFileSystem, NfsReadFileSystem, ReadDirPlusIterator,
};

use crate::api::{self, Answer, Attr, Command, Members, Outcome, Query, Refusal, Reply};
use crate::args::GatewayOptions;
use crate::proto::{Payload, StorageClient};
use crate::telemetry::{self, TracedChannel};
use crate::Error;

/// How long a call waits for a leader (an election) before the client gets NFS3ERR_JUKEBOX,
/// NFS's "try again later".
const FAILOVER_WAIT: Duration = Duration::from_secs(10);
/// The export's name: clients mount `/export`.
pub(crate) const EXPORT: &str = "export";

/// Runs the gateway until the driver closes our stdin.
pub(crate) fn run(options: GatewayOptions) -> Result<ExitCode, Error> {
    let runtime = telemetry::runtime()?;
    // Started inside the runtime, so the process metrics report its workers and tasks.
    let guard = {
        let _in_runtime = runtime.enter();
        telemetry::init("storage-gateway", "gateway", options.listen.ip(), &[])?
    };
    let result = runtime.block_on(serve(&options, &guard));
    drop(runtime);
    telemetry::shutdown(guard, "gateway");
    result.map(|()| ExitCode::SUCCESS)
}

async fn serve(options: &GatewayOptions, guard: &ferrotel::Guard) -> Result<(), Error> {
    let channels = telemetry::Channels::new(guard);
    let mut nodes = Vec::new();
    for (id, addr) in &options.nodes {
        let client = StorageClient::new(channels.open(addr)?)
            .max_decoding_message_size(4 << 20)
            .max_encoding_message_size(4 << 20);
        nodes.push((*id, client));
    }
    if options.initialize {
        if let Some((_, first)) = nodes.first() {
            tokio::spawn(initialize(first.clone(), Members(options.nodes.clone())));
        }
    }
    let stats = Arc::new(Stats::default());
    let fs = ClusterFs {
        nodes,
        leader: AtomicUsize::new(0),
        stats: Arc::clone(&stats),
    };
    let traced = TracedFs::new(fs, guard.ops().nfs(NfsSide::Server), Share::new("/export"));
    let mut listener = NFSTcpListener::bind(&options.listen.to_string(), traced)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    listener.with_export_name(EXPORT);
    track_mounts(&mut listener, guard.ops().nfs(NfsSide::Server))
        .map_err(|e| format!("cannot count connections: {e}"))?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], listener.get_listen_port()));
    telemetry::announce(addr, guard.metrics_addr())?;
    tokio::select! {
        served = listener.handle_forever() => {
            served.map_err(|e| format!("the NFS server stopped: {e}"))?;
        }
        () = telemetry::shutdown_signal() => {}
    }
    // The driver reads this line for its failover summary.
    let shown = stats
        .writes
        .lock()
        .ok()
        .map(|w| {
            w.iter()
                .skip(WARM_UP)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "-".to_string());
    telemetry::say(&format!(
        "{STATS} retried={} gave_up={} write_traces={shown}\n",
        stats.retried.load(Ordering::Relaxed),
        stats.gave_up.load(Ordering::Relaxed)
    ));
    Ok(())
}

/// Makes the nodes one Raft cluster (`--initialize`, where no driver does it): asks the first
/// node to initialize with every member, until it answers, as the nodes may start after us.
/// Asking again is harmless: an initialized cluster answers yes.
async fn initialize(mut first: StorageClient<TracedChannel>, members: Members) {
    let Ok(payload) = api::encode(&members) else {
        return;
    };
    loop {
        match first.initialize(payload.clone()).await {
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e.message(), "the first storage node is not ready to initialize");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// The export as a filesystem: every call goes to the Raft leader.
struct ClusterFs {
    nodes: Vec<(u64, StorageClient<TracedChannel>)>,
    /// Which of `nodes` is believed to lead.
    leader: AtomicUsize,
    stats: Arc<Stats>,
}

/// What the gateway reports when it stops.
#[derive(Default)]
struct Stats {
    /// Calls that had to be sent again (to a new leader, or after an election).
    retried: AtomicU64,
    /// Calls that found no leader within FAILOVER_WAIT.
    gave_up: AtomicU64,
    /// The trace ids of the first sampled, successful WRITEs: the driver shows one of them.
    writes: std::sync::Mutex<Vec<String>>,
}

/// The sampled WRITEs the driver may show: early ones (their spans are all at the embedded
/// receiver, which keeps the first spans only), once connections are warm.
const WARM_UP: usize = 4;
const CANDIDATE_WRITES: usize = WARM_UP + 16;

/// The prefix of the gateway's last stdout line: `stats retried=N gave_up=M`.
pub(crate) const STATS: &str = "stats";

#[derive(Clone, Copy)]
enum Call {
    Propose,
    Query,
}

impl ClusterFs {
    async fn propose(&self, command: Command) -> Outcome {
        let retryable_remove = matches!(command, Command::Remove { .. });
        let payload = api::encode(&command).map_err(|_| nfsstat3_code::IO)?;
        let (outcome, retried) = self.call(Call::Propose, payload).await;
        match outcome {
            // A REMOVE retried after a lost reply may have been applied the first time.
            Err(api::NFS3ERR_NOENT) if retried && retryable_remove => Ok(Reply::Removed),
            outcome => outcome,
        }
    }

    async fn query(&self, query: Query) -> Outcome {
        let payload = api::encode(&query).map_err(|_| nfsstat3_code::IO)?;
        self.call(Call::Query, payload).await.0
    }

    /// Sends `payload` to the leader, following redirects and waiting out elections.
    async fn call(&self, call: Call, payload: Payload) -> (Outcome, bool) {
        let deadline = Instant::now() + FAILOVER_WAIT;
        let mut attempt = 0u32;
        loop {
            let slot = self.leader.load(Ordering::Acquire) % self.nodes.len().max(1);
            let Some((_, client)) = self.nodes.get(slot) else {
                return (Err(nfsstat3_code::IO), false);
            };
            let mut client = client.clone();
            let reply = match call {
                Call::Propose => client.propose(payload.clone()).await,
                Call::Query => client.query(payload.clone()).await,
            };
            let answer: Option<Answer> = reply.ok().and_then(|r| api::decode(r.get_ref()).ok());
            let next = match answer {
                Some(Ok(outcome)) => return (outcome, attempt > 0),
                Some(Err(Refusal::NotLeader {
                    leader: Some(leader),
                })) => self
                    .nodes
                    .iter()
                    .position(|(id, _)| *id == leader)
                    .filter(|&p| p != slot)
                    .unwrap_or(slot + 1),
                // No leader known, the node is down or refused: ask the next one.
                _ => slot + 1,
            };
            let _ = self.leader.compare_exchange(
                slot,
                next % self.nodes.len(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            if attempt == 0 {
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
            }
            attempt += 1;
            if Instant::now() >= deadline {
                self.stats.gave_up.fetch_add(1, Ordering::Relaxed);
                return (Err(nfsstat3_code::JUKEBOX), true);
            }
            // Back off while an election runs: 10 ms, doubling, at most 200 ms.
            tokio::time::sleep(
                Duration::from_millis(10 << attempt.min(4)).min(Duration::from_millis(200)),
            )
            .await;
        }
    }

    /// Notes the current (TracedFs's WRITE) span's trace, if sampled.
    fn note_write(&self) {
        let cx = Context::current();
        let span_context = cx.span().span_context().clone();
        if !span_context.is_sampled() {
            return;
        }
        if let Ok(mut writes) = self.stats.writes.lock() {
            if writes.len() < CANDIDATE_WRITES {
                writes.push(span_context.trace_id().to_string());
            }
        }
    }

    async fn attr(&self, id: u64) -> Result<Attr, nfsstat3> {
        match self.query(Query::GetAttr { id }).await {
            Ok(Reply::Attr(attr)) => Ok(attr),
            other => Err(status_of(other)),
        }
    }
}

/// The NFS status codes the gateway itself produces.
mod nfsstat3_code {
    pub(super) const IO: u32 = super::api::NFS3ERR_IO;
    pub(super) const JUKEBOX: u32 = 10008;
}

/// The status of a failed outcome (an unexpected reply is an I/O error).
fn status_of(outcome: Outcome) -> nfsstat3 {
    match outcome {
        Err(code) => nfsstat(code),
        Ok(_) => nfsstat3::NFS3ERR_IO,
    }
}

fn nfsstat(code: u32) -> nfsstat3 {
    match code {
        api::NFS3ERR_NOENT => nfsstat3::NFS3ERR_NOENT,
        api::NFS3ERR_EXIST => nfsstat3::NFS3ERR_EXIST,
        api::NFS3ERR_NOTDIR => nfsstat3::NFS3ERR_NOTDIR,
        api::NFS3ERR_ISDIR => nfsstat3::NFS3ERR_ISDIR,
        api::NFS3ERR_INVAL => nfsstat3::NFS3ERR_INVAL,
        api::NFS3ERR_FBIG => nfsstat3::NFS3ERR_FBIG,
        api::NFS3ERR_NOSPC => nfsstat3::NFS3ERR_NOSPC,
        api::NFS3ERR_NAMETOOLONG => nfsstat3::NFS3ERR_NAMETOOLONG,
        api::NFS3ERR_NOTEMPTY => nfsstat3::NFS3ERR_NOTEMPTY,
        api::NFS3ERR_STALE => nfsstat3::NFS3ERR_STALE,
        nfsstat3_code::JUKEBOX => nfsstat3::NFS3ERR_JUKEBOX,
        _ => nfsstat3::NFS3ERR_IO,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn fattr(attr: &Attr) -> fattr3 {
    let time = nfstime3 {
        seconds: (attr.mtime_ns / 1_000_000_000) as u32,
        nseconds: (attr.mtime_ns % 1_000_000_000) as u32,
    };
    fattr3 {
        type_: if attr.dir {
            ftype3::NF3DIR
        } else {
            ftype3::NF3REG
        },
        mode: if attr.dir { 0o755 } else { 0o644 },
        nlink: 1,
        uid: 0,
        gid: 0,
        size: attr.size,
        used: attr.size,
        rdev: specdata3::default(),
        fsid: 0,
        fileid: attr.id,
        atime: time,
        mtime: time,
        ctime: time,
    }
}

/// A file name as UTF-8 (the store's names are strings); anything else is NFS3ERR_INVAL.
fn name_of(name: &filename3<'_>) -> Result<String, nfsstat3> {
    if name.0.len() > api::MAX_NAME {
        return Err(nfsstat3::NFS3ERR_NAMETOOLONG);
    }
    std::str::from_utf8(name.0.as_ref())
        .map(str::to_string)
        .map_err(|_| nfsstat3::NFS3ERR_INVAL)
}

fn attr_of(outcome: Outcome) -> Result<Attr, nfsstat3> {
    match outcome {
        Ok(Reply::Attr(attr)) => Ok(attr),
        other => Err(status_of(other)),
    }
}

impl NfsReadFileSystem for ClusterFs {
    type Handle = FileHandleU64;

    fn root_dir(&self) -> FileHandleU64 {
        FileHandleU64::new(api::ROOT)
    }

    async fn lookup(
        &self,
        dirid: &FileHandleU64,
        filename: &filename3<'_>,
    ) -> Result<FileHandleU64, nfsstat3> {
        let name = name_of(filename)?;
        let found = self
            .query(Query::Lookup {
                dir: dirid.as_u64(),
                name,
            })
            .await;
        attr_of(found).map(|a| FileHandleU64::new(a.id))
    }

    async fn getattr(&self, id: &FileHandleU64) -> Result<fattr3, nfsstat3> {
        self.attr(id.as_u64()).await.map(|a| fattr(&a))
    }

    async fn read(
        &self,
        id: &FileHandleU64,
        offset: u64,
        count: u32,
    ) -> Result<(Vec<u8>, bool), nfsstat3> {
        let read = self
            .query(Query::Read {
                file: id.as_u64(),
                offset,
                count: count.min(api::MAX_IO),
            })
            .await;
        match read {
            Ok(Reply::Data { data, eof, .. }) => Ok((data, eof)),
            other => Err(status_of(other)),
        }
    }

    async fn readdirplus(
        &self,
        dirid: &FileHandleU64,
        cookie: u64,
    ) -> Result<impl ReadDirPlusIterator<FileHandleU64>, nfsstat3> {
        let listed = self
            .query(Query::ReadDir {
                dir: dirid.as_u64(),
            })
            .await;
        let entries = match listed {
            Ok(Reply::Entries(entries)) => entries,
            other => return Err(status_of(other)),
        };
        // A cookie is the position after an entry: resume past it.
        let entries = entries
            .into_iter()
            .enumerate()
            .skip(usize::try_from(cookie).unwrap_or(usize::MAX))
            .map(|(i, (name, attr))| DirEntryPlus {
                fileid: attr.id,
                name: filename3(Opaque::owned(name.into_bytes())),
                cookie: i as u64 + 1,
                name_attributes: Some(fattr(&attr)),
                name_handle: Some(FileHandleU64::new(attr.id)),
            })
            .collect::<Vec<_>>()
            .into_iter();
        Ok(Listing(entries))
    }

    async fn readlink(&self, _id: &FileHandleU64) -> Result<nfspath3<'_>, nfsstat3> {
        Err(nfsstat3::NFS3ERR_NOTSUPP)
    }
}

/// READDIR(PLUS)'s entries, listed at once (a directory holds at most MAX_FILES).
struct Listing(std::vec::IntoIter<DirEntryPlus<FileHandleU64>>);

impl ReadDirPlusIterator<FileHandleU64> for Listing {
    async fn next(&mut self) -> NextResult<DirEntryPlus<FileHandleU64>> {
        match self.0.next() {
            Some(entry) => NextResult::Ok(entry),
            None => NextResult::Eof,
        }
    }
}

impl NfsFileSystem for ClusterFs {
    async fn setattr(&self, id: &FileHandleU64, setattr: sattr3) -> Result<fattr3, nfsstat3> {
        match setattr.size {
            set_size3::Some(size) => {
                let changed = self
                    .propose(Command::SetSize {
                        file: id.as_u64(),
                        size,
                        time_ns: now_ns(),
                    })
                    .await;
                attr_of(changed).map(|a| fattr(&a))
            }
            // Modes, owners and times are not kept: the attributes stay as they are.
            set_size3::None => self.getattr(id).await,
        }
    }

    async fn write(
        &self,
        id: &FileHandleU64,
        offset: u64,
        data: &[u8],
        _stable: stable_how,
    ) -> Result<(fattr3, stable_how), nfsstat3> {
        if data.len() > api::MAX_IO as usize {
            return Err(nfsstat3::NFS3ERR_INVAL);
        }
        let written = self
            .propose(Command::Write {
                file: id.as_u64(),
                offset,
                data: data.to_vec(),
                time_ns: now_ns(),
            })
            .await;
        if written.is_ok() {
            self.note_write();
        }
        // Committed by a majority and applied on the leader: as stable as it gets.
        attr_of(written).map(|a| (fattr(&a), stable_how::FILE_SYNC))
    }

    async fn create(
        &self,
        dirid: &FileHandleU64,
        filename: &filename3<'_>,
        _attr: sattr3,
    ) -> Result<(FileHandleU64, fattr3), nfsstat3> {
        let created = self
            .propose(Command::Create {
                dir: dirid.as_u64(),
                name: name_of(filename)?,
                exclusive: false,
                time_ns: now_ns(),
            })
            .await;
        attr_of(created).map(|a| (FileHandleU64::new(a.id), fattr(&a)))
    }

    async fn create_exclusive(
        &self,
        dirid: &FileHandleU64,
        filename: &filename3<'_>,
        _createverf: createverf3,
    ) -> Result<FileHandleU64, nfsstat3> {
        let created = self
            .propose(Command::Create {
                dir: dirid.as_u64(),
                name: name_of(filename)?,
                exclusive: true,
                time_ns: now_ns(),
            })
            .await;
        attr_of(created).map(|a| FileHandleU64::new(a.id))
    }

    async fn mkdir(
        &self,
        dirid: &FileHandleU64,
        dirname: &filename3<'_>,
    ) -> Result<(FileHandleU64, fattr3), nfsstat3> {
        let made = self
            .propose(Command::Mkdir {
                dir: dirid.as_u64(),
                name: name_of(dirname)?,
                time_ns: now_ns(),
            })
            .await;
        attr_of(made).map(|a| (FileHandleU64::new(a.id), fattr(&a)))
    }

    async fn remove(
        &self,
        dirid: &FileHandleU64,
        filename: &filename3<'_>,
    ) -> Result<(), nfsstat3> {
        let removed = self
            .propose(Command::Remove {
                dir: dirid.as_u64(),
                name: name_of(filename)?,
                time_ns: now_ns(),
            })
            .await;
        match removed {
            Ok(_) => Ok(()),
            other => Err(status_of(other)),
        }
    }

    async fn rename<'a>(
        &self,
        _from_dirid: &FileHandleU64,
        _from_filename: &filename3<'a>,
        _to_dirid: &FileHandleU64,
        _to_filename: &filename3<'a>,
    ) -> Result<(), nfsstat3> {
        Err(nfsstat3::NFS3ERR_NOTSUPP)
    }

    async fn symlink<'a>(
        &self,
        _dirid: &FileHandleU64,
        _linkname: &filename3<'a>,
        _symlink: &nfspath3<'a>,
        _attr: &sattr3,
    ) -> Result<(FileHandleU64, fattr3), nfsstat3> {
        Err(nfsstat3::NFS3ERR_NOTSUPP)
    }

    async fn commit(&self, _id: &FileHandleU64, _offset: u64, _count: u32) -> Result<(), nfsstat3> {
        // Every WRITE is committed through the log before it is answered.
        Ok(())
    }
}
