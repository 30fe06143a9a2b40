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
    /// The names of the conventions' next release, already on their main branch
    /// (`rpc_latest_experimental` opt-in, after the `gen_ai_latest_experimental` precedent):
    /// `rpc.status_code` instead of v1.44's `rpc.response.status_code`.
    Latest,
}

impl fmt::Display for RpcSemconv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpcSemconv::Stable => "rpc",
            RpcSemconv::Dup => "rpc/dup",
            RpcSemconv::Latest => "rpc_latest_experimental",
        })
    }
}

/// Opt-ins per semantic-convention domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SemconvStability {
    /// The RPC (gRPC) conventions.
    pub rpc: RpcSemconv,
}

/// The entries of the comma list that cannot be an opt-in of any domain: an opt-in is a
/// domain name (`rpc`, `http`, `database`, `gen_ai_latest_experimental`, …), optionally
/// followed by `/dup`. Such entries are typos or garbage, never another instrumentation's.
pub(crate) fn malformed(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter(|entry| {
            let domain = entry.strip_suffix("/dup").unwrap_or(entry);
            let mut chars = domain.chars();
            !(chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
        })
        .collect()
}

/// Reads the comma list. `rpc/dup` wins over `rpc_latest_experimental`, which wins over `rpc`:
/// dashboards that query the old names keep working whatever else is asked. Entries of other
/// domains (`http`, `database`, …) and unknown entries are ignored without an issue: the
/// variable is shared with every instrumentation in the process.
pub(crate) fn parse_opt_in(text: &str) -> RpcSemconv {
    let mut rpc = RpcSemconv::Stable;
    for entry in text.split(',').map(str::trim) {
        if entry.eq_ignore_ascii_case("rpc/dup") {
            rpc = RpcSemconv::Dup;
        } else if entry.eq_ignore_ascii_case("rpc_latest_experimental") && rpc != RpcSemconv::Dup {
            rpc = RpcSemconv::Latest;
        }
    }
    rpc
}
