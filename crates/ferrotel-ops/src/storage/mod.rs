//! Storage spans and metrics.
//!
//! One span per operation, named `storage.{operation}` (`storage.get`, `storage.put`, …),
//! CLIENT kind (the store is a dependency of the service), with the backend
//! (`storage.backend`: `s3`, `gcs`, `azure`, `fs`, `memory`, `kv`), the operation, the bytes
//! moved and `error.type` on failure. Object keys (`storage.key`) are recorded only when
//! opted in with [`StorageInstruments::record_keys`]: they can be high-cardinality or personal
//! data. Metrics never carry keys.
//!
//! Metrics ([`crate::names::storage`]): `storage.operation.duration`, `storage.io` and
//! `storage.cache.requests`; the `blixard` profile ([`ferrotel_config::StorageMetrics`],
//! `FERROTEL_STORAGE_METRICS`) adds `storage_reads_total`, `storage_writes_total`,
//! `storage_read_duration` and `storage_write_duration`.

mod instruments;
#[cfg(feature = "object_store")]
mod object_store;

pub use instruments::{StorageInstruments, StorageOp, StorageOperation};
#[cfg(feature = "object_store")]
pub use object_store::TracedStore;
