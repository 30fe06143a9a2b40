//! The generated protobuf types, clients and servers of `proto/storage.proto`.

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod generated {
    tonic::include_proto!("ferrotel.storage.v1");
}

pub(crate) use generated::gateway_client::GatewayClient;
pub(crate) use generated::gateway_server::{Gateway, GatewayServer};
pub(crate) use generated::raft_client::RaftClient;
pub(crate) use generated::raft_server::{Raft, RaftServer};
pub(crate) use generated::storage_client::StorageClient;
pub(crate) use generated::storage_server::{Storage, StorageServer};
pub(crate) use generated::{
    AppendEntriesReply, AppendEntriesRequest, AttrReply, FileAttr, LogEntry, NfsReply, NfsRequest,
    PathRequest, Procedure, ReadReply, ReadRequest, WriteReply, WriteRequest,
};

/// The NFS name of a procedure, as it appears in span names and attributes.
pub(crate) fn procedure_name(procedure: Procedure) -> &'static str {
    match procedure {
        Procedure::Unspecified => "UNSPECIFIED",
        Procedure::Getattr => "GETATTR",
        Procedure::Lookup => "LOOKUP",
        Procedure::Read => "READ",
        Procedure::Write => "WRITE",
    }
}
