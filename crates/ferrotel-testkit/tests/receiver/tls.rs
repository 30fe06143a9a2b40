//! TLS and mTLS with throw-away certificates, on both transports.

use std::sync::Arc;

use ferrotel_testkit::{Receiver, TestCerts};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::support::{post_tls, spans_request, tls_client_config, TIMEOUT};

async fn grpc_client(
    receiver: &Receiver,
    certs: &TestCerts,
    with_client_cert: bool,
) -> Result<TraceServiceClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&certs.ca_pem))
        .domain_name("localhost");
    if with_client_cert {
        tls = tls.identity(Identity::from_pem(
            &certs.client_cert_pem,
            &certs.client_key_pem,
        ));
    }
    let channel = Channel::from_shared(receiver.grpc_endpoint())
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(TraceServiceClient::new(channel))
}

#[tokio::test]
async fn tls_round_trip_on_both_transports() {
    let certs = TestCerts::generate();
    let receiver = Receiver::builder().tls(&certs).start().unwrap();
    assert!(receiver.is_tls());
    assert!(receiver.grpc_endpoint().starts_with("https://127.0.0.1:"));
    assert!(receiver.http_endpoint().starts_with("https://127.0.0.1:"));

    let mut client = grpc_client(&receiver, &certs, false).await.unwrap();
    client.export(spans_request(&["over-grpcs"])).await.unwrap();
    let answer = post_tls(
        receiver.http_addr(),
        tls_client_config(&certs.ca_pem, None),
        "/v1/traces",
        spans_request(&["over-https"]).encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200);

    let spans = receiver.wait_for_spans_async(2, TIMEOUT).await.unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["over-grpcs", "over-https"]);
}

#[tokio::test]
async fn mtls_accepts_only_clients_with_a_certificate_from_the_ca() {
    let certs = TestCerts::generate();
    let receiver = Receiver::builder()
        .tls(&certs)
        .require_client_cert(certs.ca_pem.clone())
        .start()
        .unwrap();

    let mut client = grpc_client(&receiver, &certs, true).await.unwrap();
    client.export(spans_request(&["with-cert"])).await.unwrap();
    let answer = post_tls(
        receiver.http_addr(),
        tls_client_config(
            &certs.ca_pem,
            Some((&certs.client_cert_pem, &certs.client_key_pem)),
        ),
        "/v1/traces",
        spans_request(&["with-cert-http"]).encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200);

    // Without a client certificate: the gRPC call fails…
    let refused = match grpc_client(&receiver, &certs, false).await {
        Err(_) => true,
        Ok(mut client) => client.export(spans_request(&["no-cert"])).await.is_err(),
    };
    assert!(refused, "gRPC without a client certificate must fail");
    // …and so does HTTP: the server ends the handshake before any answer.
    let tcp = tokio::net::TcpStream::connect(receiver.http_addr())
        .await
        .unwrap();
    let connector =
        tokio_rustls::TlsConnector::from(Arc::new(tls_client_config(&certs.ca_pem, None)));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    if let Ok(mut tls) = connector.connect(name, tcp).await {
        let request = "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
        let _ = tls.write_all(request.as_bytes()).await;
        let mut buf = Vec::new();
        let read = tls.read_to_end(&mut buf).await;
        assert!(read.is_err() || buf.is_empty(), "got an answer: {buf:?}");
    }

    assert_eq!(receiver.spans().len(), 2);
    assert_eq!(receiver.request_count(), 2);
}

#[test]
fn test_certs_write_to_a_directory() {
    let certs = TestCerts::generate();
    let dir = std::env::temp_dir().join(format!("ferrotel-testkit-certs-{}", std::process::id()));
    let paths = certs.write_to(&dir).unwrap();
    assert_eq!(std::fs::read_to_string(&paths.ca).unwrap(), certs.ca_pem);
    assert_eq!(
        std::fs::read_to_string(&paths.client_key).unwrap(),
        certs.client_key_pem
    );
    assert!(paths.server_cert.ends_with("server.pem"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_tls_material_is_an_error_not_a_panic() {
    let err = Receiver::builder()
        .tls(ferrotel_testkit::ServerIdentity {
            cert_pem: "not a certificate".to_owned(),
            key_pem: String::new(),
        })
        .start()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("server certificate"), "{err}");
    let err = Receiver::builder()
        .require_client_cert("ca")
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("needs tls"), "{err}");
}
