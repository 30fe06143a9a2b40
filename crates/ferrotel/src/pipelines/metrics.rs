//! The metric pipeline: exemplar-carrying OTLP export on a periodic reader, the console
//! exporter, and the `/metrics` endpoint, all over one meter provider and one exemplar store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ferrotel_config::{
    CardinalityLimits, Config, HistogramAggregation, InstrumentInfo, InstrumentType,
    MetricsExporter, Temporality as TemporalityConfig, View, ViewAggregation,
    DEFAULT_CARDINALITY_LIMIT,
};
use ferrotel_metrics::Exemplars;
use ferrotel_otlp::{with_deadline, LossReporter, OtlpMetricExporter};
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

/// What the metric pipeline consists of, for the guard.
pub(crate) struct MetricsPipeline {
    pub(crate) provider: Option<SdkMeterProvider>,
    pub(crate) exemplars: Exemplars,
    pub(crate) exporters: Vec<OtlpMetricExporter>,
    pub(crate) endpoint: Option<MetricsEndpoint>,
    /// Problems that switched a part off without stopping the service (lenient mode).
    pub(crate) notes: Vec<String>,
    /// Each OTLP exporter with its `otel.component.type`, for ferrotel's own metrics.
    pub(crate) components: Vec<(OtlpMetricExporter, &'static str)>,
}

/// Builds the meter provider (`None` when no exporter is selected), its exemplar store and
/// the `/metrics` endpoint. Must run inside the export runtime's context.
pub(crate) fn pipeline(
    config: &Config,
    resource: Resource,
    handle: &Handle,
    reporter: Option<Arc<LossReporter>>,
) -> Result<MetricsPipeline, InitError> {
    let exemplars = Exemplars::with_views(
        config.metrics.exemplar_filter,
        config.views.clone(),
        config.cardinality_limits,
    );
    if config.metrics_exporter.is_empty() {
        return Ok(MetricsPipeline {
            provider: None,
            exemplars,
            exporters: Vec::new(),
            endpoint: None,
            notes: Vec::new(),
            components: Vec::new(),
        });
    }
    let mut notes = Vec::new();
    let mut components = Vec::new();
    let temporality = temporality(config.metrics.temporality);
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    let exponential =
        config.metrics.histogram_aggregation == HistogramAggregation::Base2Exponential;
    let views: Arc<[View]> = config.views.clone().into();
    for index in 0..views.len() {
        let views = Arc::clone(&views);
        let limits = config.cardinality_limits;
        builder = builder.with_view(move |instrument: &Instrument| {
            let view = views.get(index)?;
            let kind = instrument_type(instrument.kind());
            view.matches(&info(instrument, kind))
                .then(|| stream(view, kind, limits, exponential))
                .flatten()
        });
    }
    // Instruments no view selects: the default histogram aggregation and the limits.
    let limits = config.cardinality_limits;
    builder = builder.with_view(move |instrument: &Instrument| {
        let kind = instrument_type(instrument.kind());
        if views
            .iter()
            .any(|view| view.matches(&info(instrument, kind)))
        {
            return None;
        }
        let histogram = exponential && kind == InstrumentType::Histogram;
        let limit = limits.of(kind);
        if !histogram && limit == DEFAULT_CARDINALITY_LIMIT {
            return None;
        }
        let mut stream = Stream::builder().with_cardinality_limit(limit);
        if histogram {
            stream = stream.with_aggregation(default_exponential());
        }
        stream.build().ok()
    });
    let mut exporters = Vec::new();
    let mut scrape_reader = None;
    for choice in &config.metrics_exporter {
        let exporter = match choice {
            MetricsExporter::Otlp => {
                let otlp = match OtlpMetricExporter::new(
                    &config.metrics_otlp,
                    exemplars.clone(),
                    temporality,
                    handle,
                ) {
                    Ok(otlp) => otlp,
                    // Not the service's fault (an unreadable TLS file): outside strict mode
                    // this exporter is off and the problem reported.
                    Err(e) if !config.strict => {
                        notes.push(format!("OTLP metric export is off for this run: {e}"));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                exporters.push(otlp.clone());
                let kind = if config.metrics_otlp.protocol == ferrotel_config::Protocol::Grpc {
                    "otlp_grpc_metric_exporter"
                } else {
                    "otlp_http_metric_exporter"
                };
                components.push((otlp.clone(), kind));
                AnyMetricExporter::Otlp(otlp)
            }
            MetricsExporter::Console => AnyMetricExporter::Console(
                opentelemetry_stdout::MetricExporter::builder()
                    .with_temporality(temporality)
                    .build(),
                exemplars.clone(),
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
            reporter: reporter.clone(),
            told_unsupported: AtomicBool::new(false),
        };
        let reader = PeriodicReader::builder(exporter)
            .with_interval(config.metrics.export_interval)
            .build();
        builder = builder.with_reader(reader);
    }
    let provider = builder.build();
    // ferrotel-ops' bound histograms hand the aggregations they do not do to this provider.
    exemplars.attach_meter_provider(provider.clone(), exponential);
    let strict = config.strict;
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
                max_requests_per_second: config.metrics.rate_limit,
                burst: config.metrics.burst,
                max_connections: config.metrics.max_connections,
                max_connections_per_peer: config.metrics.max_connections_per_peer,
                ..EndpointConfig::default()
            };
            let addr = config.addr;
            match MetricsEndpoint::start(config, source, handle) {
                Ok(endpoint) => Some(endpoint),
                Err(e) => {
                    let message = format!(
                        "the /metrics endpoint cannot listen on {addr} (FERROTEL_METRICS_ADDR): {e}"
                    );
                    // A busy port is not the service's fault: outside strict mode the endpoint
                    // is off and the problem reported.
                    if strict {
                        return Err(InitError::setup(message));
                    }
                    notes.push(format!("{message}; /metrics is off for this run"));
                    None
                }
            }
        }
    };
    Ok(MetricsPipeline {
        provider: Some(provider),
        exemplars,
        exporters,
        endpoint,
        notes,
        components,
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
/// histograms become exponential, with the specification's defaults (160 buckets, scale 20).
fn default_exponential() -> Aggregation {
    Aggregation::Base2ExponentialHistogram {
        max_size: 160,
        max_scale: 20,
        record_min_max: true,
    }
}

fn instrument_type(kind: InstrumentKind) -> InstrumentType {
    match kind {
        InstrumentKind::Counter => InstrumentType::Counter,
        InstrumentKind::UpDownCounter => InstrumentType::UpDownCounter,
        InstrumentKind::Histogram => InstrumentType::Histogram,
        InstrumentKind::ObservableCounter => InstrumentType::ObservableCounter,
        InstrumentKind::ObservableUpDownCounter => InstrumentType::ObservableUpDownCounter,
        InstrumentKind::Gauge => InstrumentType::Gauge,
        InstrumentKind::ObservableGauge => InstrumentType::ObservableGauge,
    }
}

fn info(instrument: &Instrument, kind: InstrumentType) -> InstrumentInfo<'_> {
    let scope = instrument.scope();
    InstrumentInfo {
        name: instrument.name(),
        kind,
        unit: instrument.unit(),
        meter_name: scope.name(),
        meter_version: scope.version(),
        meter_schema_url: scope.schema_url(),
    }
}

/// The SDK stream of a view that selected an instrument of `kind`. The configuration checked
/// the view, so the SDK's own checks pass; a stream it still refused would leave the
/// instrument to its other views or its default.
fn stream(
    view: &View,
    kind: InstrumentType,
    limits: CardinalityLimits,
    exponential: bool,
) -> Option<Stream> {
    let mut stream = Stream::builder().with_cardinality_limit(
        view.stream
            .aggregation_cardinality_limit
            .unwrap_or_else(|| limits.of(kind)),
    );
    if let Some(name) = &view.stream.name {
        stream = stream.with_name(name.clone());
    }
    if let Some(description) = &view.stream.description {
        stream = stream.with_description(description.clone());
    }
    let aggregation = match &view.stream.aggregation {
        // Left unset, the SDK keeps the instrument's advisory boundaries.
        None | Some(ViewAggregation::Default) => {
            (exponential && kind == InstrumentType::Histogram).then(default_exponential)
        }
        Some(ViewAggregation::Drop) => Some(Aggregation::Drop),
        Some(ViewAggregation::Sum) => Some(Aggregation::Sum),
        Some(ViewAggregation::LastValue) => Some(Aggregation::LastValue),
        Some(ViewAggregation::ExplicitBucketHistogram {
            boundaries,
            record_min_max,
        }) => Some(Aggregation::ExplicitBucketHistogram {
            boundaries: boundaries.clone(),
            record_min_max: *record_min_max,
        }),
        Some(ViewAggregation::Base2ExponentialBucketHistogram {
            max_scale,
            max_size,
            record_min_max,
        }) => Some(Aggregation::Base2ExponentialHistogram {
            max_size: *max_size,
            max_scale: *max_scale,
            record_min_max: *record_min_max,
        }),
    };
    if let Some(aggregation) = aggregation {
        stream = stream.with_aggregation(aggregation);
    }
    if let Some(keys) = &view.stream.attribute_keys {
        // The SDK keeps an allow-list only: with `included` the excluded keys come off it;
        // exclusion alone is applied by ferrotel's meters before the SDK sees the attributes.
        if let Some(included) = &keys.included {
            stream = stream.with_allowed_attribute_keys(
                included
                    .iter()
                    .filter(|key| !keys.excluded.contains(key))
                    .map(|key| opentelemetry::Key::new(key.clone())),
            );
        }
    }
    stream.build().ok()
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
    /// The SDK's stdout exporter, and the store whose bound histograms (which the SDK does not
    /// hold) are printed after it.
    Console(opentelemetry_stdout::MetricExporter, Exemplars),
}

/// The bound histograms of `store` (ferrotel-ops' latencies and sizes) as one OTLP/JSON line,
/// printed after the SDK's console output, which cannot show them; `None` when there are none.
fn bound_histograms_line(
    store: &Exemplars,
    metrics: &ResourceMetrics,
    delta: bool,
) -> Option<String> {
    let mut request = ExportMetricsServiceRequest::from(metrics);
    for resource in &mut request.resource_metrics {
        resource.scope_metrics.clear();
    }
    store.inject(&mut request, delta);
    let any = request
        .resource_metrics
        .iter()
        .any(|r| r.scope_metrics.iter().any(|s| !s.metrics.is_empty()));
    let json = serde_json::to_string(&request).ok().filter(|_| any)?;
    Some(format!("Bound histograms (ferrotel, OTLP/JSON): {json}"))
}

/// Bounds each export by `OTEL_METRIC_EXPORT_TIMEOUT`, which the SDK's periodic reader leaves
/// to the exporter. The deadline's timer runs on the export runtime, so this works on the
/// reader's plain thread.
#[derive(Debug)]
struct Bounded {
    inner: AnyMetricExporter,
    handle: Handle,
    timeout: Option<Duration>,
    reporter: Option<Arc<LossReporter>>,
    /// Whether an endpoint that does not serve metrics was reported.
    told_unsupported: AtomicBool,
}

impl PushMetricExporter for Bounded {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let export = async {
            match &self.inner {
                AnyMetricExporter::Otlp(e) => e.export(metrics).await,
                AnyMetricExporter::Console(e, store) => {
                    let result = e.export(metrics).await;
                    let delta = e.temporality() == Temporality::Delta;
                    if let Some(line) = bound_histograms_line(store, metrics, delta) {
                        println!("{line}");
                    }
                    result
                }
            }
        };
        let result = match with_deadline(&self.handle, self.timeout, export).await {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(self.timeout.unwrap_or_default())),
        };
        if let (Err(e), Some(reporter)) = (&result, &self.reporter) {
            let unsupported = match &self.inner {
                AnyMetricExporter::Otlp(otlp) => otlp.stats().unsupported,
                AnyMetricExporter::Console(..) => None,
            };
            match unsupported {
                // Told once: the endpoint will not start taking metrics by itself.
                Some(message) => {
                    if !self.told_unsupported.swap(true, Ordering::Relaxed) {
                        reporter.warn_now(&message);
                    }
                }
                None => {
                    // The OTLP exporter's errors are already scrubbed of its secrets.
                    let reason = match (e, &self.inner) {
                        (OTelSdkError::Timeout(limit), AnyMetricExporter::Otlp(otlp)) => format!(
                            "export timed out after {limit:?} (OTEL_METRIC_EXPORT_TIMEOUT); {}",
                            otlp.stats().last_error.unwrap_or_default()
                        ),
                        _ => e.to_string(),
                    };
                    reporter.loss("metrics", &reason);
                }
            }
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.force_flush(),
            AnyMetricExporter::Console(e, _) => e.force_flush(),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.shutdown_with_timeout(timeout),
            AnyMetricExporter::Console(e, _) => e.shutdown_with_timeout(timeout),
        }
    }

    fn temporality(&self) -> Temporality {
        match &self.inner {
            AnyMetricExporter::Otlp(e) => e.temporality(),
            AnyMetricExporter::Console(e, _) => e.temporality(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use opentelemetry::{Context, InstrumentationScope, KeyValue};
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    #[test]
    fn the_console_line_shows_bound_histograms_and_nothing_without_them() {
        let reader = SharedReader(Arc::new(ManualReader::builder().build()));
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .build();
        let store = Exemplars::default();
        let mut metrics = ResourceMetrics::default();
        reader.collect(&mut metrics).unwrap();
        assert_eq!(bound_histograms_line(&store, &metrics, false), None);

        let scope = InstrumentationScope::builder("ferrotel-ops").build();
        store
            .bound_histogram(&scope, "nfs.server.request.duration")
            .with_unit("s")
            .build()
            .series(&[KeyValue::new("onc_rpc.procedure.name", "READ")])
            .record(0.25, &Context::new());
        let line = bound_histograms_line(&store, &metrics, false).unwrap();
        assert!(
            line.starts_with("Bound histograms (ferrotel, OTLP/JSON): {"),
            "{line}"
        );
        assert!(line.contains("nfs.server.request.duration"), "{line}");
        assert!(line.contains("READ"), "{line}");
        drop(provider);
    }
}
