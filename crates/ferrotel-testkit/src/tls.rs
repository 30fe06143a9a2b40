//! TLS for both servers: tonic's own TLS for gRPC, a tokio-rustls acceptor for HTTP. Both use
//! the `ring` provider explicitly, so they work whatever other rustls providers are compiled in.

use std::io;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::certs::ServerIdentity;

/// The TLS configuration of both servers.
pub(crate) struct TlsSetup {
    pub(crate) grpc: ServerTlsConfig,
    pub(crate) http: TlsAcceptor,
}

fn invalid(what: &str, err: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("ferrotel-testkit: TLS {what}: {err}"),
    )
}

/// Checks the PEM material and builds both servers' TLS configurations.
pub(crate) fn setup(
    identity: &ServerIdentity,
    client_ca_pem: Option<&str>,
) -> io::Result<TlsSetup> {
    // tonic's server builds its rustls config with the process-default provider; make sure
    // there is one even when several providers are compiled in (which leaves none chosen).
    if CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let chain = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("server certificate", e))?;
    if chain.is_empty() {
        return Err(invalid("server certificate", "no CERTIFICATE block in PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| invalid("server key", e))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", e))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca_pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                roots
                    .add(cert.map_err(|e| invalid("client CA", e))?)
                    .map_err(|e| invalid("client CA", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid("client CA", e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid("server identity", e))?;
    // The HTTP server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let mut grpc =
        ServerTlsConfig::new().identity(Identity::from_pem(&identity.cert_pem, &identity.key_pem));
    if let Some(ca_pem) = client_ca_pem {
        grpc = grpc.client_ca_root(Certificate::from_pem(ca_pem));
    }
    Ok(TlsSetup {
        grpc,
        http: TlsAcceptor::from(Arc::new(config)),
    })
}
