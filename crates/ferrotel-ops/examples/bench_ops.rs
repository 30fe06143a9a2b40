//! What the NFS, storage and Raft instruments cost, against the same operation with no
//! instrumentation, in one run.
//!
//! ```text
//! cargo run --release -p ferrotel-ops --features nfs3_server,object_store --example bench-ops \
//!     -- [--ops N] [--rounds R]
//! cargo run … --example bench-ops -- --case nfs-unsampled --ops 200000   # one case, for callgrind
//! ```
//!
//! The operations: an NFS READ of 4 KiB through `nfs3_server`'s in-memory filesystem (the
//! trait call a server makes per procedure), and an `object_store` GET of a 4 KiB object from
//! the in-memory store, body read, and a Raft apply of one entry to an in-memory state machine
//! (a map insert), the entry carrying its proposer's context. Each runs bare, through ferrotel-ops with the root sampled
//! out (`unsampled`), and sampled (the span recorded, then dropped: no exporter, so the figure
//! is the instrumentation's own cost). Metrics are recorded in every instrumented case, to a
//! meter provider that never exports during the run.
//!
//! Prints the median ns per operation of R rounds, the ratio to bare and the ns added.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_metrics::{ExemplarFilter, Exemplars};
use ferrotel_ops::nfs::{NfsInstruments, NfsSide, Share, TracedFs};
use ferrotel_ops::raft::{EntryContext, RaftInstruments};
use ferrotel_ops::storage::{StorageInstruments, TracedStore};
use ferrotel_ops::OpsTelemetry;
use nfs3_server::memfs::{MemFs, MemFsConfig};
use nfs3_server::vfs::NfsReadFileSystem;
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
    let tracers = SdkTracerProvider::builder().with_sampler(sampler).build();
    let telemetry = OpsTelemetry::new(
        Some(&tracers),
        Some(&meters as &dyn MeterProvider),
        Exemplars::new(ExemplarFilter::TraceBased),
    );
    Setup {
        _meters: meters,
        _tracers: tracers,
        telemetry,
    }
}

const CASES: [&str; 9] = [
    "nfs-bare",
    "nfs-unsampled",
    "nfs-sampled",
    "storage-bare",
    "storage-unsampled",
    "storage-sampled",
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
    let runtime = tokio::runtime::Builder::new_current_thread()
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
    for domain in ["nfs", "storage", "raft"] {
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
                "  {domain:<8} {kind:<10} {ns:>9.1} ns/op   x{:.3} of bare   +{:.1} ns",
                ns / bare,
                ns - bare
            );
        }
    }
}
