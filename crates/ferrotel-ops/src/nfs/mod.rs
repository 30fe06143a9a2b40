//! NFS spans and metrics.
//!
//! One span per procedure, named `nfs.{PROCEDURE}` (`nfs.READ`, upper-case as in RFC 1813),
//! SERVER kind on a server and CLIENT on a client, with the ONC RPC attributes of the semantic
//! conventions (`onc_rpc.program.name=nfs`, `onc_rpc.version=3`, `onc_rpc.procedure.name`,
//! `onc_rpc.procedure.number`), the share (`nfs.share`), the reply status (`nfs.status`),
//! `error.type` on failure and the bytes moved (`nfs.io.bytes`).
//!
//! Metrics come in two naming profiles ([`ferrotel_config::NfsMetrics`],
//! `FERROTEL_NFS_METRICS`): `semconv`, the conventions' `nfs.server.*` names where they exist
//! and ferrotel's own where they do not ([`crate::names::nfs`]), and `dittofs`, the DittoFS
//! set exactly, with its label names and buckets, after `FERROTEL_METRICS_PREFIX`.
//!
//! The span status follows the gRPC rule: on a server only faults of the server (`NFS3ERR_IO`,
//! `NFS3ERR_NOSPC`, `NFS3ERR_SERVERFAULT`, `NFS3ERR_JUKEBOX`, …) are errors, while
//! `error.type` names every failed procedure, so error ratios count `NFS3ERR_NOENT` too.

mod instruments;
mod procedure;

pub use instruments::{Connection, NfsInstruments, NfsOp, NfsSide, Share};
pub use procedure::{NfsStatus, Procedure};

#[cfg(feature = "tokio")]
mod connections;
#[cfg(feature = "nfs3_server")]
mod nfs3_server;
#[cfg(feature = "nfs3_server")]
pub use self::nfs3_server::TracedFs;
#[cfg(feature = "nfs3_server")]
pub use connections::track_mounts;
#[cfg(feature = "tokio")]
pub use connections::{TrackedListener, TrackedStream};
