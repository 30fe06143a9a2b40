//! The reservoirs of one histogram instrument: a sharded map from attribute set to [`Series`],
//! bounded like the SDK's own aggregation map.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use opentelemetry::KeyValue;
use prost::Message;

use crate::reservoir::{bucket_index, Measured, Sample, Series};
use crate::rng::thread_random;

/// The attribute the SDK puts on the data point that collects measurements beyond the limit.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Shards of the series map: recorders on different attribute sets rarely share a lock.
const SHARDS: usize = 8;

/// A map key that is already a hash.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are used; fold anything else in to stay correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One map entry: the attribute set in the order a recorder gave it, and its series. A series
/// is stored once under its sorted attributes (`canonical`) and possibly under other orders.
#[derive(Debug)]
struct Entry {
    attributes: Vec<KeyValue>,
    series: Arc<Series>,
    canonical: bool,
}

type Shard = HashMap<u64, Vec<Entry>, BuildHasherDefault<Prehashed>>;

/// What one collection of an instrument yields.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Kept samples per series, by canonical attribute key (see [`attributes_key`]).
    pub(crate) samples: HashMap<Vec<u8>, Vec<Sample>>,
    /// Offers for new attribute sets refused because the map was full.
    pub(crate) dropped: u64,
}

/// Every instrument's id: a thread's series cache must never mistake a new instrument at a
/// freed one's address for the old one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Series a thread offered to last, per instrument: the common repeated attribute set skips
/// the hash, the shard lock and the map lookup.
const CACHED_SERIES: usize = 8;

struct Cached {
    instrument: u64,
    attributes: Vec<KeyValue>,
    series: Arc<Series>,
}

thread_local! {
    static LAST_SERIES: std::cell::RefCell<(usize, Vec<Cached>)> =
        const { std::cell::RefCell::new((0, Vec::new())) };
}

/// The cached series of `attributes` on `instrument`, if this thread has one still in its map.
fn cached_series(instrument: u64, attributes: &[KeyValue]) -> Option<Arc<Series>> {
    LAST_SERIES
        .try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            cache
                .1
                .iter()
                .find(|c| c.instrument == instrument && c.attributes == attributes)
                .filter(|c| !c.series.evicted.load(Ordering::Relaxed))
                .map(|c| Arc::clone(&c.series))
        })
        .ok()
        .flatten()
}

/// Remembers `series` as this thread's series of `attributes` on `instrument`.
fn remember_series(instrument: u64, attributes: &[KeyValue], series: &Arc<Series>) {
    let _ = LAST_SERIES.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return;
        };
        let (next, entries) = &mut *cache;
        let entry = Cached {
            instrument,
            attributes: attributes.to_vec(),
            series: Arc::clone(series),
        };
        // Round robin once full: a thread with more hot series than slots still works.
        if entries.len() < CACHED_SERIES {
            entries.push(entry);
        } else if let Some(slot) = entries.get_mut(*next % CACHED_SERIES) {
            *slot = entry;
            *next = next.wrapping_add(1);
        }
    });
}

/// The reservoirs of one histogram instrument.
#[derive(Debug)]
pub(crate) struct InstrumentState {
    id: u64,
    /// The meter's scope name when the builder was told it; `None` matches any scope.
    pub(crate) scope: Option<String>,
    pub(crate) name: String,
    pub(crate) boundaries: Vec<f64>,
    hasher: SeriesHasher,
    shards: Box<[RwLock<Shard>]>,
    series_count: AtomicUsize,
    alias_count: AtomicUsize,
    limit: usize,
    /// Where measurements for attribute sets beyond the limit go, like the SDK's overflow point.
    overflow: Series,
    overflow_key: Vec<u8>,
    dropped: AtomicU64,
}

impl InstrumentState {
    pub(crate) fn new(
        scope: Option<String>,
        name: String,
        boundaries: Vec<f64>,
        limit: usize,
    ) -> Self {
        let overflow_attrs = vec![KeyValue::new(OVERFLOW_KEY, true)];
        let overflow_key = key_of_sdk_attributes(&overflow_attrs);
        let cells = boundaries.len() + 1;
        InstrumentState {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scope,
            name,
            boundaries,
            hasher: SeriesHasher::new(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            series_count: AtomicUsize::new(0),
            alias_count: AtomicUsize::new(0),
            limit,
            overflow: Series::new(overflow_attrs, cells),
            overflow_key,
            dropped: AtomicU64::new(0),
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The high bits: the low ones pick the bucket inside the shard's map.
        let index = (hash >> 59) as usize % self.shards.len();
        &self.shards[index]
    }

    /// Offers a measurement to the reservoir of `attributes`. Non-finite values are ignored,
    /// as the SDK's histogram ignores them.
    pub(crate) fn offer(
        &self,
        attributes: &[KeyValue],
        value: Measured,
        ids: Option<([u8; 16], [u8; 8])>,
    ) {
        let as_f64 = value.as_f64();
        if !as_f64.is_finite() {
            return;
        }
        let bucket = bucket_index(&self.boundaries, as_f64);
        let random = thread_random();
        let sample = move || Sample::now(value, ids);

        // Fastest path: this thread offered the same attribute set to this instrument lately.
        // A series evicted between the check and the offer loses that one sample; the
        // re-check sends it on through the map instead.
        if let Some(series) = cached_series(self.id, attributes) {
            series.offer(bucket, random, sample);
            if !series.evicted.load(Ordering::Relaxed) {
                return;
            }
        }

        // Fast path: the attribute set is known in this order.
        let hash = self.hasher.hash_one(attributes);
        {
            let shard = self
                .shard(hash)
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = shard
                .get(&hash)
                .and_then(|entries| entries.iter().find(|e| e.attributes == attributes))
            {
                entry.series.offer(bucket, random, sample);
                let series = Arc::clone(&entry.series);
                drop(shard);
                remember_series(self.id, attributes, &series);
                return;
            }
        }

        // Slow path: find or create the series under its sorted attributes.
        let sorted = sort_and_dedup(attributes);
        match self.series_for(sorted) {
            Some(series) => {
                if series.attributes != attributes {
                    self.add_alias(hash, attributes, Arc::clone(&series));
                }
                series.offer(bucket, random, sample);
            }
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                self.overflow.offer(bucket, random, sample);
            }
        }
    }

    /// The series of a sorted attribute set, created if the limit allows.
    fn series_for(&self, sorted: Vec<KeyValue>) -> Option<Arc<Series>> {
        let hash = self.hasher.hash_one(&sorted);
        let mut shard = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = shard.entry(hash).or_default();
        if let Some(entry) = entries.iter().find(|e| e.attributes == sorted) {
            return Some(Arc::clone(&entry.series));
        }
        let reserved = self
            .series_count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limit).then_some(n + 1)
            });
        if reserved.is_err() {
            if entries.is_empty() {
                shard.remove(&hash);
            }
            return None;
        }
        let series = Arc::new(Series::new(sorted.clone(), self.boundaries.len() + 1));
        entries.push(Entry {
            attributes: sorted,
            series: Arc::clone(&series),
            canonical: true,
        });
        Some(series)
    }

    /// Remembers another order of a known attribute set, so the next offer takes the fast path.
    /// Bounded too; past the bound, such offers keep taking the slow path.
    fn add_alias(&self, hash: u64, attributes: &[KeyValue], series: Arc<Series>) {
        if self.alias_count.load(Ordering::Relaxed) >= self.limit {
            return;
        }
        let mut shard = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = shard.entry(hash).or_default();
        if entries.iter().any(|e| e.attributes == attributes) {
            return;
        }
        entries.push(Entry {
            attributes: attributes.to_vec(),
            series,
            canonical: false,
        });
        self.alias_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Collects every series and starts a new sampling period (see [`Series::collect`]). With
    /// `delta`, series not offered anything since the previous delta collection are evicted,
    /// as the SDK evicts idle attribute sets from delta aggregations.
    pub(crate) fn collect(&self, delta: bool) -> Collected {
        let mut out = Collected::default();
        let mut evicted = 0usize;
        for shard in self.shards.iter() {
            if delta {
                let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
                for entries in shard.values_mut() {
                    for entry in entries.iter().filter(|e| e.canonical) {
                        let samples = entry.series.collect(true);
                        if !entry.series.take_touched() {
                            entry.series.evicted.store(true, Ordering::Relaxed);
                            evicted += 1;
                        }
                        push_samples(&mut out, &entry.series.attributes, samples);
                    }
                    entries.retain(|e| !(e.canonical && e.series.evicted.load(Ordering::Relaxed)));
                }
                shard.retain(|_, entries| !entries.is_empty());
            } else {
                let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
                for entry in shard.values().flatten().filter(|e| e.canonical) {
                    let samples = entry.series.collect(false);
                    push_samples(&mut out, &entry.series.attributes, samples);
                }
            }
        }
        if evicted > 0 {
            self.series_count.fetch_sub(evicted, Ordering::Relaxed);
            let mut aliases_removed = 0;
            for shard in self.shards.iter() {
                let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
                for entries in shard.values_mut() {
                    let before = entries.len();
                    entries.retain(|e| !e.series.evicted.load(Ordering::Relaxed));
                    aliases_removed += before - entries.len();
                }
                shard.retain(|_, entries| !entries.is_empty());
            }
            self.alias_count
                .fetch_sub(aliases_removed, Ordering::Relaxed);
        }
        let overflow = self.overflow.collect(delta);
        if !overflow.is_empty() {
            out.samples.insert(self.overflow_key.clone(), overflow);
        }
        out.dropped = self.dropped.swap(0, Ordering::Relaxed);
        out
    }

    /// How many attribute sets have a reservoir (the overflow one not counted).
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.series_count.load(Ordering::Relaxed)
    }
}

fn push_samples(out: &mut Collected, attributes: &[KeyValue], samples: Vec<Sample>) {
    if !samples.is_empty() {
        out.samples
            .insert(key_of_sdk_attributes(attributes), samples);
    }
}

/// Sorted by key, first occurrence of a repeated key kept (the SDK keeps one of them).
pub(crate) fn sort_and_dedup(attributes: &[KeyValue]) -> Vec<KeyValue> {
    let mut sorted = attributes.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    sorted.dedup_by(|a, b| a.key == b.key);
    sorted
}

/// The canonical key of an SDK attribute set: its OTLP encoding, sorted by key. Equal to
/// [`attributes_key`] of the data point the SDK exports for that set.
fn key_of_sdk_attributes(attributes: &[KeyValue]) -> Vec<u8> {
    let proto: Vec<opentelemetry_proto::tonic::common::v1::KeyValue> =
        attributes.iter().map(Into::into).collect();
    attributes_key(&proto)
}

/// The canonical key of an OTLP attribute list: each attribute's protobuf encoding, in key
/// order.
pub(crate) fn attributes_key(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> Vec<u8> {
    let mut refs: Vec<_> = attributes.iter().collect();
    refs.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::new();
    for kv in refs {
        // Length-delimited, so concatenations cannot collide.
        kv.encode_length_delimited(&mut out).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_cached_series_that_was_evicted_is_not_offered_to() {
        let state = InstrumentState::new(None, "h".into(), vec![1.0], 10);
        let attrs = [KeyValue::new("a", 1)];
        // Twice: the second offer is served from this thread's cache.
        state.offer(&attrs, Measured::F64(0.5), None);
        state.offer(&attrs, Measured::F64(0.5), None);
        assert_eq!(state.collect(true).samples.len(), 1);
        // Idle for one period: evicted from the map.
        assert!(state.collect(true).samples.is_empty());
        assert_eq!(state.series_count(), 0);
        // The thread still caches the evicted series; the offer must reach a new one.
        state.offer(&attrs, Measured::F64(2.0), None);
        state.offer(&attrs, Measured::F64(2.0), None);
        assert_eq!(state.series_count(), 1);
        let got = state.collect(true);
        let values: Vec<f64> = got.samples[&key_of_sdk_attributes(&attrs)]
            .iter()
            .map(|s| s.value.as_f64())
            .collect();
        assert_eq!(values, vec![2.0]);
    }

    #[test]
    fn instruments_do_not_share_a_threads_cache() {
        let a = InstrumentState::new(None, "a".into(), vec![1.0], 10);
        let b = InstrumentState::new(None, "b".into(), vec![1.0], 10);
        let attrs = [KeyValue::new("k", "v")];
        for _ in 0..3 {
            a.offer(&attrs, Measured::F64(0.5), None);
        }
        b.offer(&attrs, Measured::F64(0.5), None);
        assert_eq!(a.series_count(), 1);
        assert_eq!(b.series_count(), 1);
        assert_eq!(b.collect(true).samples.len(), 1);
    }

    #[test]
    fn attribute_order_does_not_split_series() {
        let state = InstrumentState::new(None, "h".into(), vec![1.0, 2.0], 10);
        let ab = [KeyValue::new("a", 1), KeyValue::new("b", "x")];
        let ba = [KeyValue::new("b", "x"), KeyValue::new("a", 1)];
        state.offer(&ab, Measured::F64(0.5), None);
        state.offer(&ba, Measured::F64(1.5), None);
        state.offer(&ba, Measured::F64(9.0), None);
        assert_eq!(state.series_count(), 1);
        let got = state.collect(true);
        let key = key_of_sdk_attributes(&ab);
        let samples = &got.samples[&key];
        let values: Vec<f64> = samples.iter().map(|s| s.value.as_f64()).collect();
        assert_eq!(values, vec![0.5, 1.5, 9.0]);
    }

    #[test]
    fn limit_sends_new_sets_to_overflow_and_counts_them() {
        let state = InstrumentState::new(None, "h".into(), vec![], 2);
        for i in 0..5 {
            state.offer(&[KeyValue::new("i", i)], Measured::F64(1.0), None);
        }
        assert_eq!(state.series_count(), 2);
        let got = state.collect(false);
        assert_eq!(got.dropped, 3);
        assert_eq!(got.samples.len(), 3, "two series and the overflow one");
        let overflow = key_of_sdk_attributes(&[KeyValue::new(OVERFLOW_KEY, true)]);
        assert!(got.samples.contains_key(&overflow));
    }

    #[test]
    fn delta_evicts_idle_series_cumulative_keeps_them() {
        let state = InstrumentState::new(None, "h".into(), vec![], 10);
        state.offer(&[KeyValue::new("k", "v")], Measured::F64(1.0), None);
        state.offer(
            &[KeyValue::new("z", 1), KeyValue::new("a", 2)],
            Measured::F64(1.0),
            None,
        );
        let cumulative = state.collect(false);
        assert_eq!(cumulative.samples.len(), 2);
        assert_eq!(state.series_count(), 2);
        // Offered before: survives the first delta collection, evicted by the second.
        assert_eq!(state.collect(true).samples.len(), 2);
        assert_eq!(state.series_count(), 2);
        assert!(state.collect(true).samples.is_empty());
        assert_eq!(state.series_count(), 0);
        // Recreated on the next offer, in either order.
        state.offer(
            &[KeyValue::new("z", 1), KeyValue::new("a", 2)],
            Measured::F64(3.0),
            None,
        );
        assert_eq!(state.series_count(), 1);
        assert_eq!(state.collect(true).samples.len(), 1);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let state = InstrumentState::new(None, "h".into(), vec![1.0], 10);
        state.offer(&[], Measured::F64(f64::NAN), None);
        state.offer(&[], Measured::F64(f64::INFINITY), None);
        assert!(state.collect(true).samples.is_empty());
    }

    #[test]
    fn proto_and_sdk_keys_agree() {
        let sdk = [KeyValue::new("b", 2.5), KeyValue::new("a", "x")];
        let proto: Vec<opentelemetry_proto::tonic::common::v1::KeyValue> =
            sdk.iter().rev().map(Into::into).collect();
        assert_eq!(key_of_sdk_attributes(&sdk), attributes_key(&proto));
        assert_ne!(key_of_sdk_attributes(&sdk[..1]), attributes_key(&proto));
    }
}

#[cfg(test)]
mod concurrency_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn concurrent_offers_keep_one_series_per_set() {
        let state = Arc::new(InstrumentState::new(None, "h".into(), vec![10.0], 1000));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let state = Arc::clone(&state);
                std::thread::spawn(move || {
                    for i in 0..2000u32 {
                        let set = i64::from(i % 50);
                        // Half the threads give the attributes in reverse order.
                        let mut attrs = vec![KeyValue::new("a", set), KeyValue::new("b", "x")];
                        if t % 2 == 1 {
                            attrs.reverse();
                        }
                        let value = if (i / 50) % 2 == 0 { 1.0 } else { 20.0 };
                        state.offer(&attrs, Measured::F64(value), None);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(state.series_count(), 50);
        let got = state.collect(true);
        assert_eq!(got.samples.len(), 50);
        assert!(
            got.samples.values().all(|s| s.len() == 2),
            "both buckets seen"
        );
        assert_eq!(got.dropped, 0);
    }
}

/// Hashes attribute sets on the recording path. SipHash (the std default) costs about as much
/// as the SDK's whole record; this multiply-rotate hash (FxHash's) is a few nanoseconds. Its
/// weakness to crafted collisions is bounded here: a reservoir map holds at most `limit` series,
/// and the per-process random seed keeps the collisions from being known in advance.
#[derive(Debug, Clone, Copy)]
struct SeriesHasher {
    seed: u64,
}

impl SeriesHasher {
    fn new() -> Self {
        SeriesHasher {
            seed: crate::rng::thread_random() | 1,
        }
    }
}

impl BuildHasher for SeriesHasher {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher { hash: self.seed }
    }
}

/// FxHash: `hash = (hash.rotate_left(5) ^ word) * K` per word.
#[derive(Debug, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

const FX_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_K);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}
