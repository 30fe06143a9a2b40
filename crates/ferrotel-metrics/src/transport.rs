//! One OTLP metrics export attempt over gRPC, HTTP/protobuf or HTTP/JSON.

use std::fmt;
use std::io::Write as _;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;

use crate::retry::{classify_grpc, classify_http, Failure};

/// The `User-Agent` of ferrotel's OTLP requests.
pub const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust/0.33.1 ferrotel/",
    env!("CARGO_PKG_VERSION")
);

/// Where and how [`OtlpMetricExporter`](crate::OtlpMetricExporter) sends its requests.
/// `timeout` bounds a whole export, every retry included (`None`: no limit).
#[derive(Clone)]
pub enum MetricsTransport {
    /// OTLP/gRPC: `MetricsService/Export` on `channel`.
    Grpc {
        /// The channel, already configured (endpoint, TLS); usually built `connect_lazy`.
        channel: tonic::transport::Channel,
        /// Metadata added to every request (`OTEL_EXPORTER_OTLP_[METRICS_]HEADERS`).
        metadata: tonic::metadata::MetadataMap,
        /// Compress requests with gzip.
        gzip: bool,
        /// The export timeout.
        timeout: Option<Duration>,
    },
    /// OTLP/HTTP with protobuf bodies, or JSON ones (`http/json`).
    Http {
        /// The client (TLS configured).
        client: reqwest::Client,
        /// The full URL, including `/v1/metrics`.
        url: String,
        /// Send OTLP/JSON (`application/json`, ids as hex) instead of protobuf.
        json: bool,
        /// Headers added to every request.
        headers: Vec<(String, String)>,
        /// Compress bodies with gzip (`Content-Encoding: gzip`).
        gzip: bool,
        /// The export timeout.
        timeout: Option<Duration>,
    },
}

impl fmt::Debug for MetricsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: only their names are shown.
        match self {
            MetricsTransport::Grpc {
                metadata,
                gzip,
                timeout,
                ..
            } => f
                .debug_struct("Grpc")
                .field(
                    "metadata",
                    &metadata
                        .keys()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>(),
                )
                .field("gzip", gzip)
                .field("timeout", timeout)
                .finish_non_exhaustive(),
            MetricsTransport::Http {
                url,
                json,
                headers,
                gzip,
                timeout,
                ..
            } => f
                .debug_struct("Http")
                .field("url", url)
                .field("json", json)
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .field("gzip", gzip)
                .field("timeout", timeout)
                .finish_non_exhaustive(),
        }
    }
}

/// What the receiver answered to an accepted request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// `partial_success.rejected_data_points`.
    pub(crate) rejected: i64,
    /// `partial_success.error_message`.
    pub(crate) message: String,
}

impl Accepted {
    fn from_response(response: ExportMetricsServiceResponse) -> Self {
        response
            .partial_success
            .map(|p| Accepted {
                rejected: p.rejected_data_points,
                message: p.error_message,
            })
            .unwrap_or_default()
    }
}

/// A request ready to send: the message for gRPC, the (possibly compressed) body for HTTP.
pub(crate) enum Prepared {
    Grpc(ExportMetricsServiceRequest),
    Http(bytes::Bytes),
}

impl MetricsTransport {
    /// The export timeout.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        match self {
            MetricsTransport::Grpc { timeout, .. } | MetricsTransport::Http { timeout, .. } => {
                *timeout
            }
        }
    }

    /// A redactor for this transport's secrets: header (metadata) values, and the userinfo and
    /// query of the URL.
    pub(crate) fn redactor(&self) -> ferrotel_config::redact::Redactor {
        let mut redactor = ferrotel_config::redact::Redactor::new();
        match self {
            MetricsTransport::Grpc { metadata, .. } => {
                for value in metadata.values() {
                    if let tonic::metadata::ValueRef::Ascii(value) = value {
                        if let Ok(text) = value.to_str() {
                            redactor.add(text);
                        }
                    }
                }
            }
            MetricsTransport::Http { url, headers, .. } => {
                redactor.add_url(url);
                for (_, value) in headers {
                    redactor.add(value);
                }
            }
        }
        redactor
    }

    /// Where requests go, for error messages.
    pub(crate) fn target(&self) -> String {
        match self {
            MetricsTransport::Grpc { .. } => "the OTLP/gRPC endpoint".to_owned(),
            MetricsTransport::Http { url, .. } => url.clone(),
        }
    }

    /// Encodes (and for HTTP with gzip, compresses) the request once for every attempt.
    pub(crate) fn prepare(&self, request: ExportMetricsServiceRequest) -> Result<Prepared, String> {
        match self {
            MetricsTransport::Grpc { .. } => Ok(Prepared::Grpc(request)),
            MetricsTransport::Http { gzip, json, .. } => {
                let body = if *json {
                    serde_json::to_vec(&request)
                        .map_err(|e| format!("OTLP/JSON encoding failed: {e}"))?
                } else {
                    request.encode_to_vec()
                };
                if !*gzip {
                    return Ok(Prepared::Http(body.into()));
                }
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder
                    .write_all(&body)
                    .and_then(|()| encoder.finish())
                    .map(|compressed| Prepared::Http(compressed.into()))
                    .map_err(|e| format!("gzip compression failed: {e}"))
            }
        }
    }

    /// One attempt; `left` is the time left of the export timeout.
    pub(crate) async fn send(
        &self,
        prepared: &Prepared,
        left: Option<Duration>,
    ) -> Result<Accepted, Failure> {
        match (self, prepared) {
            (
                MetricsTransport::Grpc {
                    channel,
                    metadata,
                    gzip,
                    ..
                },
                Prepared::Grpc(message),
            ) => {
                let mut client = MetricsServiceClient::new(channel.clone());
                if *gzip {
                    client = client
                        .send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip);
                }
                let mut request = tonic::Request::new(message.clone());
                *request.metadata_mut() = metadata.clone();
                if !request.metadata().contains_key("user-agent") {
                    request.metadata_mut().insert(
                        "user-agent",
                        tonic::metadata::MetadataValue::from_static(USER_AGENT),
                    );
                }
                if let Some(left) = left {
                    request.set_timeout(left);
                }
                match client.export(request).await {
                    Ok(response) => Ok(Accepted::from_response(response.into_inner())),
                    Err(status) => Err(classify_grpc(&status)),
                }
            }
            (
                MetricsTransport::Http {
                    client,
                    url,
                    json,
                    headers,
                    gzip,
                    ..
                },
                Prepared::Http(body),
            ) => {
                let content_type = if *json {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let mut request = client
                    .post(url)
                    .header(http::header::CONTENT_TYPE, content_type)
                    .header(http::header::USER_AGENT, USER_AGENT);
                if *gzip {
                    request = request.header(http::header::CONTENT_ENCODING, "gzip");
                }
                for (name, value) in headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                if let Some(left) = left {
                    request = request.timeout(left);
                }
                let response = match request.body(body.clone()).send().await {
                    Ok(response) => response,
                    Err(e) if e.is_builder() => {
                        return Err(Failure::Permanent(format!("invalid HTTP request: {e}")))
                    }
                    // Connection refused or reset, timed out: worth another try.
                    Err(e) => return Err(Failure::Retryable(format!("HTTP request failed: {e}"))),
                };
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let bytes = response.bytes().await.unwrap_or_default();
                if status.is_success() {
                    // An empty or undecodable body is a full success.
                    let decoded = if *json {
                        serde_json::from_slice(&bytes).unwrap_or_default()
                    } else {
                        ExportMetricsServiceResponse::decode(bytes).unwrap_or_default()
                    };
                    return Ok(Accepted::from_response(decoded));
                }
                let text = String::from_utf8_lossy(&bytes);
                let text: String = text.chars().take(256).collect();
                Err(classify_http(
                    status.as_u16(),
                    retry_after.as_deref(),
                    text.trim(),
                ))
            }
            // `prepare` matches the transport; a mismatch cannot be sent.
            _ => Err(Failure::Permanent(
                "request prepared for another transport".to_owned(),
            )),
        }
    }
}
