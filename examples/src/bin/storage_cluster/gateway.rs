//! The gateway: takes NFS procedures from clients and calls the Raft leader's storage API.

use std::process::ExitCode;

use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tracing::{field, info_span, Instrument as _};

use crate::args::GatewayOptions;
use crate::node::LEADER_ID;
use crate::proto::{
    procedure_name, FileAttr, Gateway, GatewayServer, NfsReply, NfsRequest, PathRequest, Procedure,
    ReadRequest, StorageClient, WriteRequest,
};
use crate::telemetry::{self, TracedChannel};
use crate::Error;

/// The largest READ the gateway passes on (NFS servers advertise such a limit).
const MAX_READ: u32 = 1 << 20;

/// Runs the gateway until the driver closes its stdin.
pub(crate) fn run(options: GatewayOptions) -> Result<ExitCode, Error> {
    let telemetry = telemetry::init("gateway", "gateway", &[])?;
    let runtime = telemetry::runtime()?;
    let served = runtime.block_on(serve(options));
    drop(runtime);
    telemetry::shutdown(telemetry, "gateway");
    served.map(|()| ExitCode::SUCCESS)
}

async fn serve(options: GatewayOptions) -> Result<(), Error> {
    let gateway = NfsGateway {
        leader: StorageClient::new(telemetry::channel(options.leader)?),
    };
    let incoming = telemetry::listen_and_announce(options.listen).await?;
    Server::builder()
        .layer(telemetry::server_layer())
        .add_service(GatewayServer::new(gateway))
        .serve_with_incoming_shutdown(incoming, telemetry::shutdown_signal())
        .await
        .map_err(|e| format!("gateway: server: {e}"))?;
    Ok(())
}

struct NfsGateway {
    leader: StorageClient<TracedChannel>,
}

#[tonic::async_trait]
impl Gateway for NfsGateway {
    async fn nfs(&self, request: Request<NfsRequest>) -> Result<Response<NfsReply>, Status> {
        let request = request.into_inner();
        let procedure = Procedure::try_from(request.procedure).unwrap_or(Procedure::Unspecified);
        let span = info_span!(
            "gateway.nfs",
            otel.name = %format!("nfs.{}", procedure_name(procedure)),
            nfs.procedure = procedure_name(procedure),
            nfs.path = %request.path,
            nfs.target = %format!("node-{LEADER_ID}"),
            nfs.status = field::Empty,
        );
        let reply = self.call(procedure, request).instrument(span.clone()).await;
        span.record(
            "nfs.status",
            match &reply {
                Ok(_) => "NFS3_OK",
                Err(status) if status.code() == tonic::Code::NotFound => "NFS3ERR_NOENT",
                Err(_) => "NFS3ERR_IO",
            },
        );
        reply.map(Response::new)
    }
}

impl NfsGateway {
    async fn call(&self, procedure: Procedure, request: NfsRequest) -> Result<NfsReply, Status> {
        let mut leader = self.leader.clone();
        let path = request.path;
        if !path.starts_with('/') {
            return Err(Status::invalid_argument(format!(
                "{path:?}: paths are absolute"
            )));
        }
        match procedure {
            Procedure::Read => {
                let reply = leader
                    .read(ReadRequest {
                        path,
                        offset: request.offset,
                        count: request.count.min(MAX_READ),
                    })
                    .await?
                    .into_inner();
                Ok(NfsReply {
                    data: reply.data,
                    attr: reply.attr,
                    log_index: 0,
                    served_by: reply.node_id,
                })
            }
            Procedure::Write => {
                let reply = leader
                    .write(WriteRequest {
                        path,
                        offset: request.offset,
                        data: request.data,
                    })
                    .await?
                    .into_inner();
                Ok(NfsReply {
                    data: Vec::new(),
                    attr: reply.attr,
                    log_index: reply.log_index,
                    served_by: reply.node_id,
                })
            }
            Procedure::Getattr | Procedure::Lookup => {
                let request = PathRequest { path };
                let reply = if procedure == Procedure::Getattr {
                    leader.get_attr(request).await?
                } else {
                    leader.lookup(request).await?
                }
                .into_inner();
                Ok(attr_reply(reply.attr, reply.node_id))
            }
            Procedure::Unspecified => Err(Status::invalid_argument(
                "procedure must be READ, WRITE, GETATTR or LOOKUP",
            )),
        }
    }
}

fn attr_reply(attr: Option<FileAttr>, node_id: u32) -> NfsReply {
    NfsReply {
        data: Vec::new(),
        attr,
        log_index: 0,
        served_by: node_id,
    }
}
