//! The instrumentation scope of every span and metric ferrotel records.

use opentelemetry::InstrumentationScope;

/// The semantic conventions release ferrotel's names follow, set on every scope ferrotel
/// creates.
// 1.44.0: the Tower layers' RPC names are that release's (`rpc.system.name`, the string
// `rpc.response.status_code`); newer ones wait behind `OTEL_SEMCONV_STABILITY_OPT_IN`. The NFS,
// storage and Raft instruments take their conventions names from the pinned conventions crate
// (generated from 1.42), so the 1.38 they once declared was older than the names they emit.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";

/// The scope named `name` (`ferrotel`, `ferrotel-tower`, `ferrotel-ops`, …) with ferrotel's
/// version and [`SCHEMA_URL`]. ferrotel's crates are released together under one version,
/// so this crate's version is theirs.
pub fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(SCHEMA_URL)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_carries_the_version_and_the_one_schema() {
        let scope = scope("ferrotel-ops");
        assert_eq!(scope.name(), "ferrotel-ops");
        assert_eq!(scope.version(), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(scope.schema_url(), Some(SCHEMA_URL));
    }
}
