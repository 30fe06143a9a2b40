//! The driver: starts the cluster, mounts the export with a real NFSv3 client (`nfs3_client`),
//! runs the workload, kills the leader when asked, reads every acknowledged write back, reports,
//! and shows one WRITE's trace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrotel::config::vars;
use ferrotel::ops::nfs::{NfsInstruments, NfsSide, NfsStatus, Procedure, Share};
use ferrotel::StopSignal;
use ferrotel_testkit::Receiver;
use nfs3_client::nfs3_types::nfs3::{
    cookieverf3, createhow3, diropargs3, filename3, nfs_fh3, post_op_fh3, sattr3, stable_how,
    CREATE3args, GETATTR3args, LOOKUP3args, Nfs3Result, READ3args, READDIR3args, REMOVE3args,
    WRITE3args,
};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::TokioConnector;
use nfs3_client::Nfs3ConnectionBuilder;

use crate::api::{self, Members, Status};
use crate::args::DriveOptions;
use crate::cluster::{Cluster, Member};
use crate::gateway::EXPORT;
use crate::proto::StorageClient;
use crate::telemetry::{self, Channels};
use crate::{tree, Error};

/// How long to wait for the chosen trace's spans at the embedded receiver. Every process has
/// flushed (synchronously) before the wait starts, so a trace still incomplete after this lost
/// spans on the way (the processes said so on stderr).
const TRACE_WAIT: Duration = Duration::from_secs(3);
/// The embedded receiver keeps the first spans only (about 1 KiB each): the printed trace is
/// an early one, so a long run's memory stays flat. `STORAGE_CLUSTER_SPAN_LIMIT` changes it.
const SPAN_LIMIT: usize = 50_000;
const SPAN_LIMIT_VAR: &str = "STORAGE_CLUSTER_SPAN_LIMIT";
/// How long the cluster may take to elect its first leader, or a new one after a kill.
const LEADER_WAIT: Duration = Duration::from_secs(30);
/// The files the workload writes, and the size of one WRITE.
const FILES: usize = 16;
const BLOCK: usize = 4096;
/// How often one operation is tried when the server says "try again later" (JUKEBOX).
const ATTEMPTS: u32 = 4;

type Conn = nfs3_client::Nfs3Connection<nfs3_client::tokio::TokioIo<tokio::net::TcpStream>>;

/// How one operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// An answer that is part of the workload (NFS3ERR_NOENT for a name that is not there).
    Expected(NfsStatus),
    Error(NfsStatus),
}

struct OpRecord {
    seq: usize,
    procedure: Procedure,
    latency: Duration,
    outcome: Outcome,
    attempts: u32,
}

/// A WRITE the server acknowledged: what must read back after the run.
struct Acked {
    file: usize,
    offset: u64,
    seq: usize,
}

/// What `--kill-leader-after` observed.
struct Failover {
    killed: u64,
    old_term: u64,
    after_ops: usize,
    new_leader: Option<u64>,
    new_term: u64,
    without_leader: Duration,
}

/// The bytes of the `seq`-th WRITE: distinct per operation, so a lost or misplaced write shows.
fn block(seq: usize) -> Vec<u8> {
    let mut data = vec![0u8; BLOCK];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (mix((seq * BLOCK + i) as u64) & 0xff) as u8;
    }
    data
}

/// SplitMix64: a well-spread number from a sequence number.
fn mix(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `seq`-th operation of the workload: the same sequence whatever the concurrency.
fn workload(seq: usize) -> Procedure {
    // The first operation writes, so even a tiny run has a WRITE to show.
    if seq == 0 {
        return Procedure::Write;
    }
    match mix(seq as u64) % 100 {
        0..=29 => Procedure::Write,
        30..=54 => Procedure::Read,
        55..=69 => Procedure::Getattr,
        70..=81 => Procedure::Lookup,
        82..=87 => Procedure::Create,
        88..=93 => Procedure::Remove,
        _ => Procedure::Readdir,
    }
}

/// The file and the offset of the `seq`-th operation: each WRITE has a block of its own.
fn place(seq: usize) -> (usize, u64) {
    (seq % FILES, (seq / FILES * BLOCK) as u64)
}

fn name(text: &str) -> filename3<'static> {
    filename3(Opaque::owned(text.as_bytes().to_vec()))
}

fn status_of<T, E>(result: &Nfs3Result<T, E>) -> NfsStatus {
    match result {
        Nfs3Result::Ok(_) => NfsStatus::OK,
        Nfs3Result::Err((stat, _)) => NfsStatus::from_code(*stat as u32),
    }
}

/// The signal that stopped the run, once one came.
type Stop = tokio::sync::watch::Receiver<Option<StopSignal>>;

/// Removes the temporary data directory when dropped: on every way out of [`run`], after the
/// cluster (declared later, so dropped first) has stopped writing into it.
struct TemporaryDir(Option<std::path::PathBuf>);

impl Drop for TemporaryDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs the demo and returns the exit code: 0 when every operation got its answer and every
/// acknowledged write read back; 130 after Ctrl-C (SIGINT) and 143 after SIGTERM during the
/// operations, once the children have flushed into the still running receiver and the
/// temporary files are removed; 1 otherwise.
pub(crate) fn run(options: DriveOptions) -> Result<ExitCode, Error> {
    // First: from here on SIGINT and SIGTERM are ours, however early they come.
    let stop_signal = ferrotel::shutdown_signal();
    let receiver = if telemetry::endpoint_configured() {
        None
    } else {
        Some(
            Receiver::builder()
                .span_limit(
                    std::env::var(SPAN_LIMIT_VAR)
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(SPAN_LIMIT),
                )
                .start()
                .map_err(|e| format!("cannot start the OTLP receiver: {e}"))?,
        )
    };
    let endpoint = receiver.as_ref().map(Receiver::grpc_endpoint);
    let mut overrides = telemetry::env_overrides(endpoint.as_deref());
    if let Some(profile) = &options.nfs_metrics {
        overrides.push(("FERROTEL_NFS_METRICS".into(), profile.clone()));
    }
    let mut own = overrides.clone();
    own.extend(
        options
            .endpoints
            .iter()
            .filter(|(process, _)| process == "driver")
            .map(|(_, url)| (vars::OTEL_EXPORTER_OTLP_ENDPOINT.to_string(), url.clone())),
    );
    let telemetry = telemetry::init(
        "storage-client",
        "driver",
        std::net::IpAddr::from([127, 0, 0, 1]),
        &own,
    )?;
    let (data_dir, temporary) = match &options.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("storage-cluster-{}", std::process::id())),
            true,
        ),
    };
    let nfs = telemetry.ops().nfs(NfsSide::Client);

    let removal = TemporaryDir(temporary.then(|| data_dir.clone()));
    let cluster = Cluster::start(
        &overrides,
        &options.endpoints,
        &data_dir,
        options.disk_faults,
        telemetry.config().shutdown_bound(),
    )?;
    print_addresses(&cluster, telemetry.metrics_addr(), &data_dir, temporary);
    let members = cluster.nodes.clone();
    let gateway = cluster.gateway;
    // Shared with the failover task, which kills the leader through it.
    let cluster = Arc::new(Mutex::new(cluster));
    let channels = telemetry::Channels::new(&telemetry);
    let runtime = telemetry::runtime()?;
    let (stopped_by, stop) = tokio::sync::watch::channel(None);
    runtime.spawn(async move {
        let _ = stopped_by.send(Some(stop_signal.await));
    });
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        elect(&channels, &members).await?;
        let run = drive(
            gateway,
            &options,
            &nfs,
            &channels,
            &members,
            Arc::clone(&cluster),
            stop.clone(),
        )
        .await?;
        let verified = verify(gateway, &run.acked).await;
        let raft_lines = raft_metrics(&members, run.failover.as_ref());
        if options.serve && run.interrupted.is_none() {
            serve(&cluster, stop).await;
        }
        Ok::<_, Error>((run, verified, raft_lines))
    });
    let elapsed = started.elapsed();
    drop(runtime);
    let page = telemetry.metrics_addr().and_then(metrics_page);
    let cluster = Arc::try_unwrap(cluster)
        .map_err(|_| "the cluster is still in use")?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    // Stopped (and flushed, into the receiver that outlives them) before anything is
    // reported, whatever the run's outcome; then the files go.
    let stopped = cluster.shutdown();
    drop(removal);
    let (run, verified, raft_lines) = outcome?;
    let gateway_stats = GatewayStats::parse(&stopped.gateway_stats);
    telemetry::shutdown(telemetry, "driver");
    let problems = stopped;
    for problem in &problems.problems {
        eprintln!("storage-cluster: {problem}");
    }
    if let Some(receiver) = &receiver {
        // Every process has flushed: what they exported is all here.
        eprintln!(
            "storage-cluster: embedded receiver: {} spans received",
            receiver.spans().len() as u64 + receiver.spans_dropped()
        );
    }

    let mut out = summary(&run.records, elapsed, &options);
    out.push_str(&failover_report(run.failover.as_ref(), &gateway_stats));
    out.push_str(&raft_lines);
    let _ = writeln!(out, "{}", verified.line());
    // With the spans at hand (here, or in Jaeger), a WRITE that shows the whole story; else
    // the first candidate.
    let jaeger = jaeger_query();
    let chosen = match (&receiver, &jaeger) {
        (Some(receiver), _) => choose_trace(receiver, &gateway_stats.write_traces),
        (None, Some(jaeger)) => choose_in_jaeger(jaeger, &gateway_stats.write_traces),
        (None, None) => gateway_stats.write_traces.first().cloned(),
    };
    match &chosen {
        Some(id) => {
            let _ = writeln!(
                out,
                "trace id: {id} (a WRITE: gateway → leader → replication → append and apply on every node)"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "trace id: none (tracing is off, or no successful WRITE was sampled)"
            );
        }
    }
    match (&receiver, &chosen) {
        (Some(receiver), Some(id)) => {
            let spans = wait_for_trace(receiver, id);
            let _ = writeln!(
                out,
                "\n{} spans from the embedded OTLP receiver ({} kept of {} received):",
                spans.len(),
                receiver.spans().len(),
                receiver.spans().len() as u64 + receiver.spans_dropped(),
            );
            out.push_str(&tree::render(&spans));
        }
        (None, Some(id)) => {
            let base = jaeger.as_ref().map_or_else(
                || format!("http://{DEFAULT_JAEGER_QUERY}"),
                |j| format!("http://{j}"),
            );
            let _ = writeln!(out, "look it up in Jaeger: {base}/trace/{id}");
        }
        _ => {}
    }
    if let Some(page) = page {
        out.push_str(&exemplar_excerpt(&page));
    }
    telemetry::say(&out);

    let errors = run
        .records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    Ok(if let Some(signal) = run.interrupted {
        eprintln!("storage-cluster: interrupted ({signal})");
        ExitCode::from(signal.exit_code())
    } else if errors > 0 || run.records.len() < options.ops {
        eprintln!("storage-cluster: {errors} operations failed");
        ExitCode::FAILURE
    } else if !verified.is_ok() {
        eprintln!("storage-cluster: {}", verified.line());
        ExitCode::FAILURE
    } else if !problems.problems.is_empty() {
        eprintln!(
            "storage-cluster: every operation succeeded, but {} process(es) did not stop cleanly",
            problems.problems.len()
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_addresses(
    cluster: &Cluster,
    own: Option<SocketAddr>,
    data_dir: &std::path::Path,
    temporary: bool,
) {
    let page = |m: Option<SocketAddr>| {
        m.map_or_else(|| "-".to_string(), |m| format!("http://{m}/metrics"))
    };
    let pid = |name: &str| {
        cluster
            .pid(name)
            .map_or_else(|| "-".to_string(), |p| p.to_string())
    };
    eprintln!(
        "storage-cluster: NFSv3 gateway at nfs://{}/{EXPORT} (metrics {}, pid {})",
        cluster.gateway,
        page(cluster.gateway_metrics),
        pid("gateway")
    );
    for m in &cluster.nodes {
        eprintln!(
            "storage-cluster: {} (openraft) at {} (metrics {}, pid {})",
            m.name,
            m.addr,
            page(m.metrics),
            pid(&m.name)
        );
    }
    eprintln!("storage-cluster: driver metrics {}", page(own));
    eprintln!(
        "storage-cluster: node files under {}{}",
        data_dir.display(),
        if temporary {
            " (removed at the end; --data-dir keeps them)"
        } else {
            ""
        }
    );
}

async fn status(channels: &Channels, addr: SocketAddr) -> Option<Status> {
    let mut client = StorageClient::new(channels.open(addr).ok()?);
    let reply = client.status(crate::proto::Payload::default()).await.ok()?;
    api::decode(reply.get_ref()).ok()
}

/// Initializes the cluster with its three members and waits until every node follows one leader.
async fn elect(channels: &Channels, members: &[Member]) -> Result<(), Error> {
    let first = members.first().ok_or("no storage nodes")?;
    let list = Members(members.iter().map(|m| (m.id, m.addr.to_string())).collect());
    StorageClient::new(channels.open(first.addr)?)
        .initialize(api::encode(&list)?)
        .await
        .map_err(|e| format!("cannot initialize the cluster: {}", e.message()))?;
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let mut leaders = Vec::new();
        for m in members {
            leaders.push(status(channels, m.addr).await.and_then(|s| s.leader));
        }
        if leaders.iter().all(|l| l.is_some() && *l == leaders[0]) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("no leader elected within {LEADER_WAIT:?} ({leaders:?})").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn mount(gateway: SocketAddr) -> Result<Conn, Error> {
    Nfs3ConnectionBuilder::new(
        TokioConnector,
        gateway.ip().to_string(),
        format!("/{EXPORT}"),
    )
    .connect_from_privileged_port(false)
    .mount_port(gateway.port())
    .nfs3_port(gateway.port())
    .mount()
    .await
    .map_err(|e| format!("cannot mount nfs://{gateway}/{EXPORT}: {e}").into())
}

/// Creates the workload's files; returns the root handle and each file's handle.
async fn prepare(conn: &mut Conn) -> Result<(nfs_fh3, Vec<nfs_fh3>), Error> {
    let root = conn.root_nfs_fh3();
    let mut handles = Vec::new();
    for i in 0..FILES {
        let created = conn
            .create(&CREATE3args {
                where_: diropargs3 {
                    dir: root.clone(),
                    name: name(&format!("file-{i:02}.dat")),
                },
                how: createhow3::UNCHECKED(sattr3::default()),
            })
            .await
            .map_err(|e| format!("CREATE file-{i:02}.dat: {e}"))?;
        match created {
            Nfs3Result::Ok(ok) => match ok.obj {
                post_op_fh3::Some(handle) => handles.push(handle),
                post_op_fh3::None => return Err("CREATE returned no handle".into()),
            },
            Nfs3Result::Err((stat, _)) => {
                return Err(format!("CREATE file-{i:02}.dat: {stat:?}").into())
            }
        }
    }
    Ok((root, handles))
}

struct Run {
    records: Vec<OpRecord>,
    acked: Vec<Acked>,
    failover: Option<Failover>,
    /// The signal that stopped the operations early.
    interrupted: Option<StopSignal>,
}

/// Runs `options.ops` operations, `options.concurrency` at a time, until done or stopped
/// (SIGINT, SIGTERM); kills the leader after `--kill-leader-after` of them.
async fn drive(
    gateway: SocketAddr,
    options: &DriveOptions,
    nfs: &NfsInstruments,
    channels: &Channels,
    members: &[Member],
    cluster: Arc<Mutex<Cluster>>,
    mut signal: Stop,
) -> Result<Run, Error> {
    let mut setup = mount(gateway).await?;
    let (root, handles) = prepare(&mut setup).await?;
    let _ = setup.unmount().await;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let signal_seen = signal.clone();
    let kill_now = Arc::new(tokio::sync::Notify::new());
    let watcher = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if signal.wait_for(Option::is_some).await.is_ok() {
                stop.store(true, Ordering::Release);
            }
        })
    };
    let failover = options.kill_leader_after.map(|after| {
        let (kill_now, members) = (Arc::clone(&kill_now), members.to_vec());
        let channels = channels.clone();
        tokio::spawn(async move {
            kill_now.notified().await;
            fail_over(&channels, &members, cluster, after).await
        })
    });
    let share = Share::new("/export");
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.min(options.ops) {
        let mut conn = mount(gateway).await?;
        let ctx = Worker {
            root: root.clone(),
            handles: handles.clone(),
            nfs: nfs.clone(),
            share: share.clone(),
        };
        let (next, done, stop, kill_now) = (
            Arc::clone(&next),
            Arc::clone(&done),
            Arc::clone(&stop),
            Arc::clone(&kill_now),
        );
        let (total, kill_after) = (options.ops, options.kill_leader_after);
        workers.push(tokio::spawn(async move {
            let mut records = Vec::new();
            let mut acked = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::AcqRel);
                if seq >= total || stop.load(Ordering::Acquire) {
                    break;
                }
                let record = ctx.operation(&mut conn, seq).await;
                if record.procedure == Procedure::Write && record.outcome == Outcome::Ok {
                    let (file, offset) = place(seq);
                    acked.push(Acked { file, offset, seq });
                }
                records.push(record);
                let finished = done.fetch_add(1, Ordering::AcqRel) + 1;
                if Some(finished) == kill_after {
                    kill_now.notify_one();
                }
                progress(finished, total);
            }
            let _ = conn.unmount().await;
            (records, acked)
        }));
    }
    let mut run = Run {
        records: Vec::new(),
        acked: Vec::new(),
        failover: None,
        interrupted: None,
    };
    for worker in workers {
        match worker.await {
            Ok((mut records, mut acked)) => {
                run.records.append(&mut records);
                run.acked.append(&mut acked);
            }
            Err(e) => eprintln!("storage-cluster: a client task failed: {e}"),
        }
    }
    if let Some(task) = failover {
        match task.await {
            Ok(Ok(report)) => run.failover = Some(report),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("the failover task failed: {e}").into()),
        }
    }
    watcher.abort();
    run.records.sort_by_key(|r| r.seq);
    if stop.load(Ordering::Acquire) {
        run.interrupted = *signal_seen.borrow();
    }
    Ok(run)
}

/// Keeps the cluster up for another client until stdin closes (or SIGINT, SIGTERM): one line on
/// stdout names the export and every `/metrics` page.
async fn serve(cluster: &Mutex<Cluster>, mut stop: Stop) {
    let line = match cluster.lock() {
        Ok(c) => {
            let mut pages: Vec<String> = c
                .nodes
                .iter()
                .filter_map(|m| m.metrics.map(|a| format!("{}=http://{a}/metrics", m.name)))
                .collect();
            if let Some(a) = c.gateway_metrics {
                pages.push(format!("gateway=http://{a}/metrics"));
            }
            format!("serving nfs://{}/{EXPORT} {}", c.gateway, pages.join(" "))
        }
        Err(_) => return,
    };
    telemetry::say(&format!("{line}\n"));
    eprintln!("storage-cluster: serving until stdin closes (or Ctrl-C, SIGTERM)");
    tokio::select! {
        () = telemetry::shutdown_signal() => {}
        _ = stop.wait_for(Option::is_some) => {}
    }
}

/// After a failover: the surviving nodes' `/metrics` lines that show it.
fn raft_metrics(members: &[Member], failover: Option<&Failover>) -> String {
    let Some(f) = failover else {
        return String::new();
    };
    let mut out = String::new();
    for m in members.iter().filter(|m| m.id != f.killed) {
        let Some(page) = m.metrics.and_then(metrics_page) else {
            continue;
        };
        let shown: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("raft_leader_changes_total") || l.starts_with("raft_term"))
            .collect();
        let _ = writeln!(out, "  {} /metrics: {}", m.name, shown.join("; "));
    }
    out
}

/// Kills the current leader and waits for the survivors to elect a new one.
async fn fail_over(
    channels: &Channels,
    members: &[Member],
    cluster: Arc<Mutex<Cluster>>,
    after_ops: usize,
) -> Result<Failover, Error> {
    let mut leader = None;
    for m in members {
        if let Some(s) = status(channels, m.addr).await {
            if s.leader == Some(s.id) {
                leader = Some(s);
                break;
            }
        }
    }
    let old = leader.ok_or("no node says it leads: nothing to kill")?;
    let killed = old.id;
    tokio::task::spawn_blocking(move || -> Result<(), Error> {
        cluster.lock().map_err(|_| "cluster lock")?.kill(killed)
    })
    .await
    .map_err(|e| format!("kill: {e}"))??;
    let killed_at = Instant::now();
    eprintln!(
        "storage-cluster: killed the leader node-{killed} (term {}) after {after_ops} operations",
        old.term
    );
    let survivors: Vec<&Member> = members.iter().filter(|m| m.id != killed).collect();
    loop {
        for m in &survivors {
            if let Some(s) = status(channels, m.addr).await {
                if let Some(new) = s.leader.filter(|&l| l != killed && s.term > old.term) {
                    let without_leader = killed_at.elapsed();
                    eprintln!(
                        "storage-cluster: node-{new} leads in term {} after {:.2} s without a leader",
                        s.term,
                        without_leader.as_secs_f64()
                    );
                    return Ok(Failover {
                        killed,
                        old_term: old.term,
                        after_ops,
                        new_leader: Some(new),
                        new_term: s.term,
                        without_leader,
                    });
                }
            }
        }
        if killed_at.elapsed() >= LEADER_WAIT {
            return Ok(Failover {
                killed,
                old_term: old.term,
                after_ops,
                new_leader: None,
                new_term: old.term,
                without_leader: killed_at.elapsed(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What each worker needs to run operations.
struct Worker {
    root: nfs_fh3,
    handles: Vec<nfs_fh3>,
    nfs: NfsInstruments,
    share: Share,
}

impl Worker {
    /// Runs one operation in a CLIENT span of its own, trying again while the server says
    /// "try again later" (NFS3ERR_JUKEBOX: no leader yet).
    async fn operation(&self, conn: &mut Conn, seq: usize) -> OpRecord {
        let procedure = workload(seq);
        let started = Instant::now();
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let op = self.nfs.start(procedure, &self.share);
            let (status, bytes) = self.call(conn, procedure, seq).await;
            op.finish(status, bytes);
            let outcome = match status {
                NfsStatus::OK => Outcome::Ok,
                NfsStatus::NOENT if matches!(procedure, Procedure::Lookup | Procedure::Remove) => {
                    Outcome::Expected(status)
                }
                other => Outcome::Error(other),
            };
            if status != NfsStatus::JUKEBOX || attempts >= ATTEMPTS {
                break outcome;
            }
        };
        if let Outcome::Error(status) = outcome {
            eprintln!(
                "storage-cluster: {} #{seq} failed: {} after {attempts} attempt(s)",
                procedure.name(),
                status.name()
            );
        }
        OpRecord {
            seq,
            procedure,
            latency: started.elapsed(),
            outcome,
            attempts,
        }
    }

    /// One NFS call: its status and the bytes it moved. A broken connection is NFS3ERR_IO.
    async fn call(&self, conn: &mut Conn, procedure: Procedure, seq: usize) -> (NfsStatus, u64) {
        let (file, offset) = place(seq);
        let fh = self.handles[file].clone();
        // CREATE makes a scratch file of its own; REMOVE removes the latest one made before it.
        let scratch = || {
            let made = if procedure == Procedure::Create {
                Some(seq)
            } else {
                (seq.saturating_sub(256)..seq)
                    .rev()
                    .find(|&s| workload(s) == Procedure::Create)
            };
            name(&format!("scratch-{:06}.tmp", made.unwrap_or(usize::MAX)))
        };
        let result = match procedure {
            Procedure::Write => {
                let data = block(seq);
                conn.write(&WRITE3args {
                    file: fh,
                    offset,
                    count: data.len() as u32,
                    stable: stable_how::FILE_SYNC,
                    data: Opaque::borrowed(&data),
                })
                .await
                .map(|r| (status_of(&r), data.len() as u64))
            }
            Procedure::Read => conn
                .read(&READ3args {
                    file: fh,
                    // A block some earlier WRITE may have filled (or a hole: zeros).
                    offset: offset.saturating_sub((FILES * BLOCK) as u64),
                    count: BLOCK as u32,
                })
                .await
                .map(|r| {
                    let bytes = match &r {
                        Nfs3Result::Ok(ok) => ok.data.len() as u64,
                        Nfs3Result::Err(_) => 0,
                    };
                    (status_of(&r), bytes)
                }),
            Procedure::Getattr => conn
                .getattr(&GETATTR3args { object: fh })
                .await
                .map(|r| (status_of(&r), 0)),
            Procedure::Lookup => {
                // NFS clients often look up names that are not there.
                let wanted = if mix(seq as u64) >> 40 & 3 == 0 {
                    format!("missing-{file:02}.dat")
                } else {
                    format!("file-{file:02}.dat")
                };
                conn.lookup(&LOOKUP3args {
                    what: diropargs3 {
                        dir: self.root.clone(),
                        name: name(&wanted),
                    },
                })
                .await
                .map(|r| (status_of(&r), 0))
            }
            Procedure::Create => conn
                .create(&CREATE3args {
                    where_: diropargs3 {
                        dir: self.root.clone(),
                        name: scratch(),
                    },
                    how: createhow3::UNCHECKED(sattr3::default()),
                })
                .await
                .map(|r| (status_of(&r), 0)),
            Procedure::Remove => conn
                .remove(&REMOVE3args {
                    object: diropargs3 {
                        dir: self.root.clone(),
                        name: scratch(),
                    },
                })
                .await
                .map(|r| (status_of(&r), 0)),
            _ => conn
                .readdir(&READDIR3args {
                    dir: self.root.clone(),
                    cookie: 0,
                    cookieverf: cookieverf3::default(),
                    count: 64 * 1024,
                })
                .await
                .map(|r| (status_of(&r), 0)),
        };
        result.unwrap_or((NfsStatus::IO, 0))
    }
}

/// What reading every acknowledged write back found.
struct Verified {
    checked: usize,
    mismatched: Vec<usize>,
    error: Option<String>,
}

impl Verified {
    fn is_ok(&self) -> bool {
        self.mismatched.is_empty() && self.error.is_none()
    }

    fn line(&self) -> String {
        match (&self.error, self.mismatched.as_slice()) {
            (Some(e), _) => format!("verify: could not read the files back: {e}"),
            (None, []) => format!(
                "verify: all {} acknowledged writes read back identical",
                self.checked
            ),
            (None, bad) => format!(
                "verify: {} of {} acknowledged writes read back wrong (first: WRITE #{})",
                bad.len(),
                self.checked,
                bad[0]
            ),
        }
    }
}

/// Reads back, over a fresh mount, every block the server acknowledged.
async fn verify(gateway: SocketAddr, acked: &[Acked]) -> Verified {
    let mut verified = Verified {
        checked: 0,
        mismatched: Vec::new(),
        error: None,
    };
    let mut conn = match mount(gateway).await {
        Ok(conn) => conn,
        Err(e) => {
            verified.error = Some(e.to_string());
            return verified;
        }
    };
    let handles = match prepare(&mut conn).await {
        Ok((_, handles)) => handles,
        Err(e) => {
            verified.error = Some(e.to_string());
            return verified;
        }
    };
    let mut by_seq: BTreeMap<usize, &Acked> = BTreeMap::new();
    for a in acked {
        by_seq.insert(a.seq, a);
    }
    for (seq, a) in by_seq {
        let read = conn
            .read(&READ3args {
                file: handles[a.file].clone(),
                offset: a.offset,
                count: BLOCK as u32,
            })
            .await;
        verified.checked += 1;
        let same =
            matches!(&read, Ok(Nfs3Result::Ok(ok)) if ok.data.as_ref() == block(seq).as_slice());
        if !same {
            verified.mismatched.push(seq);
        }
    }
    let _ = conn.unmount().await;
    verified
}

/// A progress line on stderr every 10% of the operations (for runs long enough to care).
fn progress(finished: usize, total: usize) {
    if total < 50 {
        return;
    }
    let step = total.div_ceil(10);
    if finished.is_multiple_of(step) || finished == total {
        eprintln!(
            "storage-cluster: {finished}/{total} ops ({}%)",
            finished * 100 / total
        );
    }
}

const PROCEDURES: [Procedure; 7] = [
    Procedure::Write,
    Procedure::Read,
    Procedure::Getattr,
    Procedure::Lookup,
    Procedure::Create,
    Procedure::Remove,
    Procedure::Readdir,
];

/// The report: operations per procedure, errors, latency percentiles seen by the client.
fn summary(records: &[OpRecord], elapsed: Duration, options: &DriveOptions) -> String {
    let mut out = String::new();
    let errors = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    let retried = records.iter().filter(|r| r.attempts > 1).count();
    let rate = records.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    let _ = writeln!(
        out,
        "storage-cluster: {} of {} NFS operations in {:.2} s ({rate:.0} ops/s, concurrency {}), {errors} errors, {retried} tried again after NFS3ERR_JUKEBOX",
        records.len(),
        options.ops,
        elapsed.as_secs_f64(),
        options.concurrency,
    );
    let _ = writeln!(
        out,
        "  {:<9} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9}",
        "procedure", "ops", "ok", "noent", "errors", "p50 ms", "p99 ms"
    );
    let rows = PROCEDURES
        .iter()
        .map(|p| (p.name(), Some(*p)))
        .chain([("all", None)]);
    for (label, procedure) in rows {
        let of: Vec<&OpRecord> = records
            .iter()
            .filter(|r| procedure.is_none_or(|p| r.procedure == p))
            .collect();
        let ok = of.iter().filter(|r| r.outcome == Outcome::Ok).count();
        let expected = of
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Expected(_)))
            .count();
        let failed = of
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Error(_)))
            .count();
        let mut latencies: Vec<Duration> = of.iter().map(|r| r.latency).collect();
        latencies.sort_unstable();
        let _ = writeln!(
            out,
            "  {label:<9} {:>6} {ok:>6} {expected:>6} {failed:>7} {:>9} {:>9}",
            of.len(),
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
        );
    }
    out
}

/// What the gateway said as it stopped (`stats …`).
#[derive(Debug, Default, Clone)]
pub(crate) struct GatewayStats {
    pub(crate) retried: u64,
    pub(crate) gave_up: u64,
    /// Sampled WRITEs the gateway served early in the run, oldest first.
    pub(crate) write_traces: Vec<String>,
}

impl GatewayStats {
    pub(crate) fn parse(lines: &[String]) -> GatewayStats {
        let mut stats = GatewayStats::default();
        for word in lines.iter().flat_map(|l| l.split_whitespace()) {
            match word.split_once('=') {
                Some(("retried", n)) => stats.retried = n.parse().unwrap_or(0),
                Some(("gave_up", n)) => stats.gave_up = n.parse().unwrap_or(0),
                Some(("write_traces", ids)) if ids != "-" => {
                    stats.write_traces = ids.split(',').map(str::to_string).collect();
                }
                _ => {}
            }
        }
        stats
    }
}

fn failover_report(failover: Option<&Failover>, gateway: &GatewayStats) -> String {
    let Some(f) = failover else {
        return String::new();
    };
    let elected = match f.new_leader {
        Some(leader) => format!(
            "node-{leader} elected leader in term {} after {:.2} s without a leader",
            f.new_term,
            f.without_leader.as_secs_f64()
        ),
        None => format!(
            "no new leader within {:.0} s",
            f.without_leader.as_secs_f64()
        ),
    };
    format!(
        "failover: killed the leader node-{} (term {}) after {} operations; {elected}; \
         the gateway retried {} calls against the new leader, {} found no leader in time\n",
        f.killed, f.old_term, f.after_ops, gateway.retried, gateway.gave_up
    )
}

/// The `q` quantile (nearest rank) in milliseconds, or `-` with no samples.
fn percentile_ms(sorted: &[Duration], q: f64) -> String {
    if sorted.is_empty() {
        return "-".to_string();
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    format!("{:.2}", sorted[rank - 1].as_secs_f64() * 1000.0)
}

/// Where Jaeger's query service listens (`host:port`), to read the candidate traces from
/// (`STORAGE_CLUSTER_JAEGER`, `none` for nowhere).
const JAEGER_VAR: &str = "STORAGE_CLUSTER_JAEGER";
const DEFAULT_JAEGER_QUERY: &str = "localhost:16686";
/// The largest Jaeger answer read for one candidate trace.
const MAX_JAEGER_ANSWER: usize = 1 << 20;

/// Jaeger's query address, when an OTLP endpoint is configured (the spans went there).
fn jaeger_query() -> Option<String> {
    if !telemetry::endpoint_configured() {
        return None;
    }
    let value = std::env::var(JAEGER_VAR).unwrap_or_default();
    let value = value.trim();
    let addr = match value {
        "" => DEFAULT_JAEGER_QUERY,
        "none" => return None,
        other => other
            .strip_prefix("http://")
            .unwrap_or(other)
            .trim_end_matches('/'),
    };
    Some(addr.to_string())
}

/// The first of `candidates` that Jaeger at `jaeger` holds whole and
/// [`tree::representative_shape`]; else the first candidate. Every process flushed before
/// this runs; Jaeger stores what it received within moments, so each trace gets a short wait.
fn choose_in_jaeger(jaeger: &str, candidates: &[String]) -> Option<String> {
    let first = candidates.first()?;
    let deadline = Instant::now() + TRACE_WAIT;
    // `Err` when Jaeger does not answer at all; `Ok(None)` while it lacks the trace.
    let fetch = |id: &str| -> Result<Option<Vec<tree::Shape>>, ()> {
        let path = format!("/api/traces/{id}");
        let answer =
            ferrotel_testkit::raw_http::request(jaeger, "GET", &path, &[], None).map_err(|_| ())?;
        if answer.status != 200 || answer.body.len() > MAX_JAEGER_ANSWER {
            return Ok(None);
        }
        let json: serde_json::Value = serde_json::from_str(&answer.body).map_err(|_| ())?;
        Ok(json["data"].get(0).map(tree::jaeger_shapes))
    };
    for id in candidates {
        loop {
            match fetch(id) {
                Err(()) => return Some(first.clone()),
                Ok(Some(shapes)) if tree::representative_shape(&shapes) => return Some(id.clone()),
                // Until the deadline the trace may still be arriving; after it, one look each.
                _ if Instant::now() >= deadline => break,
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    Some(first.clone())
}

/// The first of `candidates` whose trace at the receiver is [`tree::representative`], else the
/// first candidate.
fn choose_trace(receiver: &Receiver, candidates: &[String]) -> Option<String> {
    let first = candidates.first()?;
    let _ = wait_for_trace(receiver, first);
    let spans = receiver.spans();
    candidates
        .iter()
        .find(|id| {
            let trace: Vec<_> = spans
                .iter()
                .filter(|s| s.trace_id_hex() == **id)
                .cloned()
                .collect();
            tree::representative(&trace)
        })
        .or(Some(first))
        .cloned()
}

/// The spans of `trace_id` at the receiver, once the trace is whole (every parent present) or
/// the wait is over. Every process has flushed by now, so this is normally immediate.
fn wait_for_trace(receiver: &Receiver, trace_id: &str) -> Vec<ferrotel_testkit::ReceivedSpan> {
    let deadline = Instant::now() + TRACE_WAIT;
    if let Err(e) = receiver.wait_for_spans(1, TRACE_WAIT) {
        eprintln!("storage-cluster: {e}");
        return Vec::new();
    }
    loop {
        let spans: Vec<_> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id_hex() == trace_id)
            .collect();
        if tree::is_whole(&spans) || Instant::now() >= deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The driver's own `/metrics` page in OpenMetrics (the format that carries exemplars).
fn metrics_page(addr: SocketAddr) -> Option<String> {
    let accept = [("Accept", "application/openmetrics-text")];
    let response = ferrotel_testkit::raw_http::request(addr, "GET", "/metrics", &accept, None);
    Some(response.ok()?.body)
}

/// The NFS client latency buckets of the page that carry an exemplar: each names the trace
/// behind one sample, the link Grafana follows from a latency panel to Jaeger.
fn exemplar_excerpt(page: &str) -> String {
    let lines: Vec<&str> = page
        .lines()
        .filter(|l| l.contains("nfs") && l.contains("_bucket") && l.contains(" # {"))
        .take(6)
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n/metrics of the driver (OpenMetrics; {} bucket lines carry an exemplar), for example:",
        page.lines().filter(|l| l.contains(" # {")).count()
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_mixes_every_procedure_and_starts_with_a_write() {
        assert_eq!(workload(0), Procedure::Write);
        for p in PROCEDURES {
            let n = (0..400).filter(|&i| workload(i) == p).count();
            assert!(n >= 10, "{} appears {n} times in 400", p.name());
        }
    }

    #[test]
    fn every_write_has_a_block_of_its_own() {
        let mut seen = std::collections::HashSet::new();
        for seq in 0..10_000 {
            assert!(seen.insert(place(seq)), "#{seq} reuses a block");
        }
        assert_ne!(block(1), block(2));
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&ms, 0.50), "50.00");
        assert_eq!(percentile_ms(&ms, 0.99), "99.00");
        assert_eq!(percentile_ms(&ms[..1], 0.99), "1.00");
        assert_eq!(percentile_ms(&[], 0.5), "-");
    }

    #[test]
    fn gateway_stats_parse() {
        let s =
            GatewayStats::parse(&["stats retried=3 gave_up=0 write_traces=abc,def".to_string()]);
        assert_eq!((s.retried, s.gave_up), (3, 0));
        assert_eq!(s.write_traces, ["abc", "def"]);
    }
}
