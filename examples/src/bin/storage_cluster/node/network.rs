//! openraft's network over tonic: each RaftNetwork call is one gRPC call to the peer's `Raft`
//! service, through ferrotel-tower's client layer, so every RPC carries the trace context of
//! the span it runs in.

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{decode, encode, TypeConfig};
use crate::proto::{Payload, RaftClient};
use crate::telemetry::{Channels, TracedChannel};

/// Messages may carry batches of 1 MiB writes.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;

/// Makes one [`Peer`] per target node.
#[derive(Debug, Clone)]
pub(crate) struct Network {
    channels: Channels,
}

impl Network {
    pub(crate) fn new(channels: Channels) -> Self {
        Network { channels }
    }
}

/// The connection to one peer (connected lazily, reconnecting by itself).
pub(crate) struct Peer {
    target: u64,
    client: Result<RaftClient<TracedChannel>, String>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Peer {
        let client = self
            .channels
            .open(&node.addr)
            .map_err(|e| format!("node {target} has a bad address {:?}: {e}", node.addr))
            .map(|channel| {
                RaftClient::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(MAX_MESSAGE)
            });
        Peer { target, client }
    }
}

#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl Peer {
    /// Sends `request` with `method` and decodes the peer's `Result<Resp, E>`.
    async fn call<Req, Resp, E>(
        &mut self,
        request: &Req,
        option: &RPCOption,
        method: Method,
    ) -> Result<Resp, RPCError<u64, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let client = match &mut self.client {
            Ok(client) => client,
            Err(e) => return Err(RPCError::Unreachable(Unreachable::new(&Failure(e.clone())))),
        };
        let payload = encode(request).map_err(|s| RPCError::Network(NetworkError::new(&s)))?;
        let mut request = tonic::Request::new(payload);
        request.set_timeout(option.hard_ttl());
        let reply = match method {
            Method::Append => client.append_entries(request).await,
            Method::Vote => client.vote(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
        };
        let reply: Payload = match reply {
            Ok(reply) => reply.into_inner(),
            // The peer is down or unreachable: openraft backs off and retries.
            Err(status) if status.code() == tonic::Code::Unavailable => {
                return Err(RPCError::Unreachable(Unreachable::new(&status)))
            }
            Err(status) => return Err(RPCError::Network(NetworkError::new(&status))),
        };
        let answer: Result<Resp, E> =
            decode(&reply).map_err(|s| RPCError::Network(NetworkError::new(&s)))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

enum Method {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(&rpc, &option, Method::Append).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(&rpc, &option, Method::Snapshot).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        self.call(&rpc, &option, Method::Vote).await
    }
}
