//! Payload builders and raw HTTP clients shared by every self-test.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Generous: waits return as soon as data arrives, this only bounds a failing test.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) const TRACE_ID: [u8; 16] = [0xab; 16];

pub(crate) fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![string_kv("service.name", "testkit-selftest")],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "selftest".to_owned(),
        version: "1.0".to_owned(),
        ..Default::default()
    })
}

/// One span per name, all in trace `TRACE_ID`; span `i` has id `[i + 1; 8]` and the first
/// span is the parent of the others.
pub(crate) fn spans_request(names: &[&str]) -> ExportTraceServiceRequest {
    let spans = names
        .iter()
        .enumerate()
        .map(|(i, name)| Span {
            trace_id: TRACE_ID.to_vec(),
            span_id: vec![i as u8 + 1; 8],
            parent_span_id: if i == 0 { Vec::new() } else { vec![1; 8] },
            name: (*name).to_owned(),
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 2_000,
            attributes: vec![
                string_kv("rpc.method", name),
                KeyValue {
                    key: "index".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(i as i64)),
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A monotonic sum `name` with one data point carrying one exemplar (trace `TRACE_ID`).
pub(crate) fn metrics_request(name: &str) -> ExportMetricsServiceRequest {
    let point = NumberDataPoint {
        attributes: vec![string_kv("op", "read")],
        time_unix_nano: 2_000,
        value: Some(number_data_point::Value::AsInt(7)),
        exemplars: vec![Exemplar {
            time_unix_nano: 1_500,
            trace_id: TRACE_ID.to_vec(),
            span_id: vec![1; 8],
            value: Some(exemplar::Value::AsInt(7)),
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![Metric {
                    name: name.to_owned(),
                    unit: "1".to_owned(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points: vec![point],
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An answer from the HTTP server.
pub(crate) struct HttpAnswer {
    pub(crate) status: http::StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl HttpAnswer {
    pub(crate) fn decode<M: prost::Message + Default>(&self) -> M {
        M::decode(self.body.clone()).unwrap()
    }
}

/// POSTs a protobuf body over a fresh plain-TCP HTTP/1.1 connection.
pub(crate) async fn post(
    addr: SocketAddr,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Vec<u8>,
) -> HttpAnswer {
    let stream = TcpStream::connect(addr).await.unwrap();
    post_over(stream, path, extra_headers, body).await
}

/// POSTs a protobuf message (optionally gzip-compressed) to the receiver's HTTP server.
pub(crate) async fn post_message(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    compress: bool,
) -> HttpAnswer {
    let body = message.encode_to_vec();
    if compress {
        post(addr, path, &[("content-encoding", "gzip")], gzip(&body)).await
    } else {
        post(addr, path, &[], body).await
    }
}

/// POSTs over any connected stream (plain or TLS).
pub(crate) async fn post_over<IO>(
    io: IO,
    path: &str,
    extra_headers: &[(&str, &str)],
    body: Vec<u8>,
) -> HttpAnswer
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::post(path)
        .header("host", "127.0.0.1")
        .header("user-agent", "testkit-selftest/1.0");
    if !extra_headers
        .iter()
        .any(|(name, _)| *name == "content-type")
    {
        request = request.header("content-type", "application/x-protobuf");
    }
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    HttpAnswer {
        status,
        headers,
        body,
    }
}

/// A rustls client trusting `ca_pem`, presenting `client` (cert, key) when given.
pub(crate) fn tls_client_config(
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    }
}

/// POSTs over a fresh TLS connection, verifying the server as `localhost`.
pub(crate) async fn post_tls(
    addr: SocketAddr,
    config: rustls::ClientConfig,
    path: &str,
    body: Vec<u8>,
) -> std::io::Result<HttpAnswer> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await?;
    Ok(post_over(tls, path, &[], body).await)
}
