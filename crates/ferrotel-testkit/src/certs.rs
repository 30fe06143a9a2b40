//! Throw-away certificates for TLS and mTLS tests: a CA, a server certificate and a client
//! certificate signed by it.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA plus a server certificate (for `localhost` and `127.0.0.1`) and a client certificate,
/// both signed by that CA, all PEM-encoded. Generated fresh for each call, never written to
/// disk unless asked ([`TestCerts::write_to`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCerts {
    /// The CA certificate: what clients trust (`OTEL_EXPORTER_OTLP_CERTIFICATE`) and what the
    /// server checks client certificates against.
    pub ca_pem: String,
    /// The server certificate, valid for `localhost` and the IP `127.0.0.1`.
    pub server_cert_pem: String,
    /// The server's private key (PKCS#8).
    pub server_key_pem: String,
    /// The client certificate (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
    pub client_cert_pem: String,
    /// The client's private key (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub client_key_pem: String,
}

/// Where [`TestCerts::write_to`] put each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// `ca.pem`.
    pub ca: PathBuf,
    /// `server.pem`.
    pub server_cert: PathBuf,
    /// `server.key`.
    pub server_key: PathBuf,
    /// `client.pem`.
    pub client_cert: PathBuf,
    /// `client.key`.
    pub client_key: PathBuf,
}

impl TestCerts {
    /// Generates a fresh CA, server and client certificate. Panics only if the key generator
    /// fails, which does not happen on a working system.
    pub fn generate() -> TestCerts {
        TestCerts::try_generate().expect("ferrotel-testkit: generating test certificates")
    }

    /// Like [`TestCerts::generate`], returning the generator's error instead of panicking.
    pub fn try_generate() -> Result<TestCerts, rcgen::Error> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ferrotel-testkit CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);

        let leaf = |name: &str, eku: ExtendedKeyUsagePurpose, sans: Vec<String>| {
            let mut params = CertificateParams::new(sans)?;
            params.distinguished_name.push(DnType::CommonName, name);
            params.use_authority_key_identifier_extension = true;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![eku];
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            Ok::<_, rcgen::Error>((cert.pem(), key.serialize_pem()))
        };
        let (server_cert_pem, server_key_pem) = leaf(
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
        )?;
        let (client_cert_pem, client_key_pem) = leaf(
            "ferrotel-testkit client",
            ExtendedKeyUsagePurpose::ClientAuth,
            vec!["client.ferrotel.test".to_owned()],
        )?;
        Ok(TestCerts {
            ca_pem: ca_cert.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// Writes the five PEM files into `dir` (created if missing) so tests can point
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` and friends at them.
    pub fn write_to(&self, dir: impl AsRef<Path>) -> io::Result<CertPaths> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let write = |name: &str, contents: &str| {
            let path = dir.join(name);
            std::fs::write(&path, contents)?;
            Ok::<_, io::Error>(path)
        };
        Ok(CertPaths {
            ca: write("ca.pem", &self.ca_pem)?,
            server_cert: write("server.pem", &self.server_cert_pem)?,
            server_key: write("server.key", &self.server_key_pem)?,
            client_cert: write("client.pem", &self.client_cert_pem)?,
            client_key: write("client.key", &self.client_key_pem)?,
        })
    }

    /// The server half, for [`ReceiverBuilder::tls`](crate::ReceiverBuilder::tls).
    pub fn server_identity(&self) -> ServerIdentity {
        ServerIdentity {
            cert_pem: self.server_cert_pem.clone(),
            key_pem: self.server_key_pem.clone(),
        }
    }
}

/// A PEM certificate chain and private key the receiver presents to TLS clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// The certificate chain, leaf first.
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

impl From<&TestCerts> for ServerIdentity {
    fn from(certs: &TestCerts) -> Self {
        certs.server_identity()
    }
}
