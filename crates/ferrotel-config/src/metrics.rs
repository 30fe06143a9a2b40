//! Metrics SDK settings: export interval and timeout, exemplars, OTLP temporality and
//! histogram aggregation, and the metrics endpoint's address and limits.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::bounds::{MAX_METRICS_CONNECTIONS, MAX_METRICS_SCRAPES};
use crate::parse::keyword_enum;
use crate::precedence::{Candidate, Rejection, Resolver};
use crate::vars::{
    FERROTEL_METRICS_ADDR, FERROTEL_METRICS_BURST, FERROTEL_METRICS_MAX_CONNECTIONS,
    FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER, FERROTEL_METRICS_RATE_LIMIT,
    OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
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
    /// Scrapes of `/metrics` admitted per second, `0` for no limit
    /// ([`FERROTEL_METRICS_RATE_LIMIT`], default 10).
    pub rate_limit: u32,
    /// Scrapes of `/metrics` admitted back to back ([`FERROTEL_METRICS_BURST`], default 20).
    pub burst: u32,
    /// Connections the endpoint serves at once ([`FERROTEL_METRICS_MAX_CONNECTIONS`],
    /// default 16).
    pub max_connections: usize,
    /// Connections one peer address may hold, `0` for no bound
    /// ([`FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER`], default 4).
    pub max_connections_per_peer: usize,
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
            rate_limit: 10,
            burst: 20,
            max_connections: 16,
            max_connections_per_peer: 4,
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
    pub(crate) rate_limit: Option<u32>,
    pub(crate) burst: Option<u32>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_peer: Option<usize>,
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
    let rate_limit = scrapes(
        resolver,
        code.rate_limit,
        "metrics_rate_limit",
        FERROTEL_METRICS_RATE_LIMIT,
        defaults.rate_limit,
        false,
    );
    let burst = scrapes(
        resolver,
        code.burst,
        "metrics_burst",
        FERROTEL_METRICS_BURST,
        defaults.burst,
        true,
    );
    let why = "each connection holds a task and a file descriptor";
    let candidates = resolver.chain(
        code.max_connections,
        "metrics_max_connections",
        &[FERROTEL_METRICS_MAX_CONNECTIONS],
    );
    let max_connections = resolver
        .count_at_most(
            candidates,
            defaults.max_connections,
            true,
            MAX_METRICS_CONNECTIONS,
            why,
        )
        .value;
    let candidates = resolver.chain(
        code.max_connections_per_peer,
        "metrics_max_connections_per_peer",
        &[FERROTEL_METRICS_MAX_CONNECTIONS_PER_PEER],
    );
    let max_connections_per_peer = resolver
        .count_at_most(
            candidates,
            defaults.max_connections_per_peer,
            false,
            MAX_METRICS_CONNECTIONS,
            why,
        )
        .value;
    MetricsConfig {
        export_interval,
        export_timeout,
        exemplar_filter,
        temporality,
        histogram_aggregation,
        addr,
        rate_limit,
        burst,
        max_connections,
        max_connections_per_peer,
    }
}

/// A count of scrapes (`FERROTEL_METRICS_RATE_LIMIT`, `FERROTEL_METRICS_BURST`), at most
/// [`MAX_METRICS_SCRAPES`]; with `positive`, zero is refused.
fn scrapes(
    resolver: &mut Resolver<'_>,
    code: Option<u32>,
    setting: &'static str,
    var: &'static str,
    default: u32,
    positive: bool,
) -> u32 {
    let widen = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    let candidates = resolver.chain(code.map(widen), setting, &[var]);
    let resolved = resolver
        .count_at_most(
            candidates,
            widen(default),
            positive,
            MAX_METRICS_SCRAPES,
            "each admitted scrape collects every series",
        )
        .value;
    u32::try_from(resolved).unwrap_or(default)
}
