//! The echo gRPC service (`ferrotel.echo.v1.Echo`) that middleware tests, interop tests and
//! benchmarks call. A server built with [`EchoService::forwarding`] passes requests marked
//! `forward` on to a next hop, so a chain client → A → B is two servers of the same service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

/// The generated protobuf types, client and server.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod proto {
    tonic::include_proto!("ferrotel.echo.v1");
}

pub use proto::echo_client::EchoClient;
pub use proto::echo_server::{Echo, EchoServer};
pub use proto::{EchoReply, EchoRequest};

/// A boxed future, as the forwarding hooks return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How a forwarding server calls its next hop for a unary request.
pub type ForwardUnary =
    Arc<dyn Fn(EchoRequest) -> BoxFuture<Result<EchoReply, Status>> + Send + Sync>;

/// How a forwarding server calls its next hop for a server-streaming request.
pub type ForwardStream =
    Arc<dyn Fn(EchoRequest) -> BoxFuture<Result<Streaming<EchoReply>, Status>> + Send + Sync>;

/// The service implementation.
#[derive(Clone, Default)]
pub struct EchoService {
    unary: Option<ForwardUnary>,
    stream: Option<ForwardStream>,
}

impl std::fmt::Debug for EchoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoService")
            .field("forwarding", &self.unary.is_some())
            .finish()
    }
}

impl EchoService {
    /// A last hop: answers every request itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hop that forwards requests marked `forward` through these hooks (clearing the mark).
    pub fn forwarding(unary: ForwardUnary, stream: ForwardStream) -> Self {
        Self {
            unary: Some(unary),
            stream: Some(stream),
        }
    }

    /// The service wrapped for a tonic server.
    pub fn into_server(self) -> EchoServer<Self> {
        EchoServer::new(self)
    }
}

fn failure(code: i32) -> Option<Status> {
    (code != 0).then(|| Status::new(Code::from(code), "requested failure"))
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let request = request.into_inner();
        if request.forward {
            if let Some(forward) = &self.unary {
                let next = EchoRequest {
                    forward: false,
                    ..request
                };
                return forward(next).await.map(Response::new);
            }
        }
        if let Some(status) = failure(request.fail_with) {
            return Err(status);
        }
        Ok(Response::new(EchoReply {
            message: request.message,
            index: 0,
        }))
    }

    type ServerStreamStream = ReceiverStream<Result<EchoReply, Status>>;

    async fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        let request = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        if request.forward {
            if let Some(forward) = &self.stream {
                let next = EchoRequest {
                    forward: false,
                    ..request
                };
                let mut upstream = forward(next).await?;
                tokio::spawn(async move {
                    loop {
                        match upstream.message().await {
                            Ok(Some(reply)) => {
                                if tx.send(Ok(reply)).await.is_err() {
                                    return;
                                }
                            }
                            Ok(None) => return,
                            Err(status) => {
                                let _ = tx.send(Err(status)).await;
                                return;
                            }
                        }
                    }
                });
                return Ok(Response::new(ReceiverStream::new(rx)));
            }
        }
        tokio::spawn(async move {
            for index in 0..request.count {
                if request.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(request.delay_ms))).await;
                }
                let reply = EchoReply {
                    message: request.message.clone(),
                    index,
                };
                if tx.send(Ok(reply)).await.is_err() {
                    return;
                }
            }
            if let Some(status) = failure(request.fail_with) {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
