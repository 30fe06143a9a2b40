//! Exporter selection, from [`OTEL_TRACES_EXPORTER`](crate::vars::OTEL_TRACES_EXPORTER),
//! [`OTEL_METRICS_EXPORTER`](crate::vars::OTEL_METRICS_EXPORTER) and
//! [`OTEL_LOGS_EXPORTER`](crate::vars::OTEL_LOGS_EXPORTER).
//!
//! Both variables are comma lists; `none` (alone) selects no exporter, so "no exporter" is an
//! empty list rather than an enum variant.

use crate::parse::keyword_enum;

keyword_enum! {
    /// A span exporter.
    pub enum TracesExporter {
        /// `otlp` (default): see [`Config::traces_otlp`](crate::Config::traces_otlp).
        #[default]
        Otlp => "otlp",
        /// `console`: human-readable spans on standard output.
        Console => "console",
    }
}

/// Trace exporter names the specification knows but ferrotel does not implement.
pub const UNSUPPORTED_TRACES_EXPORTERS: &[&str] = &["zipkin", "jaeger", "logging"];

keyword_enum! {
    /// A metric exporter.
    pub enum MetricsExporter {
        /// `otlp` (default): see [`Config::metrics_otlp`](crate::Config::metrics_otlp).
        #[default]
        Otlp => "otlp",
        /// `prometheus`: a pull endpoint on [`MetricsConfig::addr`](crate::MetricsConfig::addr).
        Prometheus => "prometheus",
        /// `console`: human-readable metrics on standard output.
        Console => "console",
    }
}

/// Metric exporter names the specification knows but ferrotel does not implement.
pub const UNSUPPORTED_METRICS_EXPORTERS: &[&str] = &["logging"];

keyword_enum! {
    /// A log record exporter.
    pub enum LogsExporter {
        /// `otlp` (default): see [`Config::logs_otlp`](crate::Config::logs_otlp).
        #[default]
        Otlp => "otlp",
        /// `console`: human-readable log records on standard output (besides ferrotel's own
        /// log lines, which every setting keeps).
        Console => "console",
    }
}

/// Log exporter names the specification knows but ferrotel does not implement.
pub const UNSUPPORTED_LOGS_EXPORTERS: &[&str] = &["logging"];
