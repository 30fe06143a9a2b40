//! NFS names: the ONC RPC / NFS semantic conventions (status Development) where they exist,
//! ferrotel's own where they do not, and the DittoFS set for the `dittofs` profile.

use opentelemetry_semantic_conventions::{attribute, metric};

/// Attribute (conventions): `onc_rpc.program.name`, always `nfs` here.
pub const ONC_RPC_PROGRAM_NAME: &str = attribute::ONC_RPC_PROGRAM_NAME;
/// Attribute (conventions): `onc_rpc.version`, the NFS version (3).
pub const ONC_RPC_VERSION: &str = attribute::ONC_RPC_VERSION;
/// Attribute (conventions): `onc_rpc.procedure.name`, upper-case as in RFC 1813 (`READ`).
pub const ONC_RPC_PROCEDURE_NAME: &str = attribute::ONC_RPC_PROCEDURE_NAME;
/// Attribute (conventions): `onc_rpc.procedure.number` (READ is 6).
pub const ONC_RPC_PROCEDURE_NUMBER: &str = attribute::ONC_RPC_PROCEDURE_NUMBER;
/// Attribute (conventions): `nfs.operation.name`, NFSv4 operations only.
pub const NFS_OPERATION_NAME: &str = attribute::NFS_OPERATION_NAME;
/// Attribute (ferrotel): the export or share the request addressed.
pub const NFS_SHARE: &str = "nfs.share";
/// Attribute (ferrotel): the NFS status of the reply (`NFS3_OK`, `NFS3ERR_NOENT`, …).
pub const NFS_STATUS: &str = "nfs.status";
/// Attribute (ferrotel): bytes read or written by the procedure.
pub const NFS_BYTES: &str = "nfs.io.bytes";
/// Attribute (conventions): `network.io.direction` of [`SERVER_IO`] (`receive` = written to
/// the server, `transmit` = read from it).
pub const NETWORK_IO_DIRECTION: &str = attribute::NETWORK_IO_DIRECTION;
/// Attribute (ferrotel): why a connection closed: `client` or `force`.
pub const CLOSE_REASON: &str = "nfs.close_reason";

/// Histogram (s, ferrotel): duration of one procedure on the server.
pub const SERVER_REQUEST_DURATION: &str = "nfs.server.request.duration";
/// Histogram (s, ferrotel): duration of one procedure seen by a client.
pub const CLIENT_REQUEST_DURATION: &str = "nfs.client.request.duration";
/// Counter (conventions): procedures handled by the server.
pub const SERVER_PROCEDURE_COUNT: &str = metric::NFS_SERVER_PROCEDURE_COUNT;
/// Counter (conventions): procedures sent by a client.
pub const CLIENT_PROCEDURE_COUNT: &str = metric::NFS_CLIENT_PROCEDURE_COUNT;
/// Counter (By, conventions): bytes read and written through the server.
pub const SERVER_IO: &str = metric::NFS_SERVER_IO;
/// Counter (By, ferrotel): bytes read and written by a client.
pub const CLIENT_IO: &str = "nfs.client.io";
/// Counter (conventions): stale file handles the server answered.
pub const SERVER_FH_STALE_COUNT: &str = metric::NFS_SERVER_FH_STALE_COUNT;
/// UpDownCounter (ferrotel): procedures in progress on the server.
pub const SERVER_REQUEST_ACTIVE: &str = "nfs.server.request.active";
/// UpDownCounter (ferrotel): procedures in progress on a client.
pub const CLIENT_REQUEST_ACTIVE: &str = "nfs.client.request.active";
/// UpDownCounter (ferrotel): open client connections.
pub const SERVER_CONNECTION_ACTIVE: &str = "nfs.server.connection.active";
/// Counter (conventions): TCP connections accepted.
pub const SERVER_CONNECTION_ACCEPTED: &str = metric::NFS_SERVER_NET_TCP_CONNECTION_ACCEPTED;
/// Counter (ferrotel): connections closed ([`CLOSE_REASON`]).
pub const SERVER_CONNECTION_CLOSED: &str = "nfs.server.connection.closed";
/// Gauge (ferrotel): the most client connections the server accepts at once, when the
/// listener knows it.
pub const SERVER_CONNECTION_MAX: &str = "nfs.server.connection.max";

/// Bucket boundaries (s) of the request durations: 100 µs to 10 s.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The DittoFS metric set (`dittofs` profile), each name after `{prefix}_`.
pub mod dittofs {
    /// Counter: `{prefix}_nfs_requests_total{procedure,share,status,error_code}`.
    pub const REQUESTS: &str = "nfs_requests_total";
    /// Histogram (ms): `{prefix}_nfs_request_duration_milliseconds{procedure,share}`.
    pub const REQUEST_DURATION: &str = "nfs_request_duration";
    /// Gauge: `{prefix}_nfs_requests_in_flight{procedure,share}`.
    pub const REQUESTS_IN_FLIGHT: &str = "nfs_requests_in_flight";
    /// Counter: `{prefix}_nfs_bytes_transferred_total{procedure,share,direction}`.
    pub const BYTES_TRANSFERRED: &str = "nfs_bytes_transferred_total";
    /// Histogram (By): `{prefix}_nfs_operation_size_bytes{operation,share}`.
    pub const OPERATION_SIZE: &str = "nfs_operation_size";
    /// Gauge: `{prefix}_nfs_active_connections`.
    pub const ACTIVE_CONNECTIONS: &str = "nfs_active_connections";
    /// Counter: `{prefix}_nfs_connections_accepted_total`.
    pub const CONNECTIONS_ACCEPTED: &str = "nfs_connections_accepted_total";
    /// Counter: `{prefix}_nfs_connections_closed_total`.
    pub const CONNECTIONS_CLOSED: &str = "nfs_connections_closed_total";
    /// Counter: `{prefix}_nfs_connections_force_closed_total`.
    pub const CONNECTIONS_FORCE_CLOSED: &str = "nfs_connections_force_closed_total";
    /// Gauge: `{prefix}_nfs_max_connections`, the most connections the server accepts at
    /// once (ferrotel's addition to the set, when the listener knows it).
    pub const MAX_CONNECTIONS: &str = "nfs_max_connections";
    /// Duration buckets, in milliseconds, as DittoFS has them.
    pub const DURATION_BUCKETS_MS: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];
    /// Operation size buckets, in bytes: 4 KiB, 64 KiB, 1 MiB, 10 MiB.
    pub const SIZE_BUCKETS: [f64; 4] = [4096.0, 65536.0, 1048576.0, 10485760.0];
    /// Label names.
    pub const PROCEDURE: &str = "procedure";
    /// Label: the share.
    pub const SHARE: &str = "share";
    /// Label: `success` or `error`.
    pub const STATUS: &str = "status";
    /// Label: the NFS error code (`NFS3ERR_NOENT`), empty on success.
    pub const ERROR_CODE: &str = "error_code";
    /// Label: `read` or `write`.
    pub const DIRECTION: &str = "direction";
    /// Label of the size histogram: `read` or `write`.
    pub const OPERATION: &str = "operation";
}
