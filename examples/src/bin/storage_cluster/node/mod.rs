//! A storage node: one openraft member whose state machine keeps the export's files in
//! `object_store`'s local-filesystem store. It serves openraft's RPCs to its peers and the
//! storage API to the gateway, over tonic behind ferrotel-tower's server layer.
//!
//! Telemetry comes from ferrotel-ops' openraft adapters: the log store, the state machine and
//! the network are wrapped, so every append, replication round, apply, vote and snapshot is a
//! span and a sample, and each entry carries its proposer's trace context through the log.

mod faulty;
mod files;
mod network;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use ferrotel::ops::raft::openraft::{
    append_entries, client_write, follow_metrics, TracedLogStore, TracedNetworkFactory,
    TracedStateMachine,
};
use ferrotel::ops::raft::RaftInstruments;
use ferrotel::ops::storage::TracedStore;
use object_store::local::LocalFileSystem;
use openraft::error::{CheckIsLeaderError, ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, Config, SnapshotPolicy};
use tonic::{Request, Response, Status as GrpcStatus};

use crate::api::{self, Answer, Command, Members, Query, Refusal, Status, TypeConfig};
use crate::args::NodeOptions;
use crate::proto::{self, Payload, RaftServer, StorageServer};
use crate::telemetry;
use crate::Error;

use ferrotel_testkit::openraft::MemLog;
use files::Files;
use network::{Network, MAX_MESSAGE};

type Raft = openraft::Raft<TypeConfig>;

/// The `raft.group` of every Raft metric and span.
const RAFT_GROUP: &str = "files";

/// An entry's size in the log: its encoded length, as it travels to the followers.
fn entry_bytes(entry: &openraft::Entry<TypeConfig>) -> u64 {
    postcard::to_stdvec(entry).map_or(0, |encoded| encoded.len() as u64)
}

/// openraft gives an AppendEntries one heartbeat interval to complete, so the interval must
/// cover the biggest one: at most 4 entries of up to 1 MiB (a full-size NFS WRITE each), on a
/// loaded two-core machine running five processes, in a debug build. Elections wait a few
/// heartbeats; a failover takes two to three seconds.
fn raft_config() -> Result<Arc<Config>, Error> {
    let config = Config {
        cluster_name: "storage-cluster".into(),
        heartbeat_interval: 400,
        election_timeout_min: 1200,
        election_timeout_max: 2400,
        max_payload_entries: 4,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(5_000),
        ..Config::default()
    };
    Ok(Arc::new(config.validate()?))
}

/// Runs node `options.id` until the driver closes our stdin.
pub(crate) fn run(options: NodeOptions) -> Result<ExitCode, Error> {
    let instance = format!("node-{}", options.id);
    let runtime = telemetry::runtime()?;
    // Started inside the runtime, so the process metrics report its workers and tasks.
    let guard = {
        let _in_runtime = runtime.enter();
        telemetry::init("storage-node", &instance, options.listen.ip(), &[])?
    };
    let result = runtime.block_on(serve(&options, &guard));
    drop(runtime);
    telemetry::shutdown(guard, &instance);
    result.map(|()| ExitCode::SUCCESS)
}

async fn serve(options: &NodeOptions, guard: &ferrotel::Guard) -> Result<(), Error> {
    let dir = options.data_dir.join(format!("node-{}", options.id));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
    let local = LocalFileSystem::new_with_prefix(&dir)
        .map_err(|e| format!("cannot use {} for object_store: {e}", dir.display()))?;
    let storage = guard.ops().storage("fs");
    let store = Arc::new(TracedStore::new(
        faulty::FaultyDisk::new(local, options.disk_faults.unwrap_or(0)),
        storage.clone(),
    ));
    let files = Files::new(store, storage);

    // One Raft group holds the export; a multi-Raft service names each of its groups.
    let instruments = guard.ops().raft_in_group(options.id, RAFT_GROUP);
    let raft = Raft::new(
        options.id,
        raft_config()?,
        TracedNetworkFactory::new(
            Network::new(telemetry::Channels::new(guard)),
            instruments.clone(),
        ),
        // In memory: the demo's nodes live as long as one run, and a killed leader stays down.
        TracedLogStore::new(MemLog::<TypeConfig>::default(), instruments.clone())
            .with_entry_size(entry_bytes),
        TracedStateMachine::new(files.clone(), instruments.clone()),
    )
    .await
    .map_err(|e| format!("openraft did not start: {e}"))?;
    tokio::spawn(follow_metrics(instruments.clone(), raft.metrics()));

    let incoming = telemetry::listen_and_announce(options.listen, guard.metrics_addr()).await?;
    let raft_service = RaftService {
        raft: raft.clone(),
        instruments: instruments.clone(),
    };
    let storage_service = StorageService {
        raft: raft.clone(),
        instruments,
        files,
    };
    let served = tonic::transport::Server::builder()
        .layer(guard.server_layer())
        .add_service(
            RaftServer::new(raft_service)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .add_service(
            StorageServer::new(storage_service)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
        .serve_with_incoming_shutdown(incoming, telemetry::shutdown_signal())
        .await;
    if let Err(e) = raft.shutdown().await {
        eprintln!(
            "storage-cluster: node-{}: openraft shutdown: {e}",
            options.id
        );
    }
    served.map_err(|e| format!("node-{} stopped serving: {e}", options.id).into())
}

/// openraft's RPCs from the peers.
struct RaftService {
    raft: Raft,
    instruments: RaftInstruments,
}

#[tonic::async_trait]
impl proto::Raft for RaftService {
    async fn append_entries(
        &self,
        request: Request<Payload>,
    ) -> Result<Response<Payload>, GrpcStatus> {
        let rpc = api::decode(request.get_ref())?;
        // Under the server layer's span: the follower's appends become its children.
        Ok(Response::new(api::encode(
            &append_entries(&self.raft, &self.instruments, rpc).await,
        )?))
    }

    async fn vote(&self, request: Request<Payload>) -> Result<Response<Payload>, GrpcStatus> {
        let rpc = api::decode(request.get_ref())?;
        Ok(Response::new(api::encode(&self.raft.vote(rpc).await)?))
    }

    async fn install_snapshot(
        &self,
        request: Request<Payload>,
    ) -> Result<Response<Payload>, GrpcStatus> {
        let rpc = api::decode(request.get_ref())?;
        Ok(Response::new(api::encode(
            &self.raft.install_snapshot(rpc).await,
        )?))
    }
}

/// The gateway's calls.
struct StorageService {
    raft: Raft,
    instruments: RaftInstruments,
    files: Files,
}

fn refusal<E: std::fmt::Display>(e: E, leader: Option<Option<u64>>) -> Refusal {
    match leader {
        Some(leader) => Refusal::NotLeader { leader },
        None => Refusal::Unavailable(e.to_string()),
    }
}

#[tonic::async_trait]
impl proto::Storage for StorageService {
    async fn propose(&self, request: Request<Payload>) -> Result<Response<Payload>, GrpcStatus> {
        let command: Command = api::decode(request.get_ref())?;
        let answer: Answer = match client_write(&self.raft, &self.instruments, command).await {
            Ok(written) => Ok(written.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(refusal(&f, Some(f.leader_id)))
            }
            Err(e) => Err(refusal(e, None)),
        };
        Ok(Response::new(api::encode(&answer)?))
    }

    async fn query(&self, request: Request<Payload>) -> Result<Response<Payload>, GrpcStatus> {
        let query: Query = api::decode(request.get_ref())?;
        // Reads are linearizable: the leader confirms it still leads before answering.
        let answer: Answer = match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(self.files.query(query).await),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(refusal(&f, Some(f.leader_id)))
            }
            Err(e) => Err(refusal(e, None)),
        };
        Ok(Response::new(api::encode(&answer)?))
    }

    async fn status(&self, _request: Request<Payload>) -> Result<Response<Payload>, GrpcStatus> {
        let status = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            Status {
                id: m.id,
                leader: m.current_leader,
                term: m.current_term,
                last_applied: m.last_applied.map(|l| l.index),
            }
        };
        Ok(Response::new(api::encode(&status)?))
    }

    async fn initialize(&self, request: Request<Payload>) -> Result<Response<Payload>, GrpcStatus> {
        let Members(members) = api::decode(request.get_ref())?;
        let members: BTreeMap<u64, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode { addr }))
            .collect();
        match self.raft.initialize(members).await {
            // Initialized already: the cluster exists, which is what was asked.
            Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                Ok(Response::new(Payload::default()))
            }
            Err(e) => Err(GrpcStatus::failed_precondition(e.to_string())),
        }
    }
}
