//! Helpers shared by this crate's test files: a metric reader both a provider and a source
//! hold.
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::time::Duration;

/// A `ManualReader` that the meter provider and a metrics source can both hold.
#[derive(Debug, Clone, Default)]
pub struct SharedReader(std::sync::Arc<opentelemetry_sdk::metrics::ManualReader>);

impl SharedReader {
    /// Collects now and converts to the OTLP request a source returns.
    pub fn collect_request(
        &self,
    ) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        let mut rm = opentelemetry_sdk::metrics::data::ResourceMetrics::default();
        self.0.collect(&mut rm).expect("collect the manual reader");
        (&rm).into()
    }
}

impl opentelemetry_sdk::metrics::reader::MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
        self.0.register_pipeline(pipeline)
    }

    fn collect(
        &self,
        rm: &mut opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(
        &self,
        kind: opentelemetry_sdk::metrics::InstrumentKind,
    ) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}
