//! The generated protobuf types, clients and servers of `proto/storage.proto`.

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod generated {
    tonic::include_proto!("ferrotel.storage.v1");
}

pub(crate) use generated::raft_client::RaftClient;
pub(crate) use generated::raft_server::{Raft, RaftServer};
pub(crate) use generated::storage_client::StorageClient;
pub(crate) use generated::storage_server::{Storage, StorageServer};
pub(crate) use generated::Payload;
