//! The exposition model: an OTLP metrics request turned into Prometheus metric families
//! (translated names, labels, cumulative buckets, chosen exemplars), independent of the text
//! format that is written from it.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};

use crate::names::{sanitize_label_name, MetricName, NameKind};

/// The label carrying the instrumentation scope name on every sample.
pub(crate) const SCOPE_NAME_LABEL: &str = "otel_scope_name";
/// The label carrying the instrumentation scope version on every sample.
pub(crate) const SCOPE_VERSION_LABEL: &str = "otel_scope_version";
/// The family holding the resource attributes (sample `target_info`).
pub(crate) const TARGET_FAMILY: &str = "target";
/// OpenMetrics caps an exemplar's label names plus values at 128 code points.
const EXEMPLAR_LABELS_MAX_CHARS: usize = 128;

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// OpenMetrics `info` (Prometheus text: a gauge named `<family>_info`).
    Info,
}

/// One metric family: metadata plus every sample, in exposition order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub(crate) name: String,
    pub(crate) kind: FamilyType,
    pub(crate) unit: String,
    pub(crate) help: String,
    pub(crate) samples: Vec<Sample>,
    /// The exponential points behind some of a histogram's series, by the series' labels:
    /// the protobuf exposition sends them as native histograms.
    pub(crate) native: Vec<(Vec<(String, String)>, ExponentialHistogramDataPoint)>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// Appended to the family name: `_total`, `_bucket`, `_sum`, `_count`, `_info` or nothing.
    pub(crate) suffix: &'static str,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: Number,
    pub(crate) exemplar: Option<ExemplarLine>,
}

/// A sample value; counts stay integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Count(u64),
    Float(f64),
}

/// An exemplar as written after a `_bucket` or `_total` sample.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExemplarLine {
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: Number,
    /// Unix time in nanoseconds; `None` when the exemplar carried no time.
    pub(crate) time_unix_nano: Option<u64>,
}

/// The whole exposition: families in first-seen order, plus notes about what was skipped.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    pub(crate) families: Vec<Family>,
    /// Why a metric was not exposed (written as `# ` comments in Prometheus text only, since
    /// OpenMetrics has no free-form comments).
    pub(crate) skipped: Vec<String>,
    index: HashMap<String, usize>,
}

impl Exposition {
    /// Translates a whole request.
    pub(crate) fn from_request(request: &ExportMetricsServiceRequest) -> Exposition {
        let mut out = Exposition::default();
        let mut targets: Vec<Vec<(String, String)>> = Vec::new();
        for resource_metrics in &request.resource_metrics {
            if let Some(resource) = &resource_metrics.resource {
                let labels = attribute_labels(&resource.attributes, &[]);
                if !labels.is_empty() && !targets.contains(&labels) {
                    targets.push(labels);
                }
            }
            for scope_metrics in &resource_metrics.scope_metrics {
                let mut scope_labels = Vec::new();
                if let Some(scope) = &scope_metrics.scope {
                    if !scope.name.is_empty() {
                        scope_labels.push((SCOPE_NAME_LABEL.to_owned(), scope.name.clone()));
                    }
                    if !scope.version.is_empty() {
                        scope_labels.push((SCOPE_VERSION_LABEL.to_owned(), scope.version.clone()));
                    }
                }
                for metric in &scope_metrics.metrics {
                    out.add_metric(metric, &scope_labels);
                }
            }
        }
        if !targets.is_empty() {
            let samples = targets
                .into_iter()
                .map(|labels| Sample {
                    suffix: "_info",
                    labels,
                    value: Number::Int(1),
                    exemplar: None,
                })
                .collect();
            out.push_family(Family {
                name: TARGET_FAMILY.to_owned(),
                kind: FamilyType::Info,
                unit: String::new(),
                help: "Target metadata".to_owned(),
                samples,
                native: Vec::new(),
            });
        }
        out
    }

    fn add_metric(&mut self, metric: &Metric, scope_labels: &[(String, String)]) {
        let Some(data) = &metric.data else {
            self.skip(&metric.name, "it carries no data");
            return;
        };
        let (kind, name_kind) = match data {
            metric::Data::Gauge(_) => (FamilyType::Gauge, NameKind::Gauge),
            metric::Data::Sum(sum) if sum.is_monotonic => (FamilyType::Counter, NameKind::Counter),
            metric::Data::Sum(_) => (FamilyType::Gauge, NameKind::Gauge),
            metric::Data::Histogram(_) => (FamilyType::Histogram, NameKind::Distribution),
            metric::Data::Summary(_) => (FamilyType::Summary, NameKind::Distribution),
            metric::Data::ExponentialHistogram(_) => {
                (FamilyType::Histogram, NameKind::Distribution)
            }
        };
        let delta = AggregationTemporality::Delta as i32;
        let is_delta = match data {
            metric::Data::Sum(sum) => sum.aggregation_temporality == delta,
            metric::Data::Histogram(h) => h.aggregation_temporality == delta,
            metric::Data::ExponentialHistogram(h) => h.aggregation_temporality == delta,
            _ => false,
        };
        if is_delta {
            self.skip(
                &metric.name,
                "delta temporality cannot be exposed to a scraper",
            );
            return;
        }

        let name = MetricName::new(&metric.name, &metric.unit, name_kind);
        let samples = match data {
            metric::Data::Gauge(gauge) => {
                number_samples(&gauge.data_points, scope_labels, "", false)
            }
            metric::Data::Sum(sum) if sum.is_monotonic => {
                number_samples(&sum.data_points, scope_labels, "_total", true)
            }
            metric::Data::Sum(sum) => number_samples(&sum.data_points, scope_labels, "", false),
            metric::Data::Histogram(h) => h
                .data_points
                .iter()
                .flat_map(|p| histogram_samples(p, scope_labels))
                .collect(),
            metric::Data::Summary(s) => s
                .data_points
                .iter()
                .flat_map(|p| summary_samples(p, scope_labels))
                .collect(),
            metric::Data::ExponentialHistogram(h) => h
                .data_points
                .iter()
                .flat_map(|p| histogram_samples(&classic_buckets(p), scope_labels))
                .collect(),
        };

        let native = match data {
            metric::Data::ExponentialHistogram(h) => h
                .data_points
                .iter()
                .map(|p| (point_labels(&p.attributes, scope_labels, None), p.clone()))
                .collect(),
            _ => Vec::new(),
        };
        match self.index.get(&name.family) {
            Some(&i) => {
                let Some(family) = self.families.get_mut(i) else {
                    return;
                };
                if family.kind != kind || family.unit != name.unit {
                    let reason = format!(
                        "its name {} is already taken by a {:?} with unit {:?}",
                        name.family, family.kind, family.unit
                    );
                    self.skip(&metric.name, &reason);
                    return;
                }
                if family.help.is_empty() {
                    family.help.clone_from(&metric.description);
                }
                family.samples.extend(samples);
                family.native.extend(native);
            }
            None => self.push_family(Family {
                name: name.family,
                kind,
                unit: name.unit,
                help: metric.description.clone(),
                samples,
                native,
            }),
        }
    }

    fn push_family(&mut self, family: Family) {
        if self.index.contains_key(&family.name) {
            let reason = format!("its name {} is already taken", family.name);
            self.skip(&family.name.clone(), &reason);
            return;
        }
        self.index.insert(family.name.clone(), self.families.len());
        self.families.push(family);
    }

    fn skip(&mut self, name: &str, reason: &str) {
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        self.skipped
            .push(format!("skipped metric {name:?}: {reason}"));
    }
}

fn number_samples(
    points: &[NumberDataPoint],
    scope_labels: &[(String, String)],
    suffix: &'static str,
    with_exemplar: bool,
) -> Vec<Sample> {
    points
        .iter()
        .filter_map(|point| {
            let value = match point.value? {
                number_data_point::Value::AsInt(v) => Number::Int(v),
                number_data_point::Value::AsDouble(v) => Number::Float(v),
            };
            let exemplar = if with_exemplar {
                latest(point.exemplars.iter()).map(exemplar_line)
            } else {
                None
            };
            Some(Sample {
                suffix,
                labels: point_labels(&point.attributes, scope_labels, None),
                value,
                exemplar,
            })
        })
        .collect()
}

/// The most classic buckets an exponential histogram point is written with: more are merged
/// pairwise (one scale down), so a page stays bounded whatever the aggregation's size.
const MAX_CLASSIC_BUCKETS: usize = 400;

/// An exponential histogram point as the classic histogram with a bucket at each of its bucket
/// boundaries (`le` = a bucket's upper bound), so a scraper without native histograms gets
/// the same counts and `histogram_quantile` the same answer within a bucket's width.
pub(crate) fn classic_buckets(point: &ExponentialHistogramDataPoint) -> HistogramDataPoint {
    let mut scale = point.scale;
    let mut positive = point
        .positive
        .as_ref()
        .map(|b| (b.offset, b.bucket_counts.clone()))
        .unwrap_or_default();
    let mut negative = point
        .negative
        .as_ref()
        .map(|b| (b.offset, b.bucket_counts.clone()))
        .unwrap_or_default();
    while positive.1.len() + negative.1.len() > MAX_CLASSIC_BUCKETS && scale > -10 {
        positive = downscale(positive);
        negative = downscale(negative);
        scale -= 1;
    }
    // Bucket `i` holds (base^i, base^(i+1)], base = 2^(2^-scale).
    let bound = |index: i64| (index as f64 * (-f64::from(scale)).exp2()).exp2();
    let mut bounds: Vec<f64> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    let mut push = |upper: f64, count: u64| {
        if !upper.is_finite() {
            return;
        }
        match (bounds.last(), counts.last_mut()) {
            // Rounding or a zero threshold overlapping the buckets: merged, bounds stay sorted.
            (Some(last), Some(last_count)) if upper <= *last => {
                *last_count = last_count.saturating_add(count);
            }
            _ => {
                bounds.push(upper);
                counts.push(count);
            }
        }
    };
    let (neg_offset, neg_counts) = &negative;
    for (k, count) in neg_counts.iter().enumerate().rev() {
        // Negative bucket `i` holds [-base^(i+1), -base^i).
        push(-bound(i64::from(*neg_offset) + k as i64), *count);
    }
    push(point.zero_threshold.max(0.0), point.zero_count);
    let (pos_offset, pos_counts) = &positive;
    for (k, count) in pos_counts.iter().enumerate() {
        push(bound(i64::from(*pos_offset) + k as i64 + 1), *count);
    }
    let listed: u64 = counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
    counts.push(point.count.saturating_sub(listed));
    HistogramDataPoint {
        attributes: point.attributes.clone(),
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        count: point.count,
        sum: point.sum,
        bucket_counts: counts,
        explicit_bounds: bounds,
        exemplars: point.exemplars.clone(),
        flags: point.flags,
        min: point.min,
        max: point.max,
    }
}

/// The buckets one scale down: bucket `i` becomes `i >> 1`, neighbours merged.
pub(crate) fn downscale((offset, counts): (i32, Vec<u64>)) -> (i32, Vec<u64>) {
    if counts.is_empty() {
        return (offset >> 1, counts);
    }
    let new_offset = offset >> 1;
    let mut merged: Vec<u64> = Vec::with_capacity(counts.len() / 2 + 1);
    for (k, count) in counts.iter().enumerate() {
        let index = (i64::from(offset) + k as i64) >> 1;
        let slot = (index - i64::from(new_offset)) as usize;
        if merged.len() <= slot {
            merged.resize(slot + 1, 0);
        }
        if let Some(cell) = merged.get_mut(slot) {
            *cell = cell.saturating_add(*count);
        }
    }
    (new_offset, merged)
}

fn histogram_samples(point: &HistogramDataPoint, scope_labels: &[(String, String)]) -> Vec<Sample> {
    let bounds = &point.explicit_bounds;
    let mut samples = Vec::with_capacity(bounds.len() + 3);
    // Malformed points (counts not matching bounds) keep only the `+Inf` bucket.
    let well_formed = point.bucket_counts.len() == bounds.len() + 1;
    let mut chosen: Vec<Option<&Exemplar>> = vec![None; bounds.len() + 1];
    for exemplar in &point.exemplars {
        let Some(value) = exemplar_value(exemplar) else {
            continue;
        };
        let index = bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(bounds.len());
        let index = if well_formed { index } else { bounds.len() };
        if let Some(slot) = chosen.get_mut(index) {
            if slot.is_none_or(|current| exemplar.time_unix_nano >= current.time_unix_nano) {
                *slot = Some(exemplar);
            }
        }
    }
    let bucket = |le: String, count: u64, exemplar: Option<&Exemplar>| Sample {
        suffix: "_bucket",
        labels: point_labels(&point.attributes, scope_labels, Some(("le", le))),
        value: Number::Count(count),
        exemplar: exemplar.map(exemplar_line),
    };
    if well_formed {
        let mut cumulative = 0u64;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative =
                cumulative.saturating_add(point.bucket_counts.get(i).copied().unwrap_or(0));
            let exemplar = chosen.get(i).copied().flatten();
            samples.push(bucket(format_float(*bound), cumulative, exemplar));
        }
    }
    let inf_exemplar = chosen.get(bounds.len()).copied().flatten();
    samples.push(bucket("+Inf".to_owned(), point.count, inf_exemplar));
    if let Some(sum) = point.sum {
        samples.push(Sample {
            suffix: "_sum",
            labels: point_labels(&point.attributes, scope_labels, None),
            value: Number::Float(sum),
            exemplar: None,
        });
    }
    samples.push(Sample {
        suffix: "_count",
        labels: point_labels(&point.attributes, scope_labels, None),
        value: Number::Count(point.count),
        exemplar: None,
    });
    samples
}

fn summary_samples(point: &SummaryDataPoint, scope_labels: &[(String, String)]) -> Vec<Sample> {
    let mut samples: Vec<Sample> = point
        .quantile_values
        .iter()
        .map(|q| Sample {
            suffix: "",
            labels: point_labels(
                &point.attributes,
                scope_labels,
                Some(("quantile", format_float(q.quantile))),
            ),
            value: Number::Float(q.value),
            exemplar: None,
        })
        .collect();
    samples.push(Sample {
        suffix: "_sum",
        labels: point_labels(&point.attributes, scope_labels, None),
        value: Number::Float(point.sum),
        exemplar: None,
    });
    samples.push(Sample {
        suffix: "_count",
        labels: point_labels(&point.attributes, scope_labels, None),
        value: Number::Count(point.count),
        exemplar: None,
    });
    samples
}

/// The labels of one sample: the point's attributes (sanitized, sorted), the scope labels,
/// and the sample's own label (`le` / `quantile`) last. Attributes whose label name would
/// clash with a scope or sample label are dropped.
fn point_labels(
    attributes: &[KeyValue],
    scope_labels: &[(String, String)],
    own: Option<(&'static str, String)>,
) -> Vec<(String, String)> {
    let mut reserved: Vec<&str> = scope_labels.iter().map(|(k, _)| k.as_str()).collect();
    if let Some((name, _)) = &own {
        reserved.push(name);
    }
    let mut labels = attribute_labels(attributes, &reserved);
    labels.extend(scope_labels.iter().cloned());
    if let Some((name, value)) = own {
        labels.push((name.to_owned(), value));
    }
    labels
}

/// Attributes as sorted label pairs. Keys that sanitize to the same label name have their
/// values joined with `;` in the order of their original keys (as the specification asks).
pub(crate) fn attribute_labels(
    attributes: &[KeyValue],
    reserved: &[&str],
) -> Vec<(String, String)> {
    let mut by_label: BTreeMap<String, Vec<(&str, String)>> = BTreeMap::new();
    for kv in attributes {
        let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let label = sanitize_label_name(&kv.key);
        if reserved.contains(&label.as_str()) {
            continue;
        }
        by_label
            .entry(label)
            .or_default()
            .push((kv.key.as_str(), any_value_string(value)));
    }
    by_label
        .into_iter()
        .map(|(label, mut values)| {
            values.sort_by(|a, b| a.0.cmp(b.0));
            let joined: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
            (label, joined.join(";"))
        })
        .collect()
}

fn latest<'a>(exemplars: impl Iterator<Item = &'a Exemplar>) -> Option<&'a Exemplar> {
    exemplars
        .filter(|e| exemplar_value(e).is_some())
        .fold(None, |best: Option<&Exemplar>, e| match best {
            Some(b) if b.time_unix_nano > e.time_unix_nano => Some(b),
            _ => Some(e),
        })
}

fn exemplar_value(exemplar: &Exemplar) -> Option<f64> {
    match exemplar.value? {
        exemplar::Value::AsDouble(v) => Some(v),
        exemplar::Value::AsInt(v) => Some(v as f64),
    }
}

fn exemplar_line(exemplar: &Exemplar) -> ExemplarLine {
    let mut labels = Vec::new();
    let mut used = 0usize;
    let mut push = |labels: &mut Vec<(String, String)>, name: String, value: String| {
        let size = name.chars().count() + value.chars().count();
        if used + size <= EXEMPLAR_LABELS_MAX_CHARS {
            used += size;
            labels.push((name, value));
        }
    };
    if is_valid_id(&exemplar.trace_id, 16) {
        push(&mut labels, "trace_id".to_owned(), hex(&exemplar.trace_id));
        if is_valid_id(&exemplar.span_id, 8) {
            push(&mut labels, "span_id".to_owned(), hex(&exemplar.span_id));
        }
    }
    for (name, value) in attribute_labels(&exemplar.filtered_attributes, &["trace_id", "span_id"]) {
        push(&mut labels, name, value);
    }
    let value = match exemplar.value {
        Some(exemplar::Value::AsInt(v)) => Number::Int(v),
        Some(exemplar::Value::AsDouble(v)) => Number::Float(v),
        None => Number::Float(f64::NAN),
    };
    ExemplarLine {
        labels,
        value,
        time_unix_nano: (exemplar.time_unix_nano != 0).then_some(exemplar.time_unix_nano),
    }
}

fn is_valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|b| *b != 0)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A float as both formats accept it: `+Inf`, `-Inf`, `NaN`, otherwise Rust's shortest
/// round-trip form (`1.0`, `0.005`, `1e-7`), which Prometheus parses.
pub(crate) fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v:?}")
    }
}

/// An attribute value as a label value: strings as they are, arrays and maps as JSON.
fn any_value_string(value: &any_value::Value) -> String {
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        other => {
            let mut out = String::new();
            write_json(&mut out, other);
            out
        }
    }
}

fn write_json(out: &mut String, value: &any_value::Value) {
    match value {
        any_value::Value::StringValue(s) => write_json_string(out, s),
        any_value::Value::BoolValue(b) => out.push_str(if *b { "true" } else { "false" }),
        any_value::Value::IntValue(i) => out.push_str(&i.to_string()),
        // An index into a profiles string table, meaningless without it: kept as a number.
        any_value::Value::StringValueStrindex(i) => out.push_str(&i.to_string()),
        any_value::Value::DoubleValue(d) if d.is_finite() => out.push_str(&format!("{d:?}")),
        any_value::Value::DoubleValue(d) => write_json_string(out, &format_float(*d)),
        any_value::Value::BytesValue(b) => write_json_string(out, &base64(b)),
        any_value::Value::ArrayValue(array) => {
            out.push('[');
            for (i, v) in array.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_any(out, v);
            }
            out.push(']');
        }
        any_value::Value::KvlistValue(list) => {
            out.push('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, &kv.key);
                out.push(':');
                match &kv.value {
                    Some(v) => write_json_any(out, v),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

fn write_json_any(out: &mut String, value: &AnyValue) {
    match &value.value {
        Some(v) => write_json(out, v),
        None => out.push_str("null"),
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = usize::try_from((n >> (18 - 6 * i)) & 0x3f).unwrap_or(0);
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_exponential_points_are_merged_down_to_a_bounded_page() {
        use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
        let point = ExponentialHistogramDataPoint {
            count: 1000,
            scale: 20,
            positive: Some(Buckets {
                offset: -501,
                bucket_counts: vec![1; 1000],
            }),
            ..Default::default()
        };
        let classic = classic_buckets(&point);
        assert!(classic.explicit_bounds.len() <= MAX_CLASSIC_BUCKETS + 1);
        assert_eq!(classic.bucket_counts.iter().sum::<u64>(), 1000);
        assert!(classic.explicit_bounds.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(downscale((-3, vec![1, 2, 3, 4])), (-2, vec![1, 5, 4]));
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn floats_are_formatted_for_prometheus() {
        assert_eq!(format_float(1.0), "1.0");
        assert_eq!(format_float(0.005), "0.005");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(1e-7), "1e-7");
    }
}
