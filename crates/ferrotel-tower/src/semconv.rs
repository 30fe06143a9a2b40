//! The attribute and metric names the layers emit, from the semantic-conventions crate where it
//! has them, in one place.
//!
//! Policy: ferrotel follows one released version of the conventions,
//! [`ferrotel_tracer::SCHEMA_URL`] (v1.44), and says so on every instrumentation scope. Names
//! that the conventions' main branch has already changed for the next release are emitted only
//! on request, through `OTEL_SEMCONV_STABILITY_OPT_IN=rpc_latest_experimental`
//! ([`RpcSemconv::Latest`]); the default moves only with a ferrotel release that moves the
//! schema URL. Old names that
//! dashboards still query stay available through `rpc/dup` ([`RpcSemconv::Dup`]).

use ferrotel_config::RpcSemconv;

pub(crate) use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, NETWORK_PEER_ADDRESS,
    NETWORK_PEER_PORT, RPC_METHOD, RPC_METHOD_ORIGINAL, RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_NAME,
    SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_SCHEME,
};

// The pre-1.37 names, deprecated in the conventions crate but still what many dashboards
// query; emitted only with `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup`.
/// `rpc.system` (now `rpc.system.name`).
pub(crate) const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service` (now part of `rpc.method`).
pub(crate) const RPC_SERVICE: &str = "rpc.service";
/// Integer `rpc.grpc.status_code` (now the string `rpc.response.status_code`).
pub(crate) const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
/// `rpc.status_code`: the conventions' main branch renames `rpc.response.status_code` to this
/// (not in a release yet; [`RpcSemconv::Latest`]).
pub(crate) const RPC_STATUS_CODE_LATEST: &str = "rpc.status_code";

/// The key of the string gRPC status code attribute under `semconv`.
pub(crate) fn status_code_key(semconv: RpcSemconv) -> &'static str {
    match semconv {
        RpcSemconv::Latest => RPC_STATUS_CODE_LATEST,
        RpcSemconv::Stable | RpcSemconv::Dup => RPC_RESPONSE_STATUS_CODE,
    }
}
pub(crate) use opentelemetry_semantic_conventions::metric::{
    HTTP_CLIENT_REQUEST_DURATION, HTTP_SERVER_REQUEST_DURATION, RPC_CLIENT_CALL_DURATION,
    RPC_SERVER_CALL_DURATION,
};

/// The pre-1.37 server metric, in milliseconds, that existing dashboards query
/// (`OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup`).
pub(crate) const RPC_SERVER_DURATION_OLD: &str = "rpc.server.duration";
/// The pre-1.37 client metric, in milliseconds.
pub(crate) const RPC_CLIENT_DURATION_OLD: &str = "rpc.client.duration";

/// `rpc.method` when the method is not known (semantic conventions).
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// Bucket boundaries the RPC and HTTP duration histograms use, in seconds (semantic conventions).
pub(crate) const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The same boundaries in milliseconds, for the old `rpc.*.duration` metrics.
pub(crate) const DURATION_BUCKETS_MS: [f64; 14] = [
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];
