//! Ready-made spans and metrics for NFS, storage and Raft operations.
//!
//! Each domain has one small API that opens a span and records the domain's metrics through
//! one guard object, so a call site is a single line. Every histogram goes through ferrotel's
//! exemplar path, so every latency sample can link to its trace.
//!
//! - [`nfs`]: one span per NFS procedure (`nfs.READ`, SERVER or CLIENT kind) under the ONC RPC /
//!   NFS semantic conventions, metrics in the `semconv` or `dittofs` naming profile, connection
//!   accounting, and (feature `nfs3_server`) a traced wrapper for any `nfs3_server`
//!   filesystem.
//! - [`storage`]: one span per object-store operation (`storage.get`, `storage.put`, …),
//!   duration, bytes and cache metrics, and (feature `object_store`) a traced wrapper
//!   implementing `object_store::ObjectStore` around any store.
//! - [`raft`]: spans and metrics for proposals, appends, replication, commit, apply, votes and
//!   snapshots; [`raft::EntryContext`], the proposer's trace context carried inside the log
//!   entry so every replica's work joins the proposer's trace; and (feature `openraft`) the
//!   adapter for openraft.
//!
//! Root spans are sampled per operation by the rules of `FERROTEL_SAMPLING_RULES`
//! ([`ferrotel_tracer::RuleSampler`]), which match the span names and the attributes these
//! instruments start their spans with.
//!
//! ## Cost
//!
//! Metrics are recorded on series resolved once per (procedure, share, outcome) and kept, so a
//! record is a few atomic operations (`ferrotel_metrics::BoundHistogram`). With the presampler
//! ([`ferrotel_tracer::Presampler`]; `ferrotel::Guard::ops()` sets it,
//! [`OpsTelemetry::with_presampler`] for providers built in code) an unsampled operation builds
//! no SDK span: it carries a non-recording span context, so its trace id still reaches the work
//! done under it. BENCHMARKS.md has the figures.
//!
//! Every name is listed, with its meaning, in [`names`].

pub mod names;
pub mod nfs;
pub mod raft;
mod series_cache;
pub mod storage;
mod telemetry;

pub use telemetry::{OpsTelemetry, SCOPE};
