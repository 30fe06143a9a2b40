//! Every span, metric and attribute name ferrotel-ops emits, in one place.
//!
//! Where the semantic conventions define a name (ONC RPC and NFS attributes, `nfs.server.*`
//! counters, `error.type`), it is used as the conventions spell it. Where they define none (NFS
//! request durations, every storage and Raft name), ferrotel names it here, after the metric
//! names our users already chart (DittoFS, Blixard, ClaudeFS, etcd).
//!
//! Prometheus sees these through the usual translation: dots become underscores, the unit is
//! appended (`s` → `_seconds`, `By` → `_bytes`), counters end in `_total`.

pub mod nfs;
pub mod raft;
pub mod storage;

/// `error.type` (semantic conventions): why an operation failed, absent on success.
pub const ERROR_TYPE: &str = opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
