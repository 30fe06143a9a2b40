//! Semantic-convention opt-ins, from
//! [`OTEL_SEMCONV_STABILITY_OPT_IN`](crate::vars::OTEL_SEMCONV_STABILITY_OPT_IN).

use std::fmt;

/// Which RPC attribute and metric names the instrumentation emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RpcSemconv {
    /// Stable names only (`rpc` opt-in, and ferrotel's default).
    #[default]
    Stable,
    /// Stable and old names side by side (`rpc/dup` opt-in), for dashboards that still query the
    /// old ones.
    Dup,
}

impl fmt::Display for RpcSemconv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpcSemconv::Stable => "rpc",
            RpcSemconv::Dup => "rpc/dup",
        })
    }
}

/// Opt-ins per semantic-convention domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SemconvStability {
    /// The RPC (gRPC) conventions.
    pub rpc: RpcSemconv,
}

/// Reads the comma list. `rpc/dup` wins over `rpc` when both appear. Entries of other domains
/// (`http`, `database`, …) and unknown entries are ignored without an issue: the variable is
/// shared with every instrumentation in the process.
pub(crate) fn parse_opt_in(text: &str) -> RpcSemconv {
    let mut rpc = RpcSemconv::Stable;
    for entry in text.split(',').map(str::trim) {
        if entry.eq_ignore_ascii_case("rpc/dup") {
            rpc = RpcSemconv::Dup;
        }
    }
    rpc
}
