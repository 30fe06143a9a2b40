//! Exporting one item of any signal through the exporter and accounting a service's pipeline
//! uses, for the tests of this crate.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel_config::{Config, Env};
use ferrotel_metrics::{ExemplarFilter, Exemplars};
use ferrotel_otlp::{
    BatchSignal, ExportRuntime, OnExportRuntime, OtlpLogExporter, OtlpMetricExporter,
    OtlpSpanExporter, PipelineCounters,
};
use ferrotel_testkit::Signal;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::SdkTracerProvider;

pub(crate) const PROTOCOLS: [&str; 2] = ["grpc", "http/protobuf"];

/// What one export of one item achieved.
#[derive(Debug)]
pub(crate) struct Outcomes {
    pub(crate) exported: u64,
    pub(crate) failed: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) elapsed: Duration,
}

/// Exports one item of `signal` to `endpoint` over `protocol` with the given export timeout,
/// through the same exporter and accounting a service's pipeline uses.
pub(crate) fn export_one(
    signal: Signal,
    endpoint: &str,
    protocol: &str,
    timeout: Duration,
) -> Outcomes {
    export_one_with(signal, endpoint, protocol, timeout, &[])
}

/// [`export_one`] with more variables (headers, say).
pub(crate) fn export_one_with(
    signal: Signal,
    endpoint: &str,
    protocol: &str,
    timeout: Duration,
    extra: &[(&str, String)],
) -> Outcomes {
    let mut env = Env::from_pairs([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            timeout.as_millis().to_string(),
        ),
    ]);
    for (name, value) in extra {
        env.set(*name, value.clone());
    }
    let config = Config::builder().resolve(&env).unwrap().config;
    let runtime = ExportRuntime::start().unwrap();
    let handle = runtime.handle().clone();
    let started = Instant::now();
    match signal {
        Signal::Traces => {
            let counters = counters(BatchSignal::Spans);
            let exporter =
                OtlpSpanExporter::new(&config.traces_otlp, &handle, Arc::clone(&counters)).unwrap();
            let exporter = OnExportRuntime::new(exporter, handle, None, Arc::clone(&counters));
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter)
                .build();
            assert!(counters.admit(false));
            provider.tracer("retry").in_span("retried", |_| {});
            batch_outcome(&counters, started)
        }
        Signal::Logs => {
            let counters = counters(BatchSignal::Logs);
            let exporter =
                OtlpLogExporter::new(&config.logs_otlp, &handle, Arc::clone(&counters)).unwrap();
            let exporter = OnExportRuntime::new(exporter, handle, None, Arc::clone(&counters));
            let provider = SdkLoggerProvider::builder()
                .with_simple_exporter(exporter)
                .build();
            let logger = provider.logger("retry");
            let mut record = logger.create_log_record();
            record.set_body("retried".into());
            assert!(counters.admit(false));
            logger.emit(record);
            batch_outcome(&counters, started)
        }
        Signal::Metrics | Signal::Unknown => {
            let exemplars = Exemplars::new(ExemplarFilter::AlwaysOff);
            let exporter = OtlpMetricExporter::new(
                &config.metrics_otlp,
                exemplars,
                // Delta: the export at the provider's shutdown finds nothing new to send.
                Temporality::Delta,
                &handle,
            )
            .unwrap();
            let reader = PeriodicReader::builder(exporter.clone())
                .with_interval(Duration::from_secs(3600))
                .build();
            let provider = SdkMeterProvider::builder().with_reader(reader).build();
            provider
                .meter("retry")
                .u64_counter("retried")
                .build()
                .add(1, &[]);
            let _ = provider.force_flush();
            let stats = exporter.stats();
            Outcomes {
                exported: stats.points_exported,
                failed: stats.points_failed,
                last_error: stats.last_error,
                elapsed: started.elapsed(),
            }
        }
    }
}

pub(crate) fn counters(signal: BatchSignal) -> Arc<PipelineCounters> {
    Arc::new(PipelineCounters::new(signal, 16, Default::default(), None))
}

pub(crate) fn batch_outcome(counters: &PipelineCounters, started: Instant) -> Outcomes {
    let stats = counters.snapshot("otlp");
    Outcomes {
        exported: stats.exported,
        failed: stats.failed,
        last_error: stats.last_error,
        elapsed: started.elapsed(),
    }
}
