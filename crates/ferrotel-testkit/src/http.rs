//! The OTLP/HTTP server: `POST /v1/traces`, `POST /v1/metrics` and `POST /v1/logs` with
//! protobuf or OTLP/JSON bodies, plain or gzip-compressed, over HTTP/1.1 (optionally TLS). A
//! JSON request is answered in JSON.

use std::convert::Infallible;
use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::fault::{decide, Decision};
use crate::record::{header_map, Outcome, RequestRecord, Signal, Transport};
use crate::store::{hold, Items, Store};
use crate::MAX_MESSAGE_BYTES;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// How long a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` forever (until the runtime shuts down).
pub(crate) async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, store: Arc<Store>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Transient (aborted connection) or resource exhaustion: keep serving.
                eprintln!("ferrotel-testkit: HTTP accept error: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let store = store.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                return serve_connection(stream, store).await;
            };
            // A failed or stalled handshake (e.g. mTLS without a client certificate) is the
            // client's error to see; no request was made, so there is nothing to record.
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            if let Ok(Ok(stream)) = handshake.await {
                serve_connection(stream, store).await;
            }
        });
    }
}

async fn serve_connection<IO>(io: IO, store: Arc<Store>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let store = store.clone();
        async move { Ok::<_, Infallible>(handle(request, &store).await) }
    });
    // Connection-level errors (client hung up) end this connection only.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

async fn handle(request: http::Request<Incoming>, store: &Store) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let headers = header_map(request.headers());
    let encoding = request.headers().get(CONTENT_ENCODING).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .trim()
            .to_ascii_lowercase()
    });
    let signal = match path.as_str() {
        "/v1/traces" => Signal::Traces,
        "/v1/metrics" => Signal::Metrics,
        "/v1/logs" => Signal::Logs,
        _ => Signal::Unknown,
    };
    let mut record = RequestRecord {
        signal,
        transport: Transport::Http,
        path,
        headers,
        gzip: encoding.as_deref() == Some("gzip"),
        items: 0,
        outcome: Outcome::Accepted,
    };
    if signal == Signal::Unknown || store.lock().unserved.contains(&signal) {
        let reason = format!("no OTLP endpoint at {}", record.path);
        return invalid(store, record, StatusCode::NOT_FOUND, reason);
    }
    if request.method() != Method::POST {
        let reason = format!("method {} not allowed, use POST", request.method());
        return invalid(store, record, StatusCode::METHOD_NOT_ALLOWED, reason);
    }
    let content_type = record.header("content-type").unwrap_or_default().to_owned();
    let json = content_type.starts_with(JSON);
    if !content_type.starts_with(PROTOBUF) && !json {
        let reason =
            format!("content-type {content_type:?} not supported, use {PROTOBUF} or {JSON}");
        return invalid(store, record, StatusCode::UNSUPPORTED_MEDIA_TYPE, reason);
    }
    let body = match Limited::new(request.into_body(), MAX_MESSAGE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return invalid(
                store,
                record,
                StatusCode::BAD_REQUEST,
                format!("reading body: {err}"),
            )
        }
    };
    let body = match encoding.as_deref() {
        None | Some("") | Some("identity") => body,
        Some("gzip") => match gunzip(&body) {
            Ok(body) => body,
            Err(err) => {
                return invalid(
                    store,
                    record,
                    StatusCode::BAD_REQUEST,
                    format!("gzip body: {err}"),
                )
            }
        },
        Some(other) => {
            let reason = format!("content-encoding {other:?} not supported");
            return invalid(store, record, StatusCode::UNSUPPORTED_MEDIA_TYPE, reason);
        }
    };
    let items = match decode(signal, body, json) {
        Ok(items) => items,
        Err(reason) => return invalid(store, record, StatusCode::BAD_REQUEST, reason),
    };
    record.items = items.count();

    match decide(store) {
        Decision::Reject(outcome) => {
            let response = match &outcome {
                Outcome::Unavailable { retry_after } => status_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ferrotel-testkit: injected fault: unavailable",
                    *retry_after,
                ),
                Outcome::TooManyRequests { retry_after } => status_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ferrotel-testkit: injected fault: too many requests",
                    *retry_after,
                ),
                _ => status_response(
                    StatusCode::BAD_REQUEST,
                    "ferrotel-testkit: injected fault: refused",
                    None,
                ),
            };
            record.outcome = outcome;
            store.record(record, Items::None);
            response
        }
        Decision::Accept { delay, partial } => {
            hold(store, &record, delay).await;
            record.outcome = Decision::accepted_outcome(&partial);
            let body = match signal {
                Signal::Traces => encode(
                    &ExportTraceServiceResponse {
                        partial_success: partial.map(|(rejected_spans, error_message)| {
                            ExportTracePartialSuccess {
                                rejected_spans,
                                error_message,
                            }
                        }),
                    },
                    json,
                ),
                Signal::Logs => encode(
                    &ExportLogsServiceResponse {
                        partial_success: partial.map(|(rejected_log_records, error_message)| {
                            ExportLogsPartialSuccess {
                                rejected_log_records,
                                error_message,
                            }
                        }),
                    },
                    json,
                ),
                _ => encode(
                    &ExportMetricsServiceResponse {
                        partial_success: partial.map(|(rejected_data_points, error_message)| {
                            ExportMetricsPartialSuccess {
                                rejected_data_points,
                                error_message,
                            }
                        }),
                    },
                    json,
                ),
            };
            store.record(record, items);
            let mut response = protobuf_response(StatusCode::OK, body);
            if json {
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, http::HeaderValue::from_static(JSON));
            }
            response
        }
    }
}

/// Decodes an export request of `signal`, protobuf or OTLP/JSON (ids as hex, as the OTLP/HTTP
/// specification asks).
fn decode(signal: Signal, body: Bytes, json: bool) -> Result<Items, String> {
    fn either<M>(body: Bytes, json: bool) -> Result<M, String>
    where
        M: prost::Message + Default + for<'de> serde::Deserialize<'de>,
    {
        if json {
            serde_json::from_slice(&body).map_err(|err| format!("OTLP/JSON body: {err}"))
        } else {
            M::decode(body).map_err(|err| format!("protobuf body: {err}"))
        }
    }
    Ok(match signal {
        Signal::Traces => Items::Traces(either::<ExportTraceServiceRequest>(body, json)?),
        Signal::Logs => Items::Logs(either::<ExportLogsServiceRequest>(body, json)?),
        _ => Items::Metrics(either::<ExportMetricsServiceRequest>(body, json)?),
    })
}

/// A response body, as protobuf or OTLP/JSON.
fn encode<M>(message: &M, json: bool) -> Vec<u8>
where
    M: prost::Message + serde::Serialize,
{
    if json {
        serde_json::to_vec(message).unwrap_or_default()
    } else {
        message.encode_to_vec()
    }
}

/// Records a request that could not be served and answers it with `status`.
fn invalid(
    store: &Store,
    mut record: RequestRecord,
    status: StatusCode,
    reason: String,
) -> Response<Full<Bytes>> {
    let response = status_response(status, &reason, None);
    record.outcome = Outcome::Invalid(reason);
    store.record(record, Items::None);
    response
}

fn gunzip(body: &[u8]) -> std::io::Result<Bytes> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_MESSAGE_BYTES as u64)
        .read_to_end(&mut out)?;
    Ok(out.into())
}

/// An OTLP/HTTP error answer: a protobuf `google.rpc.Status` body, and `Retry-After` (whole
/// seconds, rounded up) when a retry delay is set.
fn status_response(
    status: StatusCode,
    message: &str,
    retry_after: Option<Duration>,
) -> Response<Full<Bytes>> {
    let code = match status {
        StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable,
        StatusCode::TOO_MANY_REQUESTS => tonic::Code::ResourceExhausted,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => tonic::Code::Unimplemented,
        _ => tonic::Code::InvalidArgument,
    };
    let body = tonic_types::Status {
        code: code as i32,
        message: message.to_owned(),
        details: Vec::new(),
    }
    .encode_to_vec();
    let mut response = protobuf_response(status, body);
    if let Some(delay) = retry_after {
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    response
}

fn protobuf_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(PROTOBUF));
    response
}
