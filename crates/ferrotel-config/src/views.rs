//! Metric views and cardinality limits: what the operator changes about the streams the
//! instruments produce (names, buckets, attributes, aggregation), in the form of the
//! configuration schema's `meter_provider.views` and a reader's `cardinality_limits`.
//!
//! One representation serves the configuration file and
//! [`ConfigBuilder::views`](crate::ConfigBuilder::views); the `ferrotel` facade turns it into
//! the SDK's views, and ferrotel's own bound instruments read it from their exemplar store.

use std::fmt;

/// The SDK's default cardinality limit: attribute sets per instrument before further ones go
/// to the `otel.metric.overflow=true` series.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The schema's default boundaries of `explicit_bucket_histogram` when it lists none.
pub const DEFAULT_VIEW_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The most buckets [`exponential_buckets`] makes (the schema puts no limit on boundaries;
/// this keeps a typo from allocating without bound).
pub const MAX_EXPONENTIAL_BUCKETS: usize = 1000;

/// The kind of instrument a view selects (`instrument_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `observable_counter`
    ObservableCounter,
    /// `observable_gauge`
    ObservableGauge,
    /// `observable_up_down_counter`
    ObservableUpDownCounter,
    /// `up_down_counter`
    UpDownCounter,
}

impl InstrumentType {
    /// Every kind, in the schema's spelling.
    pub const ALL: [(InstrumentType, &'static str); 7] = [
        (InstrumentType::Counter, "counter"),
        (InstrumentType::Gauge, "gauge"),
        (InstrumentType::Histogram, "histogram"),
        (InstrumentType::ObservableCounter, "observable_counter"),
        (InstrumentType::ObservableGauge, "observable_gauge"),
        (
            InstrumentType::ObservableUpDownCounter,
            "observable_up_down_counter",
        ),
        (InstrumentType::UpDownCounter, "up_down_counter"),
    ];

    /// The kind spelled `text` in the schema.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(kind, _)| *kind)
    }

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("", |(_, name)| name)
    }
}

impl fmt::Display for InstrumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which instruments a view applies to: all of the given criteria must hold; none given
/// matches every instrument.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewSelector {
    /// The instrument name, compared without regard to case; `*` matches any run of
    /// characters and `?` any one character.
    pub instrument_name: Option<String>,
    /// The kind of instrument.
    pub instrument_type: Option<InstrumentType>,
    /// The unit, exactly.
    pub unit: Option<String>,
    /// The meter's (instrumentation scope's) name, exactly.
    pub meter_name: Option<String>,
    /// The meter's version, exactly.
    pub meter_version: Option<String>,
    /// The meter's schema URL, exactly.
    pub meter_schema_url: Option<String>,
}

/// What identifies an instrument to a [`ViewSelector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstrumentInfo<'a> {
    /// The instrument's name.
    pub name: &'a str,
    /// Its kind.
    pub kind: InstrumentType,
    /// Its unit (empty when none).
    pub unit: &'a str,
    /// The name of its meter's scope.
    pub meter_name: &'a str,
    /// The scope's version, when known.
    pub meter_version: Option<&'a str>,
    /// The scope's schema URL, when known.
    pub meter_schema_url: Option<&'a str>,
}

impl ViewSelector {
    /// Whether the instrument is selected.
    pub fn matches(&self, instrument: &InstrumentInfo<'_>) -> bool {
        let name_ok = self
            .instrument_name
            .as_deref()
            .is_none_or(|pattern| wildcard_match(pattern, instrument.name));
        let kind_ok = self.instrument_type.is_none_or(|k| k == instrument.kind);
        let unit_ok = self.unit.as_deref().is_none_or(|u| u == instrument.unit);
        let meter_ok = self
            .meter_name
            .as_deref()
            .is_none_or(|m| m == instrument.meter_name);
        let version_ok = self
            .meter_version
            .as_deref()
            .is_none_or(|v| Some(v) == instrument.meter_version);
        let schema_ok = self
            .meter_schema_url
            .as_deref()
            .is_none_or(|s| Some(s) == instrument.meter_schema_url);
        name_ok && kind_ok && unit_ok && meter_ok && version_ok && schema_ok
    }
}

/// How a view aggregates its stream (`stream.aggregation`).
#[derive(Debug, Clone, PartialEq)]
pub enum ViewAggregation {
    /// `default`: the instrument kind's own aggregation.
    Default,
    /// `drop`: the stream is not exported at all.
    Drop,
    /// `sum`
    Sum,
    /// `last_value`
    LastValue,
    /// `explicit_bucket_histogram`: buckets between `boundaries` (finite, strictly
    /// increasing).
    ExplicitBucketHistogram {
        /// The upper bounds of the buckets (each bucket includes its upper bound).
        boundaries: Vec<f64>,
        /// Whether min and max are recorded.
        record_min_max: bool,
    },
    /// `base2_exponential_bucket_histogram`.
    Base2ExponentialBucketHistogram {
        /// The largest scale, -10 to 20 (default 20).
        max_scale: i8,
        /// The most buckets on each side of zero (default 160, at least 2).
        max_size: u32,
        /// Whether min and max are recorded.
        record_min_max: bool,
    },
}

impl ViewAggregation {
    /// The schema's name of this aggregation.
    pub fn name(&self) -> &'static str {
        match self {
            ViewAggregation::Default => "default",
            ViewAggregation::Drop => "drop",
            ViewAggregation::Sum => "sum",
            ViewAggregation::LastValue => "last_value",
            ViewAggregation::ExplicitBucketHistogram { .. } => "explicit_bucket_histogram",
            ViewAggregation::Base2ExponentialBucketHistogram { .. } => {
                "base2_exponential_bucket_histogram"
            }
        }
    }

    /// The aggregations a view may name, for messages.
    pub const NAMES: &'static str = "default, drop, sum, last_value, explicit_bucket_histogram, \
                                     base2_exponential_bucket_histogram";
}

/// Which attribute keys a stream keeps (`stream.attribute_keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeKeys {
    /// Only these keys are kept; `None`: every key not excluded.
    pub included: Option<Vec<String>>,
    /// These keys are dropped.
    pub excluded: Vec<String>,
}

impl AttributeKeys {
    /// Whether an attribute with `key` stays on the stream.
    pub fn keeps(&self, key: &str) -> bool {
        let included = self
            .included
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key));
        included && !self.excluded.iter().any(|k| k == key)
    }
}

/// What a view changes about the streams of the instruments it selects; anything `None`
/// stays as the instrument made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewStream {
    /// The stream's name.
    pub name: Option<String>,
    /// The stream's description.
    pub description: Option<String>,
    /// The aggregation.
    pub aggregation: Option<ViewAggregation>,
    /// Which attributes are kept.
    pub attribute_keys: Option<AttributeKeys>,
    /// Attribute sets kept before the overflow series (`aggregation_cardinality_limit`);
    /// `None`: the reader's [`CardinalityLimits`].
    pub aggregation_cardinality_limit: Option<usize>,
}

/// One view: a selector and what it changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// The instruments it applies to.
    pub selector: ViewSelector,
    /// What it changes.
    pub stream: ViewStream,
}

/// One problem with a view: the key path inside the view, the value, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewProblem {
    /// The key, relative to the view (`stream.aggregation.explicit_bucket_histogram.boundaries`).
    pub key: String,
    /// The offending value, as written.
    pub value: String,
    /// What is allowed instead.
    pub allowed: String,
}

impl View {
    /// A view selecting instruments named `pattern` (wildcards `*` and `?`).
    pub fn named(pattern: impl Into<String>) -> Self {
        View {
            selector: ViewSelector {
                instrument_name: Some(pattern.into()),
                ..ViewSelector::default()
            },
            stream: ViewStream::default(),
        }
    }

    /// Whether `instrument` is selected.
    pub fn matches(&self, instrument: &InstrumentInfo<'_>) -> bool {
        self.selector.matches(instrument)
    }

    /// The problems that make the SDK reject this view or apply it wrongly; empty when it
    /// is usable.
    pub fn problems(&self) -> Vec<ViewProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, value: String, allowed: &str| {
            problems.push(ViewProblem {
                key: key.to_owned(),
                value,
                allowed: allowed.to_owned(),
            });
        };
        if let Some(pattern) = &self.selector.instrument_name {
            let valid = !pattern.is_empty()
                && pattern.len() <= 255
                && pattern
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-/*?".contains(c));
            if !valid {
                problem(
                    "selector.instrument_name",
                    pattern.clone(),
                    "an instrument name of at most 255 characters (letters, digits, _ . - /), \
                     optionally with the wildcards * and ?",
                );
            } else if self.stream.name.is_some() && pattern.contains(['*', '?']) {
                // Every selected instrument would get the same name: the SDK forbids it.
                problem(
                    "selector.instrument_name",
                    pattern.clone(),
                    "an exact instrument name when stream.name renames it (a wildcard would \
                     give several instruments one name)",
                );
            }
        }
        if let Some(name) = &self.stream.name {
            if name.is_empty() || name.len() > 255 {
                problem(
                    "stream.name",
                    name.clone(),
                    "a metric name of 1 to 255 characters",
                );
            }
        }
        if let Some(unit) = &self.selector.unit {
            if unit.len() > 63 || !unit.is_ascii() {
                problem(
                    "selector.unit",
                    unit.clone(),
                    "an ASCII unit of at most 63 characters",
                );
            }
        }
        match &self.stream.aggregation {
            Some(ViewAggregation::ExplicitBucketHistogram { boundaries, .. }) => {
                if let Some(reason) = boundaries_problem(boundaries) {
                    problem(
                        "stream.aggregation.explicit_bucket_histogram.boundaries",
                        format!("{boundaries:?}"),
                        reason,
                    );
                }
            }
            Some(ViewAggregation::Base2ExponentialBucketHistogram {
                max_scale,
                max_size,
                ..
            }) => {
                if !(-10..=20).contains(max_scale) {
                    problem(
                        "stream.aggregation.base2_exponential_bucket_histogram.max_scale",
                        max_scale.to_string(),
                        "an integer from -10 to 20",
                    );
                }
                if *max_size < 2 {
                    problem(
                        "stream.aggregation.base2_exponential_bucket_histogram.max_size",
                        max_size.to_string(),
                        "an integer of at least 2",
                    );
                }
            }
            _ => {}
        }
        if let Some(limit) = self.stream.aggregation_cardinality_limit {
            if limit == 0 || limit > MAX_CARDINALITY_LIMIT {
                problem(
                    "stream.aggregation_cardinality_limit",
                    limit.to_string(),
                    CARDINALITY_ALLOWED,
                );
            }
        }
        problems
    }
}

/// The largest cardinality limit accepted: each attribute set costs memory up front in the
/// SDK's maps, so a runaway value is refused rather than allocated.
pub const MAX_CARDINALITY_LIMIT: usize = 1_000_000;

const CARDINALITY_ALLOWED: &str = "an integer from 1 to 1000000";

/// Why `boundaries` cannot be a histogram's, if they cannot.
fn boundaries_problem(boundaries: &[f64]) -> Option<&'static str> {
    if boundaries.iter().any(|b| !b.is_finite()) {
        return Some("finite numbers (no NaN or infinity; the +Inf bucket is implied)");
    }
    if boundaries.windows(2).any(|w| w[0] >= w[1]) {
        return Some("strictly increasing numbers (sorted, no duplicates)");
    }
    None
}

/// Attribute sets kept per instrument before the overflow series, by instrument kind: the
/// schema's per-reader `cardinality_limits`. A kind without its own limit takes `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardinalityLimits {
    /// The limit of kinds not given their own (default [`DEFAULT_CARDINALITY_LIMIT`]).
    pub default: usize,
    /// `counter`
    pub counter: Option<usize>,
    /// `gauge`
    pub gauge: Option<usize>,
    /// `histogram`
    pub histogram: Option<usize>,
    /// `observable_counter`
    pub observable_counter: Option<usize>,
    /// `observable_gauge`
    pub observable_gauge: Option<usize>,
    /// `observable_up_down_counter`
    pub observable_up_down_counter: Option<usize>,
    /// `up_down_counter`
    pub up_down_counter: Option<usize>,
}

impl Default for CardinalityLimits {
    fn default() -> Self {
        CardinalityLimits {
            default: DEFAULT_CARDINALITY_LIMIT,
            counter: None,
            gauge: None,
            histogram: None,
            observable_counter: None,
            observable_gauge: None,
            observable_up_down_counter: None,
            up_down_counter: None,
        }
    }
}

impl CardinalityLimits {
    /// The same limit for every kind.
    pub fn all(limit: usize) -> Self {
        CardinalityLimits {
            default: limit,
            ..CardinalityLimits::default()
        }
    }

    /// The limit of instruments of `kind`.
    pub fn of(&self, kind: InstrumentType) -> usize {
        self.slot(kind).unwrap_or(self.default)
    }

    fn slot(&self, kind: InstrumentType) -> Option<usize> {
        match kind {
            InstrumentType::Counter => self.counter,
            InstrumentType::Gauge => self.gauge,
            InstrumentType::Histogram => self.histogram,
            InstrumentType::ObservableCounter => self.observable_counter,
            InstrumentType::ObservableGauge => self.observable_gauge,
            InstrumentType::ObservableUpDownCounter => self.observable_up_down_counter,
            InstrumentType::UpDownCounter => self.up_down_counter,
        }
    }

    /// Sets the limit of `kind`.
    pub fn set(&mut self, kind: InstrumentType, limit: usize) {
        let slot = match kind {
            InstrumentType::Counter => &mut self.counter,
            InstrumentType::Gauge => &mut self.gauge,
            InstrumentType::Histogram => &mut self.histogram,
            InstrumentType::ObservableCounter => &mut self.observable_counter,
            InstrumentType::ObservableGauge => &mut self.observable_gauge,
            InstrumentType::ObservableUpDownCounter => &mut self.observable_up_down_counter,
            InstrumentType::UpDownCounter => &mut self.up_down_counter,
        };
        *slot = Some(limit);
    }

    /// The smaller limit of each kind: the SDK applies one limit per instrument to every
    /// reader, so readers asking for different ones get the tightest.
    pub fn tightest(&self, other: &CardinalityLimits) -> CardinalityLimits {
        let mut merged = CardinalityLimits::all(self.default.min(other.default));
        for (kind, _) in InstrumentType::ALL {
            if self.slot(kind).is_some() || other.slot(kind).is_some() {
                merged.set(kind, self.of(kind).min(other.of(kind)));
            }
        }
        merged
    }

    /// The problems of these limits: `(key, value)` of each out of range.
    pub fn problems(&self) -> Vec<ViewProblem> {
        let mut problems = Vec::new();
        let entries = std::iter::once(("default", Some(self.default)))
            .chain(InstrumentType::ALL.iter().map(|(k, n)| (*n, self.slot(*k))));
        for (key, value) in entries {
            if let Some(limit) = value {
                if limit == 0 || limit > MAX_CARDINALITY_LIMIT {
                    problems.push(ViewProblem {
                        key: key.to_owned(),
                        value: limit.to_string(),
                        allowed: CARDINALITY_ALLOWED.to_owned(),
                    });
                }
            }
        }
        problems
    }
}

/// Why [`exponential_buckets`] refused its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketsError {
    /// The argument at fault (`start`, `factor` or `count`).
    pub argument: &'static str,
    /// Its value.
    pub value: String,
    /// What is allowed.
    pub allowed: &'static str,
}

impl fmt::Display for BucketsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exponential_buckets: {} = {} is not allowed; use {}",
            self.argument, self.value, self.allowed
        )
    }
}

impl std::error::Error for BucketsError {}

/// `count` boundaries `start, start·factor, start·factor², …`, as the Prometheus clients'
/// `exponential_buckets`: for a view's `explicit_bucket_histogram`, or a histogram's own
/// boundaries.
///
/// ```
/// use ferrotel_config::exponential_buckets;
///
/// // 0.1 ms to ~52 s, doubling.
/// let bounds = exponential_buckets(0.0001, 2.0, 20)?;
/// assert_eq!(bounds.len(), 20);
/// assert_eq!(bounds[0], 0.0001);
/// assert!((bounds[19] - 52.4288).abs() < 1e-9);
/// assert!(exponential_buckets(0.0, 2.0, 5).is_err());
/// # Ok::<(), ferrotel_config::BucketsError>(())
/// ```
///
/// # Errors
///
/// `start` not finite and above 0, `factor` not finite and above 1, `count` 0 or above
/// [`MAX_EXPONENTIAL_BUCKETS`], or a boundary that overflows to infinity.
pub fn exponential_buckets(
    start: f64,
    factor: f64,
    count: usize,
) -> Result<Vec<f64>, BucketsError> {
    if !(start.is_finite() && start > 0.0) {
        return Err(BucketsError {
            argument: "start",
            value: start.to_string(),
            allowed: "a finite number above 0",
        });
    }
    if !(factor.is_finite() && factor > 1.0) {
        return Err(BucketsError {
            argument: "factor",
            value: factor.to_string(),
            allowed: "a finite number above 1",
        });
    }
    if count == 0 || count > MAX_EXPONENTIAL_BUCKETS {
        return Err(BucketsError {
            argument: "count",
            value: count.to_string(),
            allowed: "an integer from 1 to 1000",
        });
    }
    let mut bounds = Vec::with_capacity(count);
    let mut next = start;
    for _ in 0..count {
        if !next.is_finite() {
            return Err(BucketsError {
                argument: "count",
                value: count.to_string(),
                allowed: "a count whose largest boundary (start·factor^(count-1)) is finite",
            });
        }
        bounds.push(next);
        next *= factor;
    }
    Ok(bounds)
}

/// Instrument names are case-insensitive.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    crate::glob::matches(
        pattern.to_ascii_lowercase().as_bytes(),
        name.to_ascii_lowercase().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn info(name: &str) -> InstrumentInfo<'_> {
        InstrumentInfo {
            name,
            kind: InstrumentType::Histogram,
            unit: "s",
            meter_name: "ferrotel-ops",
            meter_version: None,
            meter_schema_url: None,
        }
    }

    #[test]
    fn wildcards_match_runs_and_single_characters_without_case() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match(
            "nfs.*.duration",
            "nfs.server.request.duration"
        ));
        assert!(wildcard_match(
            "NFS.server.?equest.duration",
            "nfs.server.request.duration"
        ));
        assert!(!wildcard_match("nfs.*.size", "nfs.server.request.duration"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a?", "a"));
        assert!(wildcard_match("rpc.*", "rpc."));
    }

    #[test]
    fn a_selector_needs_every_criterion() {
        let mut view = View::named("nfs.*");
        assert!(view.matches(&info("nfs.server.request.duration")));
        view.selector.instrument_type = Some(InstrumentType::Counter);
        assert!(!view.matches(&info("nfs.server.request.duration")));
        view.selector.instrument_type = Some(InstrumentType::Histogram);
        view.selector.meter_name = Some("other".to_owned());
        assert!(!view.matches(&info("nfs.server.request.duration")));
        view.selector.meter_name = Some("ferrotel-ops".to_owned());
        view.selector.meter_version = Some("1".to_owned());
        assert!(!view.matches(&info("nfs.server.request.duration")));
    }

    #[test]
    fn bad_views_name_the_key_and_value() {
        let mut view = View::named("nfs.*");
        view.stream.name = Some("renamed".to_owned());
        view.stream.aggregation = Some(ViewAggregation::ExplicitBucketHistogram {
            boundaries: vec![1.0, 0.5],
            record_min_max: true,
        });
        view.stream.aggregation_cardinality_limit = Some(0);
        let problems = view.problems();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "selector.instrument_name",
                "stream.aggregation.explicit_bucket_histogram.boundaries",
                "stream.aggregation_cardinality_limit"
            ]
        );
        assert_eq!(problems[1].value, "[1.0, 0.5]");
        assert!(problems[1].allowed.contains("strictly increasing"));
        assert!(View::named("bad name!").problems()[0]
            .allowed
            .contains("wildcards"));
    }

    #[test]
    fn attribute_keys_include_then_exclude() {
        let keys = AttributeKeys {
            included: Some(vec!["a".to_owned(), "b".to_owned()]),
            excluded: vec!["b".to_owned()],
        };
        assert!(keys.keeps("a"));
        assert!(!keys.keeps("b"));
        assert!(!keys.keeps("c"));
    }

    #[test]
    fn the_tightest_limits_win_per_kind() {
        let mut a = CardinalityLimits::all(500);
        a.set(InstrumentType::Histogram, 100);
        let b = CardinalityLimits::all(300);
        let merged = a.tightest(&b);
        assert_eq!(merged.of(InstrumentType::Counter), 300);
        assert_eq!(merged.of(InstrumentType::Histogram), 100);
        assert_eq!(CardinalityLimits::default().of(InstrumentType::Gauge), 2000);
    }

    #[test]
    fn exponential_buckets_refuse_bad_arguments_by_name() {
        assert_eq!(exponential_buckets(1.0, 2.0, 3).unwrap(), [1.0, 2.0, 4.0]);
        assert_eq!(
            exponential_buckets(-1.0, 2.0, 3).unwrap_err().argument,
            "start"
        );
        assert_eq!(
            exponential_buckets(1.0, 1.0, 3).unwrap_err().argument,
            "factor"
        );
        assert_eq!(
            exponential_buckets(1.0, f64::NAN, 3).unwrap_err().argument,
            "factor"
        );
        assert_eq!(
            exponential_buckets(1.0, 2.0, 0).unwrap_err().argument,
            "count"
        );
        let err = exponential_buckets(1e300, 1e10, 10).unwrap_err();
        assert_eq!(err.argument, "count");
        assert!(err.to_string().contains("finite"), "{err}");
    }
}
