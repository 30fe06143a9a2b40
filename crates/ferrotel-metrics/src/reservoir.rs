//! The aligned-bucket reservoir of one series (one attribute set of one histogram): one cell per
//! histogram bucket, each keeping a uniformly random measurement of those offered to it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};

/// A measured value, kept in the instrument's own number type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Measured {
    /// From an `f64` histogram: exported as `as_double`.
    F64(f64),
    /// From a `u64` histogram: exported as `as_int` (saturating at `i64::MAX`).
    U64(u64),
}

impl Measured {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Measured::F64(v) => v,
            Measured::U64(v) => v as f64,
        }
    }
}

/// One kept measurement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) value: Measured,
    pub(crate) time_unix_nano: u64,
    /// Trace and span id of the span the measurement was made in; `None` outside a span.
    pub(crate) ids: Option<([u8; 16], [u8; 8])>,
}

impl Sample {
    /// A sample taken now.
    pub(crate) fn now(value: Measured, ids: Option<([u8; 16], [u8; 8])>) -> Self {
        Sample {
            value,
            time_unix_nano: now_unix_nanos(),
            ids,
        }
    }

    /// The OTLP exemplar. `filtered_attributes` stays empty: measurements are matched to data
    /// points by their full attribute set, so no attribute is ever filtered out of one.
    pub(crate) fn to_proto(&self) -> Exemplar {
        let (trace_id, span_id) = match &self.ids {
            Some((trace, span)) => (trace.to_vec(), span.to_vec()),
            None => (Vec::new(), Vec::new()),
        };
        let value = match self.value {
            Measured::F64(v) => exemplar::Value::AsDouble(v),
            Measured::U64(v) => exemplar::Value::AsInt(i64::try_from(v).unwrap_or(i64::MAX)),
        };
        Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: self.time_unix_nano,
            value: Some(value),
            span_id,
            trace_id,
        }
    }
}

/// The wall-clock time in nanoseconds since the Unix epoch (0 before it, saturating after
/// 2554), as OTLP timestamps are.
pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The bucket of `value`: the first index whose boundary is `>= value`, else the last bucket
/// (`boundaries.len()`). Matches the SDK's explicit-bucket aggregation.
pub(crate) fn bucket_index(boundaries: &[f64], value: f64) -> usize {
    boundaries.partition_point(|boundary| *boundary < value)
}

/// One reservoir cell.
#[derive(Debug, Default)]
struct Cell {
    /// Measurements offered since the last collection.
    seen: AtomicU64,
    slot: Mutex<Option<Sample>>,
}

/// The reservoir of one attribute set.
#[derive(Debug)]
pub(crate) struct Series {
    /// The attribute set, sorted by key and deduplicated.
    pub(crate) attributes: Vec<KeyValue>,
    cells: Box<[Cell]>,
    /// Offered to since the previous delta collection (idle series are evicted).
    touched: AtomicBool,
    /// Removed from its instrument's map; offers still landing here are lost.
    pub(crate) evicted: AtomicBool,
}

impl Series {
    /// An empty reservoir with `cells` cells (boundaries + 1).
    pub(crate) fn new(attributes: Vec<KeyValue>, cells: usize) -> Self {
        Series {
            attributes,
            cells: (0..cells).map(|_| Cell::default()).collect(),
            touched: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
        }
    }

    /// Offers a measurement to cell `bucket`. `random` is a uniformly random number; the
    /// sample is built only when it is kept (the n-th offer since the last collection is kept
    /// with probability 1/n, which leaves each offer equally likely to be the one kept).
    pub(crate) fn offer(&self, bucket: usize, random: u64, sample: impl FnOnce() -> Sample) {
        if !self.touched.load(Ordering::Relaxed) {
            self.touched.store(true, Ordering::Relaxed);
        }
        let Some(cell) = self.cells.get(bucket) else {
            return;
        };
        let seen = cell.seen.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if random.is_multiple_of(seen) {
            let sample = sample();
            *cell.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(sample);
        }
    }

    /// The kept samples, in bucket order, and a new sampling period for every cell. `delta`
    /// empties the cells; otherwise each keeps its sample until a newer measurement in the
    /// same bucket replaces it (the first offer of a period always does).
    pub(crate) fn collect(&self, delta: bool) -> Vec<Sample> {
        let mut out = Vec::new();
        for cell in self.cells.iter() {
            cell.seen.store(0, Ordering::Relaxed);
            let mut slot = cell.slot.lock().unwrap_or_else(PoisonError::into_inner);
            let kept = if delta { slot.take() } else { slot.clone() };
            out.extend(kept);
        }
        out
    }

    /// Whether the series was offered anything since the previous call.
    pub(crate) fn take_touched(&self) -> bool {
        self.touched.swap(false, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::rng::XorShift64;

    fn sample(value: f64) -> Sample {
        Sample {
            value: Measured::F64(value),
            time_unix_nano: value as u64,
            ids: None,
        }
    }

    #[test]
    fn bucket_edges() {
        let bounds = [0.0, 5.0, 10.0];
        assert_eq!(bucket_index(&bounds, -3.0), 0, "negative goes to (-inf, 0]");
        assert_eq!(
            bucket_index(&bounds, 0.0),
            0,
            "equal to a boundary: that bucket"
        );
        assert_eq!(bucket_index(&bounds, 0.1), 1);
        assert_eq!(bucket_index(&bounds, 5.0), 1);
        assert_eq!(bucket_index(&bounds, 10.0), 2);
        assert_eq!(
            bucket_index(&bounds, 10.5),
            3,
            "above the last: overflow bucket"
        );
        assert_eq!(bucket_index(&bounds, f64::MAX), 3);
        assert_eq!(bucket_index(&[], 42.0), 0, "no boundaries: one bucket");
    }

    #[test]
    fn uniform_replacement_is_fair() {
        // 10 values offered to one cell, 20000 rounds: each should be kept ~2000 times.
        let mut rng = XorShift64::seeded(7);
        let mut kept = [0u32; 10];
        for _ in 0..20_000 {
            let series = Series::new(Vec::new(), 1);
            for v in 0..10 {
                series.offer(0, rng.next_u64(), || sample(v as f64));
            }
            let got = series.collect(true);
            assert_eq!(got.len(), 1);
            kept[got[0].value.as_f64() as usize] += 1;
        }
        for (value, count) in kept.iter().enumerate() {
            assert!(
                (1700..=2300).contains(count),
                "value {value} kept {count} times of 20000 (expected ~2000): {kept:?}"
            );
        }
    }

    #[test]
    fn delta_resets_cumulative_keeps_latest() {
        let series = Series::new(Vec::new(), 3);
        series.offer(0, 0, || sample(1.0));
        series.offer(2, 0, || sample(7.0));
        assert_eq!(series.collect(false), vec![sample(1.0), sample(7.0)]);
        // Cumulative: kept, and the next offer to bucket 0 replaces (a new period).
        series.offer(0, 12345, || sample(2.0));
        assert_eq!(series.collect(false), vec![sample(2.0), sample(7.0)]);
        // Delta: taken, then empty.
        assert_eq!(series.collect(true), vec![sample(2.0), sample(7.0)]);
        assert!(series.collect(true).is_empty());
    }

    #[test]
    fn out_of_range_bucket_is_ignored_and_touch_is_tracked() {
        let series = Series::new(Vec::new(), 2);
        assert!(!series.take_touched());
        series.offer(5, 0, || sample(1.0));
        assert!(series.take_touched());
        assert!(!series.take_touched());
        assert!(series.collect(true).is_empty());
    }

    #[test]
    fn proto_exemplar() {
        let s = Sample {
            value: Measured::U64(u64::MAX),
            time_unix_nano: 5,
            ids: Some(([1; 16], [2; 8])),
        };
        let e = s.to_proto();
        assert_eq!(e.value, Some(exemplar::Value::AsInt(i64::MAX)));
        assert_eq!(e.trace_id, vec![1; 16]);
        assert_eq!(e.span_id, vec![2; 8]);
        assert_eq!(e.time_unix_nano, 5);
        let none = sample(1.5).to_proto();
        assert!(none.trace_id.is_empty() && none.span_id.is_empty());
        assert_eq!(none.value, Some(exemplar::Value::AsDouble(1.5)));
    }
}
