//! What the gateway and the storage nodes say to each other: the Raft type configuration, the
//! file commands that go through the log, the queries that read the state machine, and their
//! replies. Everything is postcard-encoded into a `Payload`.
//!
//! The bounds below are the demo's defence against hostile NFS input: a WRITE past
//! [`MAX_FILE_SIZE`] gets `NFS3ERR_FBIG`, a bigger WRITE or READ than [`MAX_IO`] is refused or
//! clipped, a name over [`MAX_NAME`] gets `NFS3ERR_NAMETOOLONG`, and the export holds at most
//! [`MAX_FILES`] files. Nothing a client sends makes a node allocate beyond these.

use std::io::Cursor;

use ferrotel::ops::raft::openraft::Traced;
use serde::{Deserialize, Serialize};

use crate::proto::Payload;

openraft::declare_raft_types!(
    /// The demo's Raft: file commands (with the proposer's trace context) in, outcomes out.
    pub(crate) TypeConfig:
        D = Traced<Command>,
        R = Outcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The biggest file the export holds (64 MiB).
pub(crate) const MAX_FILE_SIZE: u64 = 64 << 20;
/// The most bytes one READ returns or one WRITE carries (1 MiB, the server's rtmax/wtmax).
pub(crate) const MAX_IO: u32 = 1 << 20;
/// The longest file name, in bytes (NFS's usual limit).
pub(crate) const MAX_NAME: usize = 255;
/// The most files and directories the export holds.
pub(crate) const MAX_FILES: usize = 10_000;
/// The root directory's file id.
pub(crate) const ROOT: u64 = 1;

// The NFS status codes the nodes answer with (RFC 1813 §2.6).
pub(crate) const NFS3ERR_NOENT: u32 = 2;
pub(crate) const NFS3ERR_IO: u32 = 5;
pub(crate) const NFS3ERR_EXIST: u32 = 17;
pub(crate) const NFS3ERR_NOTDIR: u32 = 20;
pub(crate) const NFS3ERR_ISDIR: u32 = 21;
pub(crate) const NFS3ERR_INVAL: u32 = 22;
pub(crate) const NFS3ERR_FBIG: u32 = 27;
pub(crate) const NFS3ERR_NOSPC: u32 = 28;
pub(crate) const NFS3ERR_NAMETOOLONG: u32 = 63;
pub(crate) const NFS3ERR_NOTEMPTY: u32 = 66;
pub(crate) const NFS3ERR_STALE: u32 = 70;

/// A change to the export: proposed by the gateway, applied by every replica in log order.
/// Times come from the proposer, so every replica computes the same attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Command {
    /// A file named `name` in `dir`; with `exclusive`, an existing one is `NFS3ERR_EXIST`.
    Create {
        dir: u64,
        name: String,
        exclusive: bool,
        time_ns: u64,
    },
    /// A directory named `name` in `dir`.
    Mkdir {
        dir: u64,
        name: String,
        time_ns: u64,
    },
    /// `data` written into `file` at `offset`.
    Write {
        file: u64,
        offset: u64,
        data: Vec<u8>,
        time_ns: u64,
    },
    /// `file` truncated or extended to `size`.
    SetSize { file: u64, size: u64, time_ns: u64 },
    /// The entry `name` of `dir` removed (a directory only when empty).
    Remove {
        dir: u64,
        name: String,
        time_ns: u64,
    },
}

/// A read of the export, answered by the leader's state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Query {
    GetAttr { id: u64 },
    Lookup { dir: u64, name: String },
    Read { file: u64, offset: u64, count: u32 },
    ReadDir { dir: u64 },
}

/// A file's or directory's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attr {
    pub(crate) id: u64,
    pub(crate) dir: bool,
    pub(crate) size: u64,
    pub(crate) mtime_ns: u64,
    /// The log index of the last change.
    pub(crate) version: u64,
}

/// What a command or a query yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The attributes of the file the call created, changed or found.
    Attr(Attr),
    /// READ: the bytes, whether they reach the end of the file, the file's attributes.
    Data {
        data: Vec<u8>,
        eof: bool,
        attr: Attr,
    },
    /// READDIR: every entry of the directory with its attributes.
    Entries(Vec<(String, Attr)>),
    /// REMOVE: done.
    Removed,
}

/// A command's or a query's result: a reply, or the NFS status code of the error.
pub(crate) type Outcome = Result<Reply, u32>;

/// Why a node did not answer a proposal or a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    /// This node is not the leader; `leader` is the one it knows of, if any.
    NotLeader { leader: Option<u64> },
    /// The node could not serve the call (shutting down, storage failed): the message says why.
    Unavailable(String),
}

/// A node's answer to the gateway.
pub(crate) type Answer = Result<Outcome, Refusal>;

/// A node's view of the cluster (the `Status` call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Status {
    pub(crate) id: u64,
    pub(crate) leader: Option<u64>,
    pub(crate) term: u64,
    pub(crate) last_applied: Option<u64>,
}

/// `Initialize`: the cluster's members and their addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Members(pub(crate) Vec<(u64, String)>);

/// Encodes `value` as a payload.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Payload, tonic::Status> {
    postcard::to_stdvec(value)
        .map(|data| Payload { data })
        .map_err(|e| tonic::Status::internal(format!("cannot encode: {e}")))
}

/// Decodes a payload; a malformed one is `INVALID_ARGUMENT`, never a panic.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(payload: &Payload) -> Result<T, tonic::Status> {
    postcard::from_bytes(&payload.data)
        .map_err(|e| tonic::Status::invalid_argument(format!("malformed payload: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn openraft_messages_round_trip_through_payloads() {
        use openraft::raft::AppendEntriesRequest;
        use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, Vote};
        let entry = Entry::<TypeConfig> {
            log_id: LogId::new(CommittedLeaderId::new(2, 1), 7),
            payload: EntryPayload::Normal(Traced::without_context(Command::Write {
                file: 9,
                offset: 4096,
                data: vec![7; 300],
                time_ns: 1,
            })),
        };
        let request = AppendEntriesRequest::<TypeConfig> {
            vote: Vote::new_committed(2, 1),
            prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 6)),
            entries: vec![
                entry,
                Entry {
                    log_id: LogId::new(CommittedLeaderId::new(2, 1), 8),
                    payload: EntryPayload::Blank,
                },
            ],
            leader_commit: None,
        };
        let payload = encode(&request).unwrap();
        // A 300-byte write costs its bytes once, not a JSON array.
        assert!(payload.data.len() < 400, "{} bytes", payload.data.len());
        let back: AppendEntriesRequest<TypeConfig> = decode(&payload).unwrap();
        assert_eq!(back.entries.len(), 2);
        assert_eq!(back.entries[0].payload, request.entries[0].payload);
    }

    #[test]
    fn a_malformed_payload_is_an_invalid_argument() {
        let garbage = Payload {
            data: vec![0xff; 9],
        };
        let err = decode::<Query>(&garbage).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
}
