//! The metric pipeline: exemplar-carrying OTLP export on a periodic reader, the console
//! exporter, and the `/metrics` endpoint, all over one meter provider and one exemplar store.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrotel_config::{
    Config, HistogramAggregation, MetricsExporter, Temporality as TemporalityConfig,
};
use ferrotel_metrics::{Exemplars, OtlpMetricExporter};
use ferrotel_prometheus::{EndpointConfig, MetricsEndpoint, MetricsSource};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, ManualReader, PeriodicReader, Pipeline,
    SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::InitError;
use crate::runtime::with_deadline;

/// What the metric pipeline consists of, for the guard.
pub(crate) struct MetricsPipeline {
    pub(crate) provider: Option<SdkMeterProvider>,
    pub(crate) exemplars: Exemplars,
    pub(crate) exporters: Vec<OtlpMetricExporter>,
    pub(crate) endpoint: Option<MetricsEndpoint>,
}

/// Builds the meter provider (`None` when no exporter is selected), its exemplar store and
/// the `/metrics` endpoint. Must run inside the export runtime's context.
pub(crate) fn pipeline(
    config: &Config,
    resource: Resource,
    handle: &Handle,
) -> Result<MetricsPipeline, InitError> {
    let exemplars = Exemplars::new(config.metrics.exemplar_filter);
    if config.metrics_exporter.is_empty() {
        return Ok(MetricsPipeline {
            provider: None,
            exemplars,
            exporters: Vec::new(),
            endpoint: None,
        });
    }
    let temporality = temporality(config.metrics.temporality);
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if config.metrics.histogram_aggregation == HistogramAggregation::Base2Exponential {
        builder = builder.with_view(exponential_histograms);
    }
    let mut exporters = Vec::new();
    let mut scrape_reader = None;
    for choice in &config.metrics_exporter {
        let exporter = match choice {
            MetricsExporter::Otlp => {
                let otlp = OtlpMetricExporter::new(
                    crate::otlp::metrics_transport(&config.metrics_otlp)?,
                    exemplars.clone(),
                    temporality,
                    handle.clone(),
                );
                exporters.push(otlp.clone());
                AnyMetricExporter::Otlp(otlp)
            }
            MetricsExporter::Console => AnyMetricExporter::Console(
                opentelemetry_stdout::MetricExporter::builder()
                    .with_temporality(temporality)
                    .build(),
            ),
            MetricsExporter::Prometheus => {
                // Prometheus scrapes cumulative series; the reader is collected per scrape.
                let reader = SharedReader(Arc::new(ManualReader::builder().build()));
                builder = builder.with_reader(reader.clone());
                scrape_reader = Some(reader);
                continue;
            }
        };
        let exporter = Bounded {
            inner: exporter,
            handle: handle.clone(),
            timeout: config.metrics.export_timeout,
        };
        let reader = PeriodicReader::builder(exporter)
            .with_interval(config.metrics.export_interval)
            .build();
        builder = builder.with_reader(reader);
    }
    let provider = builder.build();
    let endpoint = match scrape_reader {
        None => None,
        Some(reader) => {
            let store = exemplars.clone();
            let source: MetricsSource = Arc::new(move || {
                let mut collected = ResourceMetrics::default();
                // A failed collection serves what was collected (possibly nothing).
                let _ = reader.0.collect(&mut collected);
                let mut request = ExportMetricsServiceRequest::from(&collected);
                store.inject(&mut request, false);
                request
            });
            let config = EndpointConfig {
                addr: config.metrics.addr,
                ..EndpointConfig::default()
            };
            let addr = config.addr;
            Some(MetricsEndpoint::start(config, source, handle).map_err(|e| {
                InitError::setup(format!(
                    "the /metrics endpoint cannot listen on {addr} (FERROTEL_METRICS_ADDR): {e}"
                ))
            })?)
        }
    };
    Ok(MetricsPipeline {
        provider: Some(provider),
        exemplars,
        exporters,
        endpoint,
    })
}

/// A `ManualReader` the meter provider and the `/metrics` endpoint both hold.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram`:
/// every histogram becomes exponential, with the specification's defaults (160 buckets,
/// scale 20).
fn exponential_histograms(instrument: &Instrument) -> Option<Stream> {
    if instrument.kind() != InstrumentKind::Histogram {
        return None;
    }
    Stream::builder()
        .with_aggregation(Aggregation::Base2ExponentialHistogram {
            max_size: 160,
            max_scale: 20,
            record_min_max: true,
        })
        .build()
        .ok()
}

fn temporality(choice: TemporalityConfig) -> Temporality {
    match choice {
        TemporalityConfig::Cumulative => Temporality::Cumulative,
        TemporalityConfig::Delta => Temporality::Delta,
        TemporalityConfig::LowMemory => Temporality::LowMemory,
    }
}

/// The exporters ferrotel can put behind a periodic reader.
#[derive(Debug)]
enum AnyMetricExporter {
    Otlp(OtlpMetricExporter),
    Console(opentelemetry_stdout::MetricExporter),
}

/// Bounds each export by `OTEL_METRIC_EXPORT_TIMEOUT`, which the SDK's periodic reader leaves
/// to the exporter. The deadline's timer runs on the export runtime, so this works on the
/// reader's plain thread.
#[derive(Debug)]
struct Bounded {
    inner: AnyMetricExporter,
    handle: Handle,
    timeout: Option<Duration>,
}

impl PushMetricExporter for Bounded {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let export = async {
            match &self.inner {
                AnyMetricExporter::Otlp(e) => e.export(metrics).await,
                AnyMetricExporter::Console(e) => e.export(metrics).await,
            }
        };
        match with_deadline(&self.handle, self.timeout, export).await {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(self.timeout.unwrap_or_default())),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.force_flush(),
            AnyMetricExporter::Console(e) => e.force_flush(),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.shutdown_with_timeout(timeout),
            AnyMetricExporter::Console(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn temporality(&self) -> Temporality {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.temporality(),
            AnyMetricExporter::Console(e) => e.temporality(),
        }
    }
}
