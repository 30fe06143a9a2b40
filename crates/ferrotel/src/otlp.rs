//! Builds opentelemetry-otlp exporters from a resolved [`OtlpConfig`], so that every setting
//! comes from ferrotel's configuration (one precedence rule) and every connection is owned by
//! the export runtime.

use std::collections::HashMap;
use std::time::Duration;

use ferrotel_config::{Compression, OtlpConfig, Protocol};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use tokio::runtime::Handle;

use crate::error::InitError;
use crate::grpc_spans::GrpcSpanExporter;
use crate::traces::AnySpanExporter;
use crate::transport::{RuntimeHttpClient, TlsFiles};

/// What "no limit" (a timeout of 0) becomes for the exporter, which needs a number.
const NO_LIMIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Which signal an exporter carries; names the variables in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn env_infix(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }
}

/// The OTLP span exporter for `otlp`. Must be called inside the export runtime's context:
/// the gRPC channel spawns its worker there. Both kinds count the `rejected_spans` of
/// partial-success answers (which opentelemetry-otlp only logs) into `counters`.
pub(crate) fn span_exporter(
    otlp: &OtlpConfig,
    handle: &Handle,
    counters: &std::sync::Arc<crate::stats::PipelineCounters>,
) -> Result<AnySpanExporter, InitError> {
    let tls = TlsFiles::read(otlp, Signal::Traces.env_infix())?;
    let built = match otlp.protocol {
        Protocol::Grpc => {
            return Ok(AnySpanExporter::Grpc(Box::new(GrpcSpanExporter::new(
                crate::transport::grpc_channel(otlp, &tls)?,
                metadata(otlp)?,
                otlp.compression == Compression::Gzip,
                otlp.timeout,
                std::sync::Arc::clone(counters),
            ))));
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(http_protocol(otlp)?)
                .with_endpoint(otlp.endpoint.clone())
                .with_timeout(otlp.timeout.unwrap_or(NO_LIMIT))
                .with_headers(headers(otlp))
                .with_http_client(
                    RuntimeHttpClient::new(otlp, &tls, handle.clone())?
                        .counting_rejected_spans(std::sync::Arc::clone(counters)),
                );
            gzip_http(builder, otlp).build()
        }
    };
    built
        .map(|e| AnySpanExporter::Otlp(Box::new(e)))
        .map_err(|e| {
            InitError::setup(format!(
                "OTLP trace exporter for {} ({}): {e}",
                ferrotel_config::redact::redact_url(&otlp.endpoint),
                protocol_name(otlp.protocol)
            ))
        })
}

/// The OTLP log record exporter for `otlp`. Must be called inside the export runtime's
/// context, like [`span_exporter`].
pub(crate) fn log_exporter(
    otlp: &OtlpConfig,
    handle: &Handle,
) -> Result<opentelemetry_otlp::LogExporter, InitError> {
    let tls = TlsFiles::read(otlp, Signal::Logs.env_infix())?;
    let built = match otlp.protocol {
        Protocol::Grpc => {
            let builder = opentelemetry_otlp::LogExporter::builder()
                .with_tonic()
                .with_endpoint(otlp.endpoint.clone())
                .with_timeout(otlp.timeout.unwrap_or(NO_LIMIT))
                .with_metadata(metadata(otlp)?)
                .with_tls_config(tls.tonic_config());
            gzip_tonic(builder, otlp).build()
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let builder = opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_protocol(http_protocol(otlp)?)
                .with_endpoint(otlp.endpoint.clone())
                .with_timeout(otlp.timeout.unwrap_or(NO_LIMIT))
                .with_headers(headers(otlp))
                .with_http_client(RuntimeHttpClient::new(otlp, &tls, handle.clone())?);
            gzip_http(builder, otlp).build()
        }
    };
    built.map_err(|e| {
        InitError::setup(format!(
            "OTLP log exporter for {} ({}): {e}",
            ferrotel_config::redact::redact_url(&otlp.endpoint),
            protocol_name(otlp.protocol)
        ))
    })
}

/// The transport of ferrotel's own OTLP metric exporter (the one that writes exemplars).
pub(crate) fn metrics_transport(
    otlp: &OtlpConfig,
) -> Result<ferrotel_metrics::MetricsTransport, InitError> {
    let tls = TlsFiles::read(otlp, Signal::Metrics.env_infix())?;
    let gzip = otlp.compression == Compression::Gzip;
    Ok(match otlp.protocol {
        Protocol::Grpc => ferrotel_metrics::MetricsTransport::Grpc {
            channel: crate::transport::grpc_channel(otlp, &tls)?,
            metadata: metadata(otlp)?,
            gzip,
            timeout: otlp.timeout,
        },
        Protocol::HttpProtobuf | Protocol::HttpJson => ferrotel_metrics::MetricsTransport::Http {
            client: crate::transport::http_client(otlp, &tls)?,
            url: otlp.endpoint.clone(),
            json: otlp.protocol == Protocol::HttpJson,
            headers: otlp.headers.clone(),
            gzip,
            timeout: otlp.timeout,
        },
    })
}

fn http_protocol(otlp: &OtlpConfig) -> Result<opentelemetry_otlp::Protocol, InitError> {
    match otlp.protocol {
        Protocol::HttpProtobuf => Ok(opentelemetry_otlp::Protocol::HttpBinary),
        Protocol::HttpJson => Ok(opentelemetry_otlp::Protocol::HttpJson),
        Protocol::Grpc => Ok(opentelemetry_otlp::Protocol::Grpc),
    }
}

pub(crate) fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http/protobuf",
        Protocol::HttpJson => "http/json",
    }
}

fn gzip_tonic<B: WithTonicConfig>(builder: B, otlp: &OtlpConfig) -> B {
    match otlp.compression {
        Compression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        Compression::None => builder,
    }
}

fn gzip_http<B: WithHttpConfig>(builder: B, otlp: &OtlpConfig) -> B {
    match otlp.compression {
        Compression::Gzip => builder.with_compression(opentelemetry_otlp::Compression::Gzip),
        Compression::None => builder,
    }
}

fn headers(otlp: &OtlpConfig) -> HashMap<String, String> {
    otlp.headers.iter().cloned().collect()
}

fn metadata(otlp: &OtlpConfig) -> Result<tonic::metadata::MetadataMap, InitError> {
    let mut map = tonic::metadata::MetadataMap::new();
    for (key, value) in &otlp.headers {
        let key = tonic::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|_| {
                InitError::setup(format!(
                    "OTEL_EXPORTER_OTLP_HEADERS: {key:?} is not a valid gRPC metadata key"
                ))
            })?;
        let value = value.parse().map_err(|_| {
            InitError::setup(format!(
                "OTEL_EXPORTER_OTLP_HEADERS: the value of {key:?} is not valid gRPC metadata"
            ))
        })?;
        map.insert(key, value);
    }
    Ok(map)
}
