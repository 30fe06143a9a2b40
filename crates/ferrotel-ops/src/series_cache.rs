//! A small cache of metric series by key, for the outcomes of an operation: few keys, read
//! far more often than written.

use std::sync::{PoisonError, RwLock};

/// Values by key in a short list: a linear scan of a handful of entries under a read lock is
/// cheaper than hashing.
pub(crate) struct SeriesCache<K, V> {
    entries: RwLock<Vec<(K, V)>>,
}

impl<K: PartialEq + Copy, V: Clone> SeriesCache<K, V> {
    pub(crate) fn new() -> Self {
        SeriesCache {
            entries: RwLock::new(Vec::new()),
        }
    }

    /// The value of `key`, made by `make` on the key's first use.
    pub(crate) fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> V {
        if let Some((_, found)) = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, _)| *k == key)
        {
            return found.clone();
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, found)) = entries.iter().find(|(k, _)| *k == key) {
            return found.clone();
        }
        let made = make();
        entries.push((key, made.clone()));
        made
    }
}

impl<K, V> std::fmt::Debug for SeriesCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesCache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn makes_each_key_once() {
        let cache = SeriesCache::new();
        let mut made = 0;
        for key in [1, 2, 1, 1, 2] {
            cache.get_or_insert_with(key, || {
                made += 1;
                key * 10
            });
        }
        assert_eq!(made, 2);
        assert_eq!(cache.get_or_insert_with(2, || 0), 20);
    }
}
