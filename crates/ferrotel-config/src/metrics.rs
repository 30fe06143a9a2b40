//! Metrics SDK settings: export interval and timeout, exemplars, OTLP temporality and
//! histogram aggregation, and the metrics endpoint address.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::parse::keyword_enum;
use crate::precedence::{Candidate, Rejection, Resolver};
use crate::vars::{
    FERROTEL_METRICS_ADDR, OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_METRICS_EXEMPLAR_FILTER,
    OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT,
};

keyword_enum! {
    /// Which measurements may become exemplars.
    pub enum ExemplarFilter {
        /// `trace_based` (default): only measurements recorded inside a sampled span.
        #[default]
        TraceBased => "trace_based",
        /// `always_on`: every measurement.
        AlwaysOn => "always_on",
        /// `always_off`: none.
        AlwaysOff => "always_off",
    }
}

keyword_enum! {
    /// Aggregation temporality asked of the OTLP metric exporter.
    pub enum Temporality {
        /// `cumulative` (default) for every instrument.
        #[default]
        Cumulative => "cumulative",
        /// `delta` for counters, async counters and histograms; cumulative for up-down counters.
        Delta => "delta",
        /// `lowmemory`: delta for sync counters and histograms, cumulative otherwise.
        LowMemory => "lowmemory",
    }
}

keyword_enum! {
    /// Default aggregation of histogram instruments.
    pub enum HistogramAggregation {
        /// `explicit_bucket_histogram` (default).
        #[default]
        ExplicitBucket => "explicit_bucket_histogram",
        /// `base2_exponential_bucket_histogram`.
        Base2Exponential => "base2_exponential_bucket_histogram",
    }
}

/// Default address of the metrics endpoint: `127.0.0.1:9464` (the Prometheus exporter port).
pub const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9464);

/// Metrics settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Interval between periodic exports ([`OTEL_METRIC_EXPORT_INTERVAL`], default 60000 ms, at
    /// least [`MIN_METRIC_EXPORT_INTERVAL`](crate::bounds::MIN_METRIC_EXPORT_INTERVAL)).
    pub export_interval: Duration,
    /// Maximum time of one export ([`OTEL_METRIC_EXPORT_TIMEOUT`], default 30000 ms); `None`
    /// means no limit (`0`).
    pub export_timeout: Option<Duration>,
    /// Exemplar filter ([`OTEL_METRICS_EXEMPLAR_FILTER`], default `trace_based`).
    pub exemplar_filter: ExemplarFilter,
    /// OTLP temporality ([`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`], default
    /// `cumulative`).
    pub temporality: Temporality,
    /// Histogram aggregation ([`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`],
    /// default `explicit_bucket_histogram`).
    pub histogram_aggregation: HistogramAggregation,
    /// Where the Prometheus / metrics endpoint listens ([`FERROTEL_METRICS_ADDR`], default
    /// [`DEFAULT_METRICS_ADDR`]).
    pub addr: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            export_interval: Duration::from_millis(60_000),
            export_timeout: Some(Duration::from_millis(30_000)),
            exemplar_filter: ExemplarFilter::default(),
            temporality: Temporality::default(),
            histogram_aggregation: HistogramAggregation::default(),
            addr: DEFAULT_METRICS_ADDR,
        }
    }
}

/// Metrics settings made in code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MetricsOverrides {
    pub(crate) export_interval: Option<Duration>,
    pub(crate) export_timeout: Option<Option<Duration>>,
    pub(crate) exemplar_filter: Option<ExemplarFilter>,
    pub(crate) temporality: Option<Temporality>,
    pub(crate) histogram_aggregation: Option<HistogramAggregation>,
    pub(crate) addr: Option<SocketAddr>,
}

/// Resolves the metrics settings.
pub(crate) fn resolve(resolver: &mut Resolver<'_>, code: &MetricsOverrides) -> MetricsConfig {
    let defaults = MetricsConfig::default();
    let export_interval = resolver.millis_at_least(
        code.export_interval,
        "metric_export_interval",
        &[OTEL_METRIC_EXPORT_INTERVAL],
        defaults.export_interval,
        crate::bounds::MIN_METRIC_EXPORT_INTERVAL,
    );
    let export_timeout = resolver.timeout(
        code.export_timeout,
        "metric_export_timeout",
        &[OTEL_METRIC_EXPORT_TIMEOUT],
        defaults.export_timeout,
    );
    let exemplar_filter = resolver.keyword(
        code.exemplar_filter,
        "exemplar_filter",
        OTEL_METRICS_EXEMPLAR_FILTER,
        defaults.exemplar_filter,
    );
    let temporality = resolver.keyword(
        code.temporality,
        "temporality",
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
        defaults.temporality,
    );
    let histogram_aggregation = resolver.keyword(
        code.histogram_aggregation,
        "histogram_aggregation",
        OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
        defaults.histogram_aggregation,
    );
    let candidates = [
        Candidate::code("metrics_addr", code.addr),
        Candidate::env(resolver.env(), FERROTEL_METRICS_ADDR),
    ];
    let addr = resolver
        .resolve(
            candidates,
            "an IP socket address such as 127.0.0.1:9464 or [::]:9464",
            defaults.addr,
            SocketAddr::to_string,
            |_, text| text.parse::<SocketAddr>().map_err(|_| Rejection::invalid()),
        )
        .value;
    MetricsConfig {
        export_interval,
        export_timeout,
        exemplar_filter,
        temporality,
        histogram_aggregation,
        addr,
    }
}
