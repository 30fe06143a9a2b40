//! Raft names. No semantic conventions exist for consensus; these follow the names Blixard
//! users already chart (`raft_proposals_total`, `raft_term`, …), with ClaudeFS's commit latency,
//! log size and replication lag, and TiKV's append / commit / apply durations.

/// Span: a client write proposed to the leader, until it is committed and applied (or fails).
pub const SPAN_PROPOSE: &str = "raft.propose";
/// Span: the leader appends entries to its own log.
pub const SPAN_APPEND: &str = "raft.append";
/// Span: the leader replicates entries to one follower (one AppendEntries round).
pub const SPAN_REPLICATE: &str = "raft.replicate";
/// Span: an entry becomes committed.
pub const SPAN_COMMIT: &str = "raft.commit";
/// Span: a node applies committed entries to its state machine.
pub const SPAN_APPLY: &str = "raft.apply";
/// Span: a node asks for or grants a vote.
pub const SPAN_VOTE: &str = "raft.vote";
/// Span: a node runs an election.
pub const SPAN_ELECTION: &str = "raft.election";
/// Span: a snapshot is built, sent or installed.
pub const SPAN_SNAPSHOT: &str = "raft.snapshot";
/// Span: the leader's AppendEntries with no entries, to one follower. A root by nature, it
/// starts no trace unless a sampling rule names it (`ferrotel_tracer::QUIET_ROOTS`).
pub const SPAN_HEARTBEAT: &str = "raft.heartbeat";

/// Counter: proposals made on this node.
pub const PROPOSALS: &str = "raft.proposals";
/// Counter: proposals that failed (`error.type`: `not_leader`, `timeout`, `dropped`, …).
pub const PROPOSALS_FAILED: &str = "raft.proposals.failed";
/// Counter: entries this node saw committed.
pub const COMMITTED_ENTRIES: &str = "raft.committed_entries";
/// Counter: entries this node applied to its state machine.
pub const APPLIED_ENTRIES: &str = "raft.applied_entries";
/// Counter: leader changes this node observed.
pub const LEADER_CHANGES: &str = "raft.leader.changes";
/// Gauge: the current term.
pub const TERM: &str = "raft.term";
/// Gauge: the commit index.
pub const COMMIT_INDEX: &str = "raft.commit_index";
/// Gauge: entries in the log (last index minus purged).
pub const LOG_ENTRIES: &str = "raft.log.entries";
/// Gauge, on the leader: entries each follower is behind (`raft.peer`).
pub const REPLICATION_LAG: &str = "raft.replication.lag";
/// Gauge (s), on the leader: how long the oldest entry a follower has not acknowledged has
/// waited (`raft.peer`); 0 when it has every entry.
pub const REPLICATION_LAG_DURATION: &str = "raft.replication.lag.duration";
/// Gauge (By): the size of the log, where the engine or its adapter can see it.
pub const LOG_SIZE: &str = "raft.log.size";
/// Gauge: 1 while this node knows a leader (itself included), 0 while it knows none.
pub const HAS_LEADER: &str = "raft.has_leader";
/// Histogram (s): proposal to commit-and-apply, `error.type` on failure.
pub const PROPOSAL_DURATION: &str = "raft.proposal.duration";
/// Histogram (s): proposal to commit.
pub const COMMIT_DURATION: &str = "raft.commit.duration";
/// Histogram (s): one log append (`raft.role`: `leader` or `follower`).
pub const APPEND_DURATION: &str = "raft.append.duration";
/// Histogram (s): applying one batch of entries.
pub const APPLY_DURATION: &str = "raft.apply.duration";

/// Attribute: the node's id.
pub const NODE_ID: &str = "raft.node.id";
/// Attribute: the Raft group (shard, region) of a multi-Raft service, on every metric and
/// span of the group's instruments when set.
pub const GROUP: &str = "raft.group";
/// Attribute: the peer a replication or vote concerns.
pub const PEER: &str = "raft.peer";
/// Attribute: `leader` or `follower`.
pub const ROLE: &str = "raft.role";
/// Attribute: the term.
pub const TERM_ATTR: &str = "raft.term";
/// Attribute: a log index (the first of a batch).
pub const LOG_INDEX: &str = "raft.log.index";
/// Attribute: the first log index an AppendEntries carried.
pub const LOG_FIRST_INDEX: &str = "raft.log.first_index";
/// Attribute: the last log index an AppendEntries carried.
pub const LOG_LAST_INDEX: &str = "raft.log.last_index";
/// Attribute: how many entries a span covers.
pub const ENTRY_COUNT: &str = "raft.entry.count";

/// Bucket boundaries (s) of every Raft duration: 100 µs to 10 s.
pub const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Attribute: whether a vote was granted.
pub const VOTE_GRANTED: &str = "raft.vote.granted";
/// Attribute: whether the election was won by this node.
pub const ELECTION_WON: &str = "raft.election.won";
/// Attribute: what a snapshot span did: `build`, `send` or `install`.
pub const SNAPSHOT_OPERATION: &str = "raft.snapshot.operation";
