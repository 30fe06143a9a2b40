//! The OTLP/gRPC server: `opentelemetry-proto`'s generated tonic services, wrapped so that
//! requests tonic rejects before our handler (bad protobuf, bad compression) are recorded too.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, Context, Poll, Service};
use tonic::server::NamedService;
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::fault::{decide, Decision};
use crate::record::{header_map, Outcome, RequestRecord, Signal, Transport};
use crate::store::{hold, Items, Store};
use crate::MAX_MESSAGE_BYTES;

/// A tonic server builder, with TLS when configured (validated here, before anything runs).
pub(crate) fn server(tls: Option<ServerTlsConfig>) -> Result<Server, tonic::transport::Error> {
    let builder = Server::builder();
    match tls {
        Some(tls) => builder.tls_config(tls),
        None => Ok(builder),
    }
}

/// Serves the three OTLP gRPC services on `listener` until the future is dropped.
pub(crate) async fn serve(
    mut builder: Server,
    listener: TcpListener,
    store: Arc<Store>,
) -> Result<(), tonic::transport::Error> {
    let traces = TraceServiceServer::new(TraceReceiver {
        store: store.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let metrics = MetricsServiceServer::new(MetricsReceiver {
        store: store.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let logs = LogsServiceServer::new(LogsReceiver {
        store: store.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    builder
        .add_service(Recorded::new(traces, store.clone(), Signal::Traces))
        .add_service(Recorded::new(metrics, store.clone(), Signal::Metrics))
        .add_service(Recorded::new(logs, store, Signal::Logs))
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await
}

/// What the wrapper learned about a request, handed to the handler through request extensions.
struct RequestContext {
    path: String,
    headers: BTreeMap<String, String>,
    handled: AtomicBool,
}

struct TraceReceiver {
    store: Arc<Store>,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        handle(
            &self.store,
            Signal::Traces,
            request,
            Items::Traces,
            |partial| ExportTraceServiceResponse {
                partial_success: partial.map(|(rejected_spans, error_message)| {
                    ExportTracePartialSuccess {
                        rejected_spans,
                        error_message,
                    }
                }),
            },
        )
        .await
    }
}

struct MetricsReceiver {
    store: Arc<Store>,
}

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        handle(
            &self.store,
            Signal::Metrics,
            request,
            Items::Metrics,
            |partial| ExportMetricsServiceResponse {
                partial_success: partial.map(|(rejected_data_points, error_message)| {
                    ExportMetricsPartialSuccess {
                        rejected_data_points,
                        error_message,
                    }
                }),
            },
        )
        .await
    }
}

struct LogsReceiver {
    store: Arc<Store>,
}

#[tonic::async_trait]
impl LogsService for LogsReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        handle(&self.store, Signal::Logs, request, Items::Logs, |partial| {
            ExportLogsServiceResponse {
                partial_success: partial.map(|(rejected_log_records, error_message)| {
                    ExportLogsPartialSuccess {
                        rejected_log_records,
                        error_message,
                    }
                }),
            }
        })
        .await
    }
}

/// The common export handler: record, apply the fault, answer.
async fn handle<T, R>(
    store: &Store,
    signal: Signal,
    request: Request<T>,
    into_items: fn(T) -> Items,
    respond: fn(Option<(i64, String)>) -> R,
) -> Result<Response<R>, Status> {
    let (path, headers) = match request.extensions().get::<Arc<RequestContext>>() {
        Some(ctx) => {
            ctx.handled.store(true, Ordering::SeqCst);
            (ctx.path.clone(), ctx.headers.clone())
        }
        None => (
            String::new(),
            header_map(&request.metadata().clone().into_headers()),
        ),
    };
    let gzip = headers.get("grpc-encoding").is_some_and(|e| e == "gzip");
    if store.lock().unserved.contains(&signal) {
        let reason = format!("unknown service for {signal:?}");
        store.record(
            RequestRecord {
                signal,
                transport: Transport::Grpc,
                path,
                headers,
                gzip,
                items: 0,
                outcome: Outcome::Invalid(reason.clone()),
            },
            Items::None,
        );
        return Err(Status::unimplemented(reason));
    }
    let items = into_items(request.into_inner());
    let mut record = RequestRecord {
        signal,
        transport: Transport::Grpc,
        path,
        headers,
        gzip,
        items: items.count(),
        outcome: Outcome::Accepted,
    };
    match decide(store) {
        Decision::Reject(outcome) => {
            let status = status_for(&outcome);
            record.outcome = outcome;
            store.record(record, Items::None);
            Err(status)
        }
        Decision::Accept { delay, partial } => {
            hold(store, &record, delay).await;
            record.outcome = Decision::accepted_outcome(&partial);
            store.record(record, items);
            Ok(Response::new(respond(partial)))
        }
    }
}

/// The gRPC status for a rejecting outcome; retryable ones carry `google.rpc.RetryInfo`.
fn status_for(outcome: &Outcome) -> Status {
    let with_retry =
        |code: Code, message: &str, retry_after: Option<std::time::Duration>| match retry_after {
            Some(delay) => Status::with_error_details(
                code,
                message,
                ErrorDetails::with_retry_info(Some(delay)),
            ),
            None => Status::new(code, message),
        };
    match outcome {
        Outcome::Unavailable { retry_after } => with_retry(
            Code::Unavailable,
            "ferrotel-testkit: injected fault: unavailable",
            *retry_after,
        ),
        Outcome::TooManyRequests { retry_after } => with_retry(
            Code::ResourceExhausted,
            "ferrotel-testkit: injected fault: too many requests",
            *retry_after,
        ),
        Outcome::Refused => Status::invalid_argument("ferrotel-testkit: injected fault: refused"),
        other => Status::internal(format!("ferrotel-testkit: unexpected outcome {other:?}")),
    }
}

/// Wraps a generated server so every request is recorded, even one tonic rejects before the
/// handler runs (undecodable protobuf, unsupported compression, unknown method).
#[derive(Clone)]
struct Recorded<S> {
    inner: S,
    store: Arc<Store>,
    signal: Signal,
}

impl<S> Recorded<S> {
    fn new(inner: S, store: Arc<Store>, signal: Signal) -> Self {
        Recorded {
            inner,
            store,
            signal,
        }
    }
}

impl<S: NamedService> NamedService for Recorded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for Recorded<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let ctx = Arc::new(RequestContext {
            path: req.uri().path().to_owned(),
            headers: header_map(req.headers()),
            handled: AtomicBool::new(false),
        });
        req.extensions_mut().insert(ctx.clone());
        // The ready service is the one in `self`; keep a fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let store = self.store.clone();
        let signal = self.signal;
        Box::pin(async move {
            let response = inner.call(req).await?;
            if !ctx.handled.load(Ordering::SeqCst) {
                let reason = match Status::from_header_map(response.headers()) {
                    Some(status) => format!("gRPC {:?}: {}", status.code(), status.message()),
                    None => "the request did not reach the export handler".to_owned(),
                };
                let gzip = ctx
                    .headers
                    .get("grpc-encoding")
                    .is_some_and(|e| e == "gzip");
                store.record(
                    RequestRecord {
                        signal,
                        transport: Transport::Grpc,
                        path: ctx.path.clone(),
                        headers: ctx.headers.clone(),
                        gzip,
                        items: 0,
                        outcome: Outcome::Invalid(reason),
                    },
                    Items::None,
                );
            }
            Ok(response)
        })
    }
}
