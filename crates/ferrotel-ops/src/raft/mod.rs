//! Raft spans and metrics, and trace context carried through the log.
//!
//! A write in a Raft cluster is proposed on one node and appended, replicated, committed and
//! applied on every node, often batched with other writes into one RPC or one storage call.
//! Tracing it whole needs the proposer's span context in the entry itself:
//! [`EntryContext`] is that context in a small versioned binary form, and every replica's
//! append and apply spans become children of the proposer's span, recorded exactly when the
//! proposer sampled.
//!
//! [`RaftInstruments`] gives each operation one guard object, so a call site is one line, for
//! any engine:
//!
//! ```
//! use ferrotel_ops::raft::{RaftInstruments, Role};
//! use ferrotel_ops::OpsTelemetry;
//!
//! let telemetry = OpsTelemetry::new(None, None, Default::default());
//! let raft = RaftInstruments::new(&telemetry, 1);
//!
//! // The proposer: the entry carries the proposal span's context.
//! let proposal = raft.propose();
//! let context: Vec<u8> = proposal.encoded_entry_context();
//! // ... the engine appends (index 7, context) to the log ...
//!
//! // Any replica: one span per traced entry, children of the proposal.
//! let append = raft.append(Role::Follower, [(7, Some(context.as_slice()))]);
//! append.finish(Ok(()));
//! let apply = raft.apply([(7, Some(context.as_slice()))]);
//! apply.finish(Ok(()));
//! proposal.finish(7);
//!
//! // State the engine reports: term, commit index, leader (and so `raft.has_leader`), log
//! // size, replication lag in entries and in time (from when the leader appended).
//! raft.observe_term(3);
//! raft.observe_commit(7, 1);
//! raft.observe_leader(Some(1));
//! raft.observe_log_entries(8);
//! raft.observe_replication(7, [(2, Some(7)), (3, Some(6))]);
//! ```
//!
//! Nothing is allocated and no attribute is built for a span that is not recorded: the
//! sampling decision is taken first (for an entry, read from its context), attributes are set
//! only on recording spans.
//!
//! # Parents and links
//!
//! A span's parent is what caused it *in its own trace*; a cause in another trace is a link.
//! A trace is one proposal, so an entry's spans stay in its proposer's trace however the
//! engine batched the entries, and the tree nests each process's work under that process's
//! own span wherever the cause is known:
//!
//! | span | parent | link |
//! |---|---|---|
//! | `raft.propose` | the caller's current span (e.g. the client request) | |
//! | leader `raft.append`, `raft.commit`, `raft.replicate` | `raft.propose` (from the entry) | |
//! | the transport's AppendEntries client span | the first traced entry's `raft.replicate` | |
//! | follower `raft.append` | the AppendEntries server span that delivered it, when that RPC is in the entry's trace | `raft.propose` |
//! | follower `raft.append` of an entry batched into another trace's RPC | `raft.propose` | the AppendEntries server span |
//! | `raft.apply` (every node) | `raft.propose` (from the entry) | |
//! | spans the state machine opens for an entry (`storage.*`, the application's) | that entry's `raft.apply`, current while it is applied | |
//!
//! Why the delivering RPC is the parent and the proposal a link, rather than the reverse:
//! the RPC is the nearer cause (the entry reached this node in it, and the append runs inside
//! its handling), and it keeps each follower's spans under that follower's own server span,
//! so the tree reads leader → RPC → follower work rather than a flat list of every node's
//! spans under the proposal. When the RPC carried entries of several proposals it belongs to
//! the first one's trace; the others' appends keep the proposal as parent, so their traces
//! stay whole, and link to the RPC, so who delivered them is still known. An apply has no
//! such RPC (a follower applies when it learns the commit index, often from a later
//! heartbeat), so it hangs under the proposal. The delivering span reaches the log store
//! through [`RaftInstruments::delivered`], which the transport's handler calls.

pub mod entry_context;
mod instruments;

pub use entry_context::{
    DecodeError, EntryContext, ENCODED_LEN, MAX_ENCODED_LEN, MAX_TRACESTATE_LEN, VERSION,
};
pub use instruments::{
    EntryBatch, ProposeGuard, RaftInstruments, RaftSpan, Role, MAX_PENDING_COMMITS,
    MAX_PENDING_DELIVERIES, MAX_TIMED_APPENDS,
};

#[cfg(feature = "openraft")]
pub mod openraft;
