//! What the NFS, storage and Raft instruments cost, against the same operation with no
//! instrumentation, in one run.
//!
//! ```text
//! cargo run --release -p ferrotel-ops --features nfs3_server,object_store --example bench-ops \
//!     -- [--ops N] [--rounds R]
//! cargo run … --example bench-ops -- --case nfs-unsampled --ops 200000   # one case, for callgrind
//! ```
//!
//! The micro operations: an NFS READ of 4 KiB through `nfs3_server`'s in-memory filesystem
//! (the trait call a server makes per procedure, `nfs`), an `object_store` GET of a 4 KiB
//! object from the in-memory store, body read (`storage`), and a Raft apply of one entry to an
//! in-memory state machine (a map insert), the entry carrying its proposer's context (`raft`).
//!
//! The end-to-end operations, to set the instrumentation against a real one: an NFSv3 READ of
//! 4 KiB over loopback TCP, from an `nfs3_client` mount to an `nfs3_server` listener serving
//! the in-memory filesystem, client and server in the bench's one-thread runtime, one READ at
//! a time (`nfs-rpc`; the server start, the mount and the LOOKUP of the file are not timed;
//! the server answers each READ with two filesystem calls, GETATTR then READ, both traced),
//! and an `object_store` GET of a 4 KiB object from a `LocalFileSystem` in a fresh temporary
//! directory, body read, the file I/O on tokio's blocking pool (`storage-fs`).
//!
//! Each runs bare, through ferrotel-ops with the root sampled out (`unsampled`), and sampled
//! (the span recorded, then dropped: no exporter, so the figure is the instrumentation's own
//! cost). Metrics are recorded in every instrumented case, to a meter provider that never
//! exports during the run.
//!
//! Prints the median ns per operation of R rounds, the ratio to the domain's bare case and
//! the ns added.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_metrics::{ExemplarFilter, Exemplars};
use ferrotel_ops::nfs::{NfsInstruments, NfsSide, Share, TracedFs};
use ferrotel_ops::raft::{EntryContext, RaftInstruments};
use ferrotel_ops::storage::{StorageInstruments, TracedStore};
use ferrotel_ops::OpsTelemetry;
use ferrotel_tracer::Presampler;
use nfs3_client::nfs3_types::nfs3;
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::{TokioConnector, TokioIo};
use nfs3_client::{Nfs3Connection, Nfs3ConnectionBuilder};
use nfs3_server::memfs::{MemFs, MemFsConfig};
use nfs3_server::tcp::{NFSTcp as _, NFSTcpListener};
use nfs3_server::vfs::{NfsFileSystem, NfsReadFileSystem};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _};
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

struct Setup {
    _meters: SdkMeterProvider,
    _tracers: SdkTracerProvider,
    telemetry: OpsTelemetry,
}

fn setup(sampled: bool) -> Setup {
    // Records into live instruments and never exports during the run.
    let reader = ManualReader::builder().build();
    let meters = SdkMeterProvider::builder().with_reader(reader).build();
    let sampler = if sampled {
        Sampler::AlwaysOn
    } else {
        Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.0)))
    };
    // As `ferrotel::Guard::ops()` has it: the instruments decide with the provider's sampler
    // before building a span.
    let presampler = Presampler::new(sampler);
    let tracers = SdkTracerProvider::builder()
        .with_sampler(presampler.sampler())
        .with_id_generator(presampler.id_generator())
        .build();
    let telemetry = OpsTelemetry::new(
        Some(&tracers),
        Some(&meters as &dyn MeterProvider),
        Exemplars::new(ExemplarFilter::TraceBased),
    )
    .with_presampler(presampler);
    Setup {
        _meters: meters,
        _tracers: tracers,
        telemetry,
    }
}

/// The domains, in the order of the table; each has a bare, an unsampled and a sampled case.
const DOMAINS: [&str; 5] = ["nfs", "nfs-rpc", "storage", "storage-fs", "raft"];

const CASES: [&str; 15] = [
    "nfs-bare",
    "nfs-unsampled",
    "nfs-sampled",
    "nfs-rpc-bare",
    "nfs-rpc-unsampled",
    "nfs-rpc-sampled",
    "storage-bare",
    "storage-unsampled",
    "storage-sampled",
    "storage-fs-bare",
    "storage-fs-unsampled",
    "storage-fs-sampled",
    "raft-bare",
    "raft-unsampled",
    "raft-sampled",
];

/// The encoded context of a proposer whose span was (or was not) sampled.
fn proposer_context(sampled: bool) -> Vec<u8> {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let span = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7u64),
        flags,
        true,
        TraceState::default(),
    );
    EntryContext::from_span_context(&span).unwrap().encode()
}

/// Applies `ops` entries to a map, each through `instruments` when given.
fn raft_applies(instruments: Option<&RaftInstruments>, context: &[u8], ops: usize) {
    let mut state = BTreeMap::new();
    for index in 0..ops as u64 {
        let batch = instruments.map(|r| r.apply([(index, Some(context))]));
        state.insert(index % 1024, index);
        if let Some(batch) = batch {
            batch.finish(Ok(()));
        }
    }
    std::hint::black_box(state);
}

fn memfs() -> MemFs {
    let mut config = MemFsConfig::default();
    config.add_file("/data.bin", vec![7u8; 4096]);
    MemFs::new(config).unwrap()
}

async fn nfs_reads<F: NfsReadFileSystem>(fs: &F, ops: usize) {
    let id = fs.lookup_by_path("data.bin").await.unwrap();
    for _ in 0..ops {
        let (data, _) = fs.read(&id, 0, 4096).await.unwrap();
        std::hint::black_box(data);
    }
}

/// A client connected over loopback TCP to an `nfs3_server` listener serving `fs`.
type NfsClient = Nfs3Connection<TokioIo<tokio::net::TcpStream>>;

/// Serves `fs` on 127.0.0.1 from a task of the current runtime, mounts its root with
/// `nfs3_client` and looks up `data.bin`; returns the client and the file's handle.
async fn nfs_mount<F: NfsFileSystem + 'static>(fs: F) -> (NfsClient, nfs3::nfs_fh3) {
    let listener = NFSTcpListener::bind("127.0.0.1:0", fs).await.unwrap();
    let port = listener.get_listen_port();
    tokio::spawn(async move {
        let _ = listener.handle_forever().await;
    });
    let mut client = Nfs3ConnectionBuilder::new(TokioConnector, "127.0.0.1", "/")
        .connect_from_privileged_port(false)
        .mount_port(port)
        .nfs3_port(port)
        .mount()
        .await
        .unwrap();
    let root = client.root_nfs_fh3();
    let found = client
        .lookup(&nfs3::LOOKUP3args {
            what: nfs3::diropargs3 {
                dir: root,
                name: nfs3::filename3(Opaque::borrowed(b"data.bin")),
            },
        })
        .await
        .unwrap()
        .expect("data.bin is served");
    (client, found.object)
}

/// Issues `ops` READs of the file's 4 KiB, one at a time.
async fn nfs_rpc_reads(client: &mut NfsClient, file: &nfs3::nfs_fh3, ops: usize) {
    let args = nfs3::READ3args {
        file: file.clone(),
        offset: 0,
        count: 4096,
    };
    for _ in 0..ops {
        let read = client.read(&args).await.unwrap().expect("READ succeeds");
        std::hint::black_box(read.data);
    }
}

/// A fresh directory under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        // A directory left by a run that was killed would hold its objects.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn store_gets(store: &dyn ObjectStore, ops: usize) {
    let key = Path::from("data.bin");
    store.put(&key, vec![7u8; 4096].into()).await.unwrap();
    for _ in 0..ops {
        let body = store.get(&key).await.unwrap().bytes().await.unwrap();
        std::hint::black_box(body);
    }
}

/// Runs one case of `ops` operations; returns the time taken.
fn run(case: &str, ops: usize) -> Duration {
    // The IO and time drivers serve the nfs-rpc cases' sockets (and the server's timer).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let timed = |fut: std::pin::Pin<Box<dyn Future<Output = ()> + '_>>| {
        let start = Instant::now();
        runtime.block_on(fut);
        start.elapsed()
    };
    let sampled = case.ends_with("sampled") && !case.ends_with("unsampled");
    let s = setup(sampled);
    let share = Share::new("/");
    match case {
        "nfs-bare" => {
            let fs = memfs();
            timed(Box::pin(async move { nfs_reads(&fs, ops).await }))
        }
        "nfs-unsampled" | "nfs-sampled" => {
            let nfs = NfsInstruments::new(&s.telemetry, NfsSide::Server, Default::default(), "x");
            let fs = TracedFs::new(memfs(), nfs, share);
            timed(Box::pin(async move { nfs_reads(&fs, ops).await }))
        }
        "nfs-rpc-bare" => {
            let (mut client, file) = runtime.block_on(nfs_mount(memfs()));
            let elapsed = timed(Box::pin(nfs_rpc_reads(&mut client, &file, ops)));
            runtime.block_on(client.unmount()).unwrap();
            elapsed
        }
        "nfs-rpc-unsampled" | "nfs-rpc-sampled" => {
            let nfs = NfsInstruments::new(&s.telemetry, NfsSide::Server, Default::default(), "x");
            let fs = TracedFs::new(memfs(), nfs, share);
            let (mut client, file) = runtime.block_on(nfs_mount(fs));
            let elapsed = timed(Box::pin(nfs_rpc_reads(&mut client, &file, ops)));
            runtime.block_on(client.unmount()).unwrap();
            elapsed
        }
        "storage-bare" => {
            let store = Arc::new(InMemory::new());
            timed(Box::pin(
                async move { store_gets(store.as_ref(), ops).await },
            ))
        }
        "storage-unsampled" | "storage-sampled" => {
            let instruments = StorageInstruments::new(&s.telemetry, "memory", Default::default());
            let store = TracedStore::new(InMemory::new(), instruments);
            timed(Box::pin(async move { store_gets(&store, ops).await }))
        }
        "storage-fs-bare" => {
            let dir = TempDir::new("ferrotel-bench-ops");
            let store = LocalFileSystem::new_with_prefix(&dir.0).unwrap();
            timed(Box::pin(async move { store_gets(&store, ops).await }))
        }
        "storage-fs-unsampled" | "storage-fs-sampled" => {
            let dir = TempDir::new("ferrotel-bench-ops");
            let instruments = StorageInstruments::new(&s.telemetry, "local", Default::default());
            let store = TracedStore::new(
                LocalFileSystem::new_with_prefix(&dir.0).unwrap(),
                instruments,
            );
            timed(Box::pin(async move { store_gets(&store, ops).await }))
        }
        "raft-bare" | "raft-unsampled" | "raft-sampled" => {
            let context = proposer_context(sampled);
            let instruments = (case != "raft-bare").then(|| RaftInstruments::new(&s.telemetry, 1));
            let start = Instant::now();
            raft_applies(instruments.as_ref(), &context, ops);
            start.elapsed()
        }
        other => panic!("unknown case {other}; cases: {CASES:?}"),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut ops = 200_000usize;
    let mut rounds = 7usize;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--ops", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                ops = n.parse().unwrap()
            }
            ("--rounds", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                rounds = n.parse().unwrap()
            }
            ("--case", Some(c)) if CASES.contains(&c.as_str()) => only = Some(c),
            _ => {
                eprintln!(
                    "bench-ops: use --ops N --rounds R [--case {}]",
                    CASES.join("|")
                );
                std::process::exit(2);
            }
        }
    }
    if let Some(case) = only {
        let elapsed = run(&case, ops);
        println!("{case}: {ops} ops in {elapsed:?}");
        return;
    }
    println!("bench-ops: {ops} operations per round, {rounds} rounds, median ns/op");
    for domain in DOMAINS {
        let mut medians = Vec::new();
        for kind in ["bare", "unsampled", "sampled"] {
            let case = format!("{domain}-{kind}");
            let samples: Vec<f64> = (0..rounds)
                .map(|_| run(&case, ops).as_nanos() as f64 / ops as f64)
                .collect();
            medians.push((kind, median(samples)));
        }
        let bare = medians[0].1;
        for (kind, ns) in &medians {
            println!(
                "  {domain:<10} {kind:<10} {ns:>9.1} ns/op   x{:.3} of bare   {:+.1} ns",
                ns / bare,
                ns - bare
            );
        }
    }
}
