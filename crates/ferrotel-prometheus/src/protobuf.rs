//! The Prometheus protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited):
//! what a scraper with native histograms asks for. Exponential histograms become native
//! histograms (with their classic buckets beside them); everything else is the same families
//! as the text formats.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;
use prost::Message as _;

use crate::model::{downscale, ExemplarLine, Exposition, Family, FamilyType, Number, Sample};

/// The content type of the protobuf exposition.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The largest schema Prometheus takes (OpenTelemetry scales go to 20; finer points are
/// merged down to it).
const MAX_SCHEMA: i32 = 8;
/// The smallest.
const MIN_SCHEMA: i32 = -4;

// The messages of prometheus/client_model's metrics.proto that the exposition uses.

#[derive(Clone, PartialEq, prost::Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Gauge {
    #[prost(double, tag = "1")]
    value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Counter {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(message, optional, tag = "2")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Quantile {
    #[prost(double, tag = "1")]
    quantile: f64,
    #[prost(double, tag = "2")]
    value: f64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    quantile: Vec<Quantile>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Histogram {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(sint32, optional, tag = "5")]
    schema: Option<i32>,
    #[prost(double, tag = "6")]
    zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    zero_count: u64,
    #[prost(message, repeated, tag = "9")]
    negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "10")]
    negative_delta: Vec<i64>,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Bucket {
    #[prost(uint64, tag = "1")]
    cumulative_count: u64,
    #[prost(double, tag = "2")]
    upper_bound: f64,
    #[prost(message, optional, tag = "3")]
    exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(double, tag = "2")]
    value: f64,
    #[prost(message, optional, tag = "3")]
    timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Counter>,
    #[prost(message, optional, tag = "4")]
    summary: Option<Summary>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MetricFamily {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    help: String,
    /// COUNTER 0, GAUGE 1, SUMMARY 2, HISTOGRAM 4.
    #[prost(int32, tag = "3")]
    r#type: i32,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
    #[prost(string, tag = "5")]
    unit: String,
}

/// Renders `request` in the protobuf exposition: one length-delimited `MetricFamily` after
/// another. Delta metrics are left out, as in the text formats.
pub fn render_protobuf(request: &ExportMetricsServiceRequest) -> Vec<u8> {
    let exposition = Exposition::from_request(request);
    let mut out = Vec::new();
    for family in &exposition.families {
        let message = family_message(family);
        if message.metric.is_empty() {
            continue;
        }
        // Encoding into a Vec cannot run out of room.
        let _ = message.encode_length_delimited(&mut out);
    }
    out
}

fn labels(pairs: &[(String, String)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| LabelPair {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

fn number(value: Number) -> f64 {
    match value {
        Number::Int(v) => v as f64,
        Number::Count(v) => v as f64,
        Number::Float(v) => v,
    }
}

fn exemplar(line: &ExemplarLine) -> Exemplar {
    Exemplar {
        label: labels(&line.labels),
        value: number(line.value),
        timestamp: line.time_unix_nano.map(|nanos| Timestamp {
            seconds: i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX),
            nanos: i32::try_from(nanos % 1_000_000_000).unwrap_or(0),
        }),
    }
}

fn family_message(family: &Family) -> MetricFamily {
    let (name, kind) = match family.kind {
        FamilyType::Counter => (format!("{}_total", family.name), 0),
        FamilyType::Gauge => (family.name.clone(), 1),
        FamilyType::Info => (format!("{}_info", family.name), 1),
        FamilyType::Summary => (family.name.clone(), 2),
        FamilyType::Histogram => (family.name.clone(), 4),
    };
    let metric = match family.kind {
        FamilyType::Counter => family
            .samples
            .iter()
            .map(|s| Metric {
                label: labels(&s.labels),
                counter: Some(Counter {
                    value: number(s.value),
                    exemplar: s.exemplar.as_ref().map(exemplar),
                }),
                ..Metric::default()
            })
            .collect(),
        FamilyType::Gauge | FamilyType::Info => family
            .samples
            .iter()
            .map(|s| Metric {
                label: labels(&s.labels),
                gauge: Some(Gauge {
                    value: number(s.value),
                }),
                ..Metric::default()
            })
            .collect(),
        FamilyType::Summary => series(&family.samples, "quantile")
            .into_iter()
            .map(|(series_labels, samples)| {
                let mut summary = Summary::default();
                for sample in samples {
                    match sample.suffix {
                        "_sum" => summary.sample_sum = number(sample.value),
                        "_count" => summary.sample_count = number(sample.value) as u64,
                        _ => summary.quantile.push(Quantile {
                            quantile: own_label(sample, "quantile")
                                .and_then(|q| q.parse().ok())
                                .unwrap_or(f64::NAN),
                            value: number(sample.value),
                        }),
                    }
                }
                Metric {
                    label: labels(&series_labels),
                    summary: Some(summary),
                    ..Metric::default()
                }
            })
            .collect(),
        FamilyType::Histogram => series(&family.samples, "le")
            .into_iter()
            .map(|(series_labels, samples)| {
                let mut histogram = Histogram::default();
                for sample in samples {
                    match sample.suffix {
                        "_sum" => histogram.sample_sum = number(sample.value),
                        "_count" => histogram.sample_count = number(sample.value) as u64,
                        _ => {
                            let upper_bound = match own_label(sample, "le") {
                                Some("+Inf") => f64::INFINITY,
                                Some(le) => le.parse().unwrap_or(f64::INFINITY),
                                None => f64::INFINITY,
                            };
                            histogram.bucket.push(Bucket {
                                cumulative_count: number(sample.value) as u64,
                                upper_bound,
                                exemplar: sample.exemplar.as_ref().map(exemplar),
                            });
                        }
                    }
                }
                if let Some((_, point)) = family.native.iter().find(|(l, _)| *l == series_labels) {
                    add_native(&mut histogram, point);
                }
                Metric {
                    label: labels(&series_labels),
                    histogram: Some(histogram),
                    ..Metric::default()
                }
            })
            .collect(),
    };
    MetricFamily {
        name,
        help: family.help.clone(),
        r#type: kind,
        metric,
        unit: family.unit.clone(),
    }
}

/// The value of `label` among a sample's labels.
fn own_label<'s>(sample: &'s Sample, label: &str) -> Option<&'s str> {
    sample
        .labels
        .iter()
        .find(|(name, _)| name == label)
        .map(|(_, value)| value.as_str())
}

/// One series' labels and its samples.
type Series<'s> = (Vec<(String, String)>, Vec<&'s Sample>);

/// The samples grouped by series: their labels without `own` (`le`, `quantile`), in order of
/// first appearance.
fn series<'s>(samples: &'s [Sample], own: &str) -> Vec<Series<'s>> {
    let mut groups: Vec<Series<'s>> = Vec::new();
    for sample in samples {
        let key: Vec<(String, String)> = sample
            .labels
            .iter()
            .filter(|(name, _)| name != own)
            .cloned()
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(sample),
            None => groups.push((key, vec![sample])),
        }
    }
    groups
}

/// The native fields of an exponential point: schema (the scale, merged down to 8), zero
/// bucket, and each side's buckets as one span of delta-encoded counts. OpenTelemetry's
/// bucket `i` holds (base^i, base^(i+1)], Prometheus's bucket `i` (base^(i-1), base^i].
fn add_native(histogram: &mut Histogram, point: &ExponentialHistogramDataPoint) {
    if point.scale < MIN_SCHEMA {
        // Coarser than Prometheus goes: the classic buckets stand alone.
        return;
    }
    let side = |buckets: Option<
        &opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets,
    >| {
        let mut side = buckets
            .map(|b| (b.offset, b.bucket_counts.clone()))
            .unwrap_or_default();
        for _ in MAX_SCHEMA..point.scale {
            side = downscale(side);
        }
        side
    };
    let positive = side(point.positive.as_ref());
    let negative = side(point.negative.as_ref());
    histogram.schema = Some(point.scale.min(MAX_SCHEMA));
    histogram.zero_threshold = point.zero_threshold;
    histogram.zero_count = point.zero_count;
    let encode = |(offset, counts): (i32, Vec<u64>)| -> (Vec<BucketSpan>, Vec<i64>) {
        if counts.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let span = BucketSpan {
            offset: offset.saturating_add(1),
            length: u32::try_from(counts.len()).unwrap_or(u32::MAX),
        };
        let mut previous = 0i64;
        let deltas = counts
            .iter()
            .map(|count| {
                let count = i64::try_from(*count).unwrap_or(i64::MAX);
                let delta = count.saturating_sub(previous);
                previous = count;
                delta
            })
            .collect();
        (vec![span], deltas)
    };
    (histogram.positive_span, histogram.positive_delta) = encode(positive);
    (histogram.negative_span, histogram.negative_delta) = encode(negative);
    if histogram.positive_span.is_empty() && histogram.negative_span.is_empty() {
        // No observations yet: an empty span still marks the histogram as native.
        histogram.positive_span.push(BucketSpan {
            offset: 0,
            length: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;

    #[test]
    fn native_fields_shift_the_index_and_merge_fine_scales() {
        let mut histogram = Histogram::default();
        let point = ExponentialHistogramDataPoint {
            scale: 9,
            zero_count: 2,
            positive: Some(Buckets {
                offset: 4,
                bucket_counts: vec![1, 2, 3, 4],
            }),
            ..Default::default()
        };
        add_native(&mut histogram, &point);
        assert_eq!(histogram.schema, Some(8));
        // Scale 9 indices 4..=7 are scale 8 indices 2, 2, 3, 3: counts 3 and 7 from index 2,
        // which Prometheus numbers 3.
        assert_eq!(
            histogram.positive_span,
            [BucketSpan {
                offset: 3,
                length: 2
            }]
        );
        assert_eq!(histogram.positive_delta, [3, 4]);
        assert_eq!(histogram.zero_count, 2);

        let mut empty = Histogram::default();
        add_native(&mut empty, &ExponentialHistogramDataPoint::default());
        assert_eq!(empty.positive_span.len(), 1, "a no-op span marks it native");
    }
}
