//! Storage names. The conventions only propose a storage namespace; these are ferrotel's,
//! with the Blixard set (`storage_reads_total`, …) as a second profile.

/// Attribute: the backend (`s3`, `gcs`, `azure`, `fs`, `memory`, `kv`).
pub const BACKEND: &str = "storage.backend";
/// Attribute: the operation (`get`, `put`, `delete`, `list`, `head`, `copy`).
pub const OPERATION: &str = "storage.operation";
/// Attribute: the object key, only when opted in (it may be high-cardinality or personal).
pub const KEY: &str = "storage.key";
/// Attribute: bytes moved by the operation.
pub const BYTES: &str = "storage.io.bytes";
/// Attribute: `hit` or `miss` of [`CACHE_REQUESTS`].
pub const CACHE_RESULT: &str = "storage.cache.result";

/// Histogram (s): one operation, `error.type` on failure.
pub const OPERATION_DURATION: &str = "storage.operation.duration";
/// Counter (By): bytes read (`get`) and written (`put`).
pub const IO: &str = "storage.io";
/// Counter: cache lookups, by [`CACHE_RESULT`].
pub const CACHE_REQUESTS: &str = "storage.cache.requests";

/// Bucket boundaries (s) of the operation duration: 100 µs to 10 s.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The Blixard set (`blixard` profile).
pub mod blixard {
    /// Counter: `storage_reads_total`.
    pub const READS: &str = "storage_reads_total";
    /// Counter: `storage_writes_total`.
    pub const WRITES: &str = "storage_writes_total";
    /// Histogram (s): `storage_read_duration_seconds`.
    pub const READ_DURATION: &str = "storage_read_duration";
    /// Histogram (s): `storage_write_duration_seconds`.
    pub const WRITE_DURATION: &str = "storage_write_duration";
}
