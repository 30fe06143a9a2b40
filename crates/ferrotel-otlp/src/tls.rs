//! TLS material from the `OTEL_EXPORTER_OTLP_*CERTIFICATE`, `*CLIENT_CERTIFICATE` and
//! `*CLIENT_KEY` files, checked once and turned into the gRPC or the HTTP client's TLS config.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrotel_config::OtlpConfig;
use rustls::pki_types::pem::PemObject;

use crate::error::SetupError;

/// PEM material read from the files the configuration names.
#[derive(Default)]
pub(crate) struct TlsFiles {
    /// The CA that must have signed the collector's certificate (`…_CERTIFICATE`).
    ca: Option<Vec<u8>>,
    /// Client certificate and key for mTLS (`…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`).
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    /// Reads the files an [`OtlpConfig`] names. `signal` is `TRACES`, `METRICS` or `LOGS`, used
    /// only to name the variables in errors.
    pub(crate) fn read(otlp: &OtlpConfig, signal: &str) -> Result<Self, SetupError> {
        let ca = otlp
            .certificate
            .as_deref()
            .map(|path| {
                let variable = format!("OTEL_EXPORTER_OTLP_[{signal}_]CERTIFICATE");
                let pem = read_pem(path, &variable)?;
                // Checked here for both protocols: tonic would take any bytes and fail (or
                // not) only at the first connection, naming neither the variable nor the file.
                parse_certs(&pem)
                    .map_err(|e| SetupError::tls(format!("{variable}={}: {e}", path.display())))?;
                Ok::<_, SetupError>(pem)
            })
            .transpose()?;
        let identity = match (&otlp.client_certificate, &otlp.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let cert_var = format!("OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_CERTIFICATE");
                let key_var = format!("OTEL_EXPORTER_OTLP_[{signal}_]CLIENT_KEY");
                let cert_pem = read_pem(cert, &cert_var)?;
                parse_certs(&cert_pem)
                    .map_err(|e| SetupError::tls(format!("{cert_var}={}: {e}", cert.display())))?;
                let key_pem = read_pem(key, &key_var)?;
                // The key's content is never quoted: only the variable and the path.
                rustls::pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                    SetupError::tls(format!(
                        "{key_var}={}: not a PEM private key: {e}",
                        key.display()
                    ))
                })?;
                Some((cert_pem, key_pem))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(SetupError::tls(format!(
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
    pub(crate) fn rustls_config(&self) -> Result<rustls::ClientConfig, SetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in parse_certs(ca).map_err(SetupError::tls)? {
                    roots
                        .add(cert)
                        .map_err(|e| SetupError::tls(format!("CA certificate rejected: {e}")))?;
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
            .map_err(|e| SetupError::tls(format!("TLS protocol setup failed: {e}")))?
            .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = parse_certs(cert).map_err(SetupError::tls)?;
                let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key).map_err(|e| {
                    SetupError::tls(format!("client key is not a PEM private key: {e}"))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| SetupError::tls(format!("client certificate rejected: {e}")))
            }
        }
    }
}

/// The most of a PEM file read: a CA bundle is a few hundred kilobytes.
const MAX_PEM_BYTES: u64 = 4 << 20;

fn read_pem(path: &Path, variable: &str) -> Result<Vec<u8>, SetupError> {
    use std::io::Read as _;
    // The path is foreign text: printed escaped and bounded.
    let shown = PathBuf::from(path).display().to_string();
    let fail = |why: String| {
        SetupError::tls(format!(
            "{variable}={} cannot be read: {why}",
            ferrotel_config::escape::printable(&shown)
        ))
    };
    // Only a regular file: a FIFO would block start-up, a device might never end.
    let metadata = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !metadata.is_file() {
        return Err(fail("not a regular file".to_owned()));
    }
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PEM_BYTES + 1).read_to_end(&mut pem))
        .map_err(|e| fail(e.to_string()))?;
    if pem.len() as u64 > MAX_PEM_BYTES {
        return Err(fail(format!("larger than {} MiB", MAX_PEM_BYTES >> 20)));
    }
    Ok(pem)
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
