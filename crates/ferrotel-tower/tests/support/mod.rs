//! What the ferrotel-tower tests share: one "process" worth of tracing exporting to the
//! in-process receiver, and the propagators `ferrotel::init()` installs by default.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use ferrotel_propagation::{BaggagePropagator, TraceContextPropagator};
use ferrotel_testkit::Receiver;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// A tracer provider for `service`, batching its spans to `receiver` over OTLP/gRPC (a batch
/// processor: a simple one would block tokio workers on export and deadlock).
pub(crate) fn tracer_provider(receiver: &Receiver, service: &'static str) -> SdkTracerProvider {
    tracer_provider_with(receiver, service, None)
}

/// [`tracer_provider`], built with `presampler`'s halves when given (as `ferrotel::init()`
/// builds its provider for the layers to decide first).
pub(crate) fn tracer_provider_with(
    receiver: &Receiver,
    service: &'static str,
    presampler: Option<&ferrotel_tracer::Presampler>,
) -> SdkTracerProvider {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.grpc_endpoint())
        .with_metadata(secret_metadata())
        .build()
        .unwrap();
    let builder = SdkTracerProvider::builder()
        .with_resource(resource(service))
        .with_batch_exporter(exporter);
    match presampler {
        Some(p) => builder
            .with_sampler(p.sampler())
            .with_id_generator(p.id_generator())
            .build(),
        None => builder.build(),
    }
}

/// The resource of one test "process".
pub(crate) fn resource(service: &'static str) -> Resource {
    Resource::builder().with_service_name(service).build()
}

/// W3C trace context and baggage: ferrotel's Level 2 propagators.
pub(crate) fn propagator() -> Arc<dyn TextMapPropagator + Send + Sync> {
    Arc::new(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]))
}

/// The marker secret `.ci/run` scans the test output for, as gRPC metadata.
pub(crate) fn secret_metadata() -> tonic::metadata::MetadataMap {
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(value) = ferrotel_testkit::secret("tower").parse() {
        metadata.insert("x-test-secret", value);
    }
    metadata
}

/// What a plain HTTP test handler answers.
pub(crate) type HttpAnswer =
    Result<http::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible>;

/// Serves `handler` behind `layer` with hyper on a loopback port; the address.
pub(crate) async fn serve_http<F>(
    layer: ferrotel_tower::ServerLayer,
    handler: fn(http::Request<hyper::body::Incoming>) -> F,
) -> std::net::SocketAddr
where
    F: std::future::Future<Output = HttpAnswer> + Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = tower::ServiceBuilder::new()
                .layer(layer.clone())
                .service(tower::service_fn(handler));
            let service = hyper_util::service::TowerToHyperService::new(service);
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
