//! The connections OTLP travels over: TLS material from the `OTEL_EXPORTER_OTLP_*CERTIFICATE`
//! and `*CLIENT_KEY` files, a gRPC TLS config, and an HTTP client bound to the export runtime.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferrotel_config::OtlpConfig;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use rustls::pki_types::pem::PemObject;
use tokio::runtime::Handle;

use crate::error::InitError;

/// PEM material read from the files the configuration names.
#[derive(Default)]
pub(crate) struct TlsFiles {
    /// The CA that must have signed the collector's certificate (`…_CERTIFICATE`).
    ca: Option<Vec<u8>>,
    /// Client certificate and key for mTLS (`…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`).
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    /// Reads the files an [`OtlpConfig`] names. `signal` is `TRACES` or `METRICS`, used only to
    /// name the variables in errors.
    pub(crate) fn read(otlp: &OtlpConfig, signal: &str) -> Result<Self, InitError> {
        let ca = otlp
            .certificate
            .as_deref()
            .map(|path| {
                let variable = format!("OTEL_EXPORTER_OTLP_[{signal}_]CERTIFICATE");
                let pem = read_pem(path, &variable)?;
                // Checked here for both protocols: tonic would take any bytes and fail (or
                // not) only at the first connection, naming neither the variable nor the file.
                parse_certs(&pem)
                    .map_err(|e| InitError::tls(format!("{variable}={}: {e}", path.display())))?;
                Ok::<_, InitError>(pem)
            })
            .transpose()?;
        let identity = match (&otlp.client_certificate, &otlp.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let cert_var = format!("OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_CERTIFICATE");
                let key_var = format!("OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_KEY");
                let cert_pem = read_pem(cert, &cert_var)?;
                parse_certs(&cert_pem)
                    .map_err(|e| InitError::tls(format!("{cert_var}={}: {e}", cert.display())))?;
                let key_pem = read_pem(key, &key_var)?;
                // The key's content is never quoted: only the variable and the path.
                rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                    InitError::tls(format!(
                        "{key_var}={}: not a PEM private key: {e}",
                        key.display()
                    ))
                })?;
                Some((cert_pem, key_pem))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(InitError::tls(format!(
                    "mTLS needs both OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_CERTIFICATE and \
                     OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_KEY; only one is set"
                )))
            }
        };
        Ok(Self { ca, identity })
    }

    /// The tonic TLS config: the configured CA alone when one is given (the collector must be
    /// signed by it), otherwise the system's roots.
    pub(crate) fn tonic_config(&self) -> tonic::transport::ClientTlsConfig {
        let mut tls = tonic::transport::ClientTlsConfig::new();
        tls = match &self.ca {
            Some(ca) => tls.ca_certificate(tonic::transport::Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
        }
        tls
    }

    /// A rustls client config on the ring provider, without touching the process-wide default
    /// provider (the application may have chosen another).
    fn rustls_config(&self) -> Result<rustls::ClientConfig, InitError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in parse_certs(ca).map_err(InitError::tls)? {
                    roots
                        .add(cert)
                        .map_err(|e| InitError::tls(format!("CA certificate rejected: {e}")))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    // A malformed system certificate must not stop export to a good one.
                    let _ = roots.add(cert);
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| InitError::tls(format!("TLS protocol setup failed: {e}")))?
            .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = parse_certs(cert).map_err(InitError::tls)?;
                let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                    InitError::tls(format!("client key is not a PEM private key: {e}"))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| InitError::tls(format!("client certificate rejected: {e}")))
            }
        }
    }
}

fn read_pem(path: &Path, variable: &str) -> Result<Vec<u8>, InitError> {
    std::fs::read(path).map_err(|e| {
        InitError::tls(format!(
            "{variable}={} cannot be read: {e}",
            PathBuf::from(path).display()
        ))
    })
}

fn parse_certs(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the file is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(
            "the file holds no PEM certificate (allowed: a PEM file with one or more \
                    CERTIFICATE blocks)"
                .to_string(),
        );
    }
    Ok(certs)
}

/// An OTLP/HTTP client whose requests always run on the export runtime, so the exporter can be
/// driven from any thread, runtime or none.
pub(crate) struct RuntimeHttpClient {
    client: reqwest::Client,
    handle: Handle,
    /// Where the `rejected_spans` of OTLP partial-success answers are counted (traces only).
    rejected_spans: Option<Arc<crate::stats::PipelineCounters>>,
}

impl fmt::Debug for RuntimeHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHttpClient").finish_non_exhaustive()
    }
}

impl RuntimeHttpClient {
    /// Builds the client with the TLS material and the export timeout of one signal.
    pub(crate) fn new(
        otlp: &OtlpConfig,
        tls: &TlsFiles,
        handle: Handle,
    ) -> Result<Self, InitError> {
        Ok(Self {
            client: http_client(otlp, tls)?,
            handle,
            rejected_spans: None,
        })
    }

    /// Counts the `rejected_spans` of partial-success answers (which opentelemetry-otlp only
    /// logs) into `counters`.
    pub(crate) fn counting_rejected_spans(
        mut self,
        counters: Arc<crate::stats::PipelineCounters>,
    ) -> Self {
        self.rejected_spans = Some(counters);
        self
    }
}

/// `partial_success.rejected_spans` of an OTLP/HTTP trace export answer, protobuf or JSON.
fn rejected_spans(response: &Response<Bytes>) -> i64 {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message as _;
    let json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let decoded: Option<ExportTraceServiceResponse> = if json {
        serde_json::from_slice(response.body()).ok()
    } else {
        ExportTraceServiceResponse::decode(response.body().clone()).ok()
    };
    decoded
        .and_then(|r| r.partial_success)
        .map_or(0, |p| p.rejected_spans.max(0))
}

/// The OTLP/HTTP client of one signal: TLS from its certificate variables, its timeout.
pub(crate) fn http_client(otlp: &OtlpConfig, tls: &TlsFiles) -> Result<reqwest::Client, InitError> {
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls.rustls_config()?)
        .user_agent(crate::USER_AGENT);
    if let Some(timeout) = otlp.timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| InitError::tls(format!("HTTP client setup failed: {e}")))
}

/// The OTLP/gRPC channel of one signal, connecting lazily. Must be called inside the export
/// runtime's context: the channel's worker is spawned there.
pub(crate) fn grpc_channel(
    otlp: &OtlpConfig,
    tls: &TlsFiles,
) -> Result<tonic::transport::Channel, InitError> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(otlp.endpoint.clone())
        .map_err(|e| {
            InitError::setup(format!(
                "OTLP endpoint {}: {e}",
                ferrotel_config::redact::redact_url(&otlp.endpoint)
            ))
        })?
        .user_agent(crate::USER_AGENT)
        .map_err(|e| InitError::setup(format!("user agent: {e}")))?;
    if otlp.endpoint.starts_with("https://") {
        endpoint = endpoint
            .tls_config(tls.tonic_config())
            .map_err(|e| InitError::tls(format!("gRPC TLS setup failed: {e}")))?;
    }
    if let Some(timeout) = otlp.timeout {
        endpoint = endpoint.timeout(timeout);
    }
    Ok(endpoint.connect_lazy())
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let task = self.handle.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let response = client.execute(request).await?;
            let mut builder = Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?;
            Ok::<_, HttpError>(builder.body(body)?)
        });
        let response = task.await??;
        if let Some(counters) = &self.rejected_spans {
            if response.status().is_success() {
                let rejected = rejected_spans(&response);
                if rejected > 0 {
                    counters
                        .rejected
                        .fetch_add(rejected as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        Ok(response)
    }
}
