//! The one OTLP transport of every signal: gRPC, HTTP/protobuf or HTTP/JSON, gzip, headers,
//! TLS, and one attempt at a time (the retries are [`crate::retry`]'s).
//!
//! What the collector sends back is read with limits: at most [`MAX_RESPONSE_BYTES`] of an
//! answer, within the export timeout. Redirects are refused: an OTLP endpoint has no reason to
//! send the export, and the headers that authenticate it, anywhere else.

use std::fmt;
use std::io::Write as _;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use ferrotel_config::redact::{redact_url, Redactor};
use ferrotel_config::{Compression, OtlpConfig, Protocol};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use prost::Message as _;
use tokio::runtime::Handle;
use tonic::codec::CompressionEncoding;

use crate::error::SetupError;
use crate::retry::{classify_grpc, classify_http, Failure};
use crate::signal::{Accepted, Signal};
use crate::tls::TlsFiles;

/// The `User-Agent` of ferrotel's OTLP requests.
pub const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust/0.33.1 ferrotel/",
    env!("CARGO_PKG_VERSION")
);

/// The most of a collector's answer that is read. An OTLP answer is a partial-success message
/// or an error text: small. A larger one is cut off and the export counted as failed.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How much of an error answer is quoted in a message.
const QUOTED_CHARS: usize = 256;

/// Where and how one signal's requests go.
pub(crate) struct Transport {
    kind: Kind,
    /// Bounds a whole export, every retry included (`None`: no limit).
    timeout: Option<Duration>,
    /// The endpoint with userinfo and query hidden, for messages.
    target: String,
    /// Scrubs header values and the endpoint's userinfo and query out of messages.
    redactor: Redactor,
}

enum Kind {
    Grpc {
        channel: tonic::transport::Channel,
        metadata: tonic::metadata::MetadataMap,
        gzip: bool,
    },
    Http {
        client: reqwest::Client,
        url: String,
        json: bool,
        headers: HeaderMap,
        gzip: bool,
    },
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: only their names are shown.
        let (protocol, names): (&str, Vec<String>) = match &self.kind {
            Kind::Grpc { metadata, .. } => {
                ("grpc", metadata.keys().map(|k| format!("{k:?}")).collect())
            }
            Kind::Http { json, headers, .. } => (
                if *json { "http/json" } else { "http/protobuf" },
                headers.keys().map(|k| k.as_str().to_owned()).collect(),
            ),
        };
        f.debug_struct("Transport")
            .field("protocol", &protocol)
            .field("target", &self.target)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A request encoded once for every attempt.
pub(crate) enum Prepared<S: Signal> {
    Grpc(S::Request),
    Http(Bytes, PhantomData<S>),
}

impl Transport {
    /// The transport of signal `S` from its resolved settings. The gRPC channel connects
    /// lazily, on `runtime`.
    pub(crate) fn new<S: Signal>(otlp: &OtlpConfig, runtime: &Handle) -> Result<Self, SetupError> {
        let tls = TlsFiles::read(otlp, S::ENV)?;
        let gzip = otlp.compression == Compression::Gzip;
        let kind = match otlp.protocol {
            Protocol::Grpc => {
                // The channel's worker is spawned on the runtime it is built in.
                let _entered = runtime.enter();
                Kind::Grpc {
                    channel: grpc_channel(otlp, &tls)?,
                    metadata: metadata::<S>(otlp)?,
                    gzip,
                }
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => Kind::Http {
                client: http_client(otlp, &tls)?,
                url: otlp.endpoint.clone(),
                json: otlp.protocol == Protocol::HttpJson,
                headers: headers::<S>(otlp)?,
                gzip,
            },
        };
        let mut redactor = Redactor::new();
        redactor.add_url(&otlp.endpoint);
        for (_, value) in &otlp.headers {
            redactor.add(value);
        }
        Ok(Self {
            kind,
            timeout: otlp.timeout,
            target: redact_url(&otlp.endpoint),
            redactor,
        })
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Encodes (and for HTTP with gzip, compresses) the request once for every attempt.
    pub(crate) fn prepare<S: Signal>(&self, request: S::Request) -> Result<Prepared<S>, String> {
        let Kind::Http { json, gzip, .. } = &self.kind else {
            return Ok(Prepared::Grpc(request));
        };
        let body = if *json {
            serde_json::to_vec(&request).map_err(|e| format!("OTLP/JSON encoding failed: {e}"))?
        } else {
            request.encode_to_vec()
        };
        if !*gzip {
            return Ok(Prepared::Http(body.into(), PhantomData));
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map(|compressed| Prepared::Http(compressed.into(), PhantomData))
            .map_err(|e| format!("gzip compression failed: {e}"))
    }

    /// One attempt; `left` is what remains of the export timeout.
    pub(crate) async fn send<S: Signal>(
        &self,
        prepared: &Prepared<S>,
        left: Option<Duration>,
    ) -> Result<Accepted, Failure> {
        match (&self.kind, prepared) {
            (
                Kind::Grpc {
                    channel,
                    metadata,
                    gzip,
                },
                Prepared::Grpc(message),
            ) => send_grpc::<S>(channel, metadata, *gzip, message, left).await,
            (
                Kind::Http {
                    client,
                    url,
                    json,
                    headers,
                    gzip,
                },
                Prepared::Http(body, _),
            ) => {
                let content_type = if *json {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let mut request = client
                    .post(url)
                    .headers(headers.clone())
                    .header(http::header::CONTENT_TYPE, content_type);
                if *gzip {
                    request = request.header(http::header::CONTENT_ENCODING, "gzip");
                }
                if let Some(left) = left {
                    request = request.timeout(left);
                }
                send_http::<S>(request.body(body.clone()), *json).await
            }
            // `prepare` matches the transport; a mismatch cannot be sent.
            _ => Err(Failure::Permanent(
                "request prepared for another transport".to_owned(),
            )),
        }
    }
}

async fn send_grpc<S: Signal>(
    channel: &tonic::transport::Channel,
    metadata: &tonic::metadata::MetadataMap,
    gzip: bool,
    message: &S::Request,
    left: Option<Duration>,
) -> Result<Accepted, Failure> {
    let mut grpc =
        tonic::client::Grpc::new(channel.clone()).max_decoding_message_size(MAX_RESPONSE_BYTES);
    if gzip {
        grpc = grpc
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready()
        .await
        .map_err(|e| Failure::Retryable(format!("gRPC channel not ready: {}", error_chain(&e))))?;
    let mut request = tonic::Request::new(message.clone());
    *request.metadata_mut() = metadata.clone();
    if let Some(left) = left {
        request.set_timeout(left);
    }
    let codec = tonic_prost::ProstCodec::<S::Request, S::Response>::default();
    let path = http::uri::PathAndQuery::from_static(S::GRPC_PATH);
    match grpc.unary(request, path, codec).await {
        Ok(response) => Ok(S::accepted(response.into_inner())),
        // tonic's decoder refuses an answer past the limit as OUT_OF_RANGE, which is retryable
        // when a collector says it; the same answer would come again, so it is not retried.
        Err(status)
            if status.code() == tonic::Code::OutOfRange
                && status
                    .message()
                    .contains("decoded message length too large") =>
        {
            Err(Failure::Permanent(format!(
                "gRPC answer larger than {MAX_RESPONSE_BYTES} bytes; not read"
            )))
        }
        Err(status) => Err(classify_grpc(&status)),
    }
}

async fn send_http<S: Signal>(
    request: reqwest::RequestBuilder,
    json: bool,
) -> Result<Accepted, Failure> {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) if e.is_builder() => {
            return Err(Failure::Permanent(format!("invalid HTTP request: {e}")))
        }
        Err(e) if e.is_connect() => {
            return Err(Failure::Retryable(format!(
                "connection failed: {}",
                error_chain(&e)
            )))
        }
        // Reset, timed out: worth another try.
        Err(e) => {
            return Err(Failure::Retryable(format!(
                "HTTP request failed: {}",
                error_chain(&e)
            )))
        }
    };
    let status = response.status();
    if status.is_redirection() {
        let to = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(location_host)
            .unwrap_or_else(|| "no Location".to_owned());
        return Err(Failure::Permanent(format!(
            "HTTP status {} redirects to {to}: refused, an OTLP exporter follows no redirect \
             (point the endpoint at the collector itself)",
            status.as_u16()
        )));
    }
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_bounded(&mut response).await?;
    if status.is_success() {
        // An empty or undecodable body is a full success.
        let decoded: S::Response = if json {
            serde_json::from_slice(&body).unwrap_or_default()
        } else {
            S::Response::decode(body).unwrap_or_default()
        };
        return Ok(S::accepted(decoded));
    }
    let text = String::from_utf8_lossy(&body);
    let text: String = text.chars().take(QUOTED_CHARS).collect();
    Err(classify_http(
        status.as_u16(),
        retry_after.as_deref(),
        text.trim(),
    ))
}

/// Reads an answer's body up to [`MAX_RESPONSE_BYTES`].
async fn read_bounded(response: &mut reqwest::Response) -> Result<Bytes, Failure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Failure::Permanent(format!(
                        "HTTP status {}: the answer is larger than {MAX_RESPONSE_BYTES} bytes; \
                         not read further",
                        response.status().as_u16()
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.into()),
            Err(e) => {
                return Err(Failure::Retryable(format!(
                    "HTTP status {}: reading the answer failed: {}",
                    response.status().as_u16(),
                    error_chain(&e)
                )))
            }
        }
    }
}

/// The host (and port) a `Location` names, never its path or query, which may carry a token.
fn location_host(location: &str) -> String {
    match location.parse::<http::Uri>() {
        Ok(uri) => match (uri.host(), uri.port_u16()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => "a path on the same host".to_owned(),
        },
        Err(_) => "an unreadable Location".to_owned(),
    }
}

/// An error with its causes, `a: b: c`, so "connection refused" is not hidden behind reqwest's
/// "error sending request".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    with_causes(error.to_string(), error.source())
}

/// `text` followed by each cause in `source`'s chain that it does not already say.
pub(crate) fn with_causes(
    mut text: String,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// The OTLP/HTTP client of one signal: TLS from its certificate variables, its timeout, no
/// redirects.
pub(crate) fn http_client(
    otlp: &OtlpConfig,
    tls: &TlsFiles,
) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls.rustls_config()?)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(timeout) = otlp.timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| SetupError::tls(format!("HTTP client setup failed: {e}")))
}

/// The OTLP/gRPC channel of one signal, connecting lazily. Must be called inside the export
/// runtime's context: the channel's worker is spawned there.
fn grpc_channel(
    otlp: &OtlpConfig,
    tls: &TlsFiles,
) -> Result<tonic::transport::Channel, SetupError> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(otlp.endpoint.clone())
        .map_err(|e| {
            SetupError::setup(format!("OTLP endpoint {}: {e}", redact_url(&otlp.endpoint)))
        })?
        .user_agent(USER_AGENT)
        .map_err(|e| SetupError::setup(format!("user agent: {e}")))?;
    if otlp.endpoint.starts_with("https://") {
        endpoint = endpoint
            .tls_config(tls.tonic_config())
            .map_err(|e| SetupError::tls(format!("gRPC TLS setup failed: {e}")))?;
    }
    if let Some(timeout) = otlp.timeout {
        endpoint = endpoint.timeout(timeout);
    }
    Ok(endpoint.connect_lazy())
}

fn metadata<S: Signal>(otlp: &OtlpConfig) -> Result<tonic::metadata::MetadataMap, SetupError> {
    let mut map = tonic::metadata::MetadataMap::new();
    for (key, value) in &otlp.headers {
        let name = tonic::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|_| {
                SetupError::setup(format!(
                    "OTEL_EXPORTER_OTLP_[{}_]HEADERS: {key:?} is not a valid gRPC metadata key",
                    S::ENV
                ))
            })?;
        let value = value.parse().map_err(|_| {
            SetupError::setup(format!(
                "OTEL_EXPORTER_OTLP_[{}_]HEADERS: the value of {key:?} is not valid gRPC metadata",
                S::ENV
            ))
        })?;
        map.insert(name, value);
    }
    Ok(map)
}

fn headers<S: Signal>(otlp: &OtlpConfig) -> Result<HeaderMap, SetupError> {
    let mut map = HeaderMap::new();
    for (key, value) in &otlp.headers {
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            SetupError::setup(format!(
                "OTEL_EXPORTER_OTLP_[{}_]HEADERS: {key:?} is not a valid HTTP header name",
                S::ENV
            ))
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            SetupError::setup(format!(
                "OTEL_EXPORTER_OTLP_[{}_]HEADERS: the value of {key:?} is not a valid HTTP \
                 header value",
                S::ENV
            ))
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// An HTTP client for `opentelemetry_http` users (the Jaeger remote sampler) whose requests run
/// on the export runtime, with the same limits as the exporters: no redirects, bounded answers.
pub struct RuntimeHttpClient {
    client: reqwest::Client,
    handle: Handle,
}

impl fmt::Debug for RuntimeHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHttpClient").finish_non_exhaustive()
    }
}

impl RuntimeHttpClient {
    /// A client with `otlp`'s timeout and system TLS roots, running on `runtime`.
    pub fn new(otlp: &OtlpConfig, runtime: Handle) -> Result<Self, SetupError> {
        Ok(Self {
            client: http_client(otlp, &TlsFiles::default())?,
            handle: runtime,
        })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for RuntimeHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let task = self.handle.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = client.execute(request).await?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_bounded(&mut response)
                .await
                .map_err(|f| f.message().to_owned())?;
            Ok::<_, opentelemetry_http::HttpError>(builder.body(body)?)
        });
        task.await?
    }
}
