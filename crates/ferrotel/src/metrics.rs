//! The metric pipeline: a periodic reader per exporter, with the configured interval,
//! temporality and export timeout.

use std::time::Duration;

use ferrotel_config::{
    Config, HistogramAggregation, MetricsExporter, Temporality as TemporalityConfig,
};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use crate::error::InitError;
use crate::runtime::with_deadline;

/// Builds the meter provider, or `None` when no exporter is selected. Must run inside the
/// export runtime's context.
pub(crate) fn meter_provider(
    config: &Config,
    resource: Resource,
    handle: &Handle,
) -> Result<Option<SdkMeterProvider>, InitError> {
    let temporality = temporality(config.metrics.temporality);
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if config.metrics.histogram_aggregation == HistogramAggregation::Base2Exponential {
        builder = builder.with_view(exponential_histograms);
    }
    let mut readers = 0;
    for choice in &config.metrics_exporter {
        let exporter = match choice {
            MetricsExporter::Otlp => AnyMetricExporter::Otlp(Box::new(
                crate::otlp::metric_exporter(&config.metrics_otlp, temporality, handle)?,
            )),
            MetricsExporter::Console => AnyMetricExporter::Console(
                opentelemetry_stdout::MetricExporter::builder()
                    .with_temporality(temporality)
                    .build(),
            ),
            // The /metrics endpoint is served by ferrotel-metrics; nothing to push here.
            MetricsExporter::Prometheus => continue,
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
        readers += 1;
    }
    Ok((readers > 0).then(|| builder.build()))
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
    Otlp(Box<opentelemetry_otlp::MetricExporter>),
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
