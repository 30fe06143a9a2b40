//! Interned strings for what repeats from request to request: method names, services, hosts
//! and peer addresses. An interned string is `&'static`, so spans and metric attributes carry
//! it without an allocation or a reference count per request.
//!
//! Interned strings are leaked on purpose, and both the count and the length are bounded, so a
//! peer sending endless new paths costs at most the bound; past it every request allocates its
//! own copy, as before.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{PoisonError, RwLock};

/// An Fx-style hash: the keys are short strings, and SipHash's flood resistance is not needed
/// for a set whose size is bounded.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
}

type Set = HashSet<&'static str, BuildHasherDefault<FxHasher>>;

/// Longest string worth interning (a method path or an address is far shorter).
const MAX_LEN: usize = 256;

/// A bounded set of leaked strings.
pub(crate) struct Interner {
    set: RwLock<Option<Set>>,
    limit: usize,
}

impl Interner {
    pub(crate) const fn new(limit: usize) -> Self {
        Interner {
            set: RwLock::new(None),
            limit,
        }
    }

    /// `s` as a `'static` string when it is (or can be) interned, else an owned copy.
    pub(crate) fn get(&self, s: &str) -> Cow<'static, str> {
        if let Some(found) = self
            .set
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|set| set.get(s))
        {
            return Cow::Borrowed(found);
        }
        if s.len() > MAX_LEN {
            return Cow::Owned(s.to_owned());
        }
        let mut guard = self.set.write().unwrap_or_else(PoisonError::into_inner);
        let set = guard.get_or_insert_with(Set::default);
        if let Some(found) = set.get(s) {
            return Cow::Borrowed(found);
        }
        if set.len() >= self.limit {
            return Cow::Owned(s.to_owned());
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        set.insert(leaked);
        Cow::Borrowed(leaked)
    }
}

/// A per-thread memo of the last few answers for keys that repeat from request to request, in
/// front of work whose answer for a key never changes (parsing an authority, formatting an
/// address, an interner's lock and hash). Replaced round-robin; a miss costs one scan of `N`.
pub(crate) struct Recent<K, V, const N: usize> {
    entries: [Option<(K, V)>; N],
    next: usize,
}

impl<K, V: Clone, const N: usize> Recent<K, V, N> {
    pub(crate) const fn new() -> Self {
        Recent {
            entries: [const { None }; N],
            next: 0,
        }
    }

    /// The answer kept for the first key `is_key` accepts.
    pub(crate) fn get(&self, is_key: impl Fn(&K) -> bool) -> Option<V> {
        self.entries
            .iter()
            .flatten()
            .find(|(k, _)| is_key(k))
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&mut self, key: K, value: V) {
        if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = Some((key, value));
        }
        self.next = (self.next + 1) % N.max(1);
    }
}

/// Method paths, services and server hosts: what a deployment has a fixed number of.
pub(crate) static NAMES: Interner = Interner::new(4096);

/// Peer addresses: as many as there are clients, so bounded on their own.
pub(crate) static PEERS: Interner = Interner::new(4096);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_up_to_the_limit_then_copies() {
        let interner = Interner::new(2);
        assert!(matches!(interner.get("a"), Cow::Borrowed("a")));
        assert!(matches!(interner.get("a"), Cow::Borrowed("a")));
        assert!(matches!(interner.get("b"), Cow::Borrowed("b")));
        assert!(matches!(interner.get("c"), Cow::Owned(ref s) if s == "c"));
        let long = "x".repeat(MAX_LEN + 1);
        assert!(matches!(interner.get(&long), Cow::Owned(_)));
    }

    #[test]
    fn recent_keeps_the_last_n_answers() {
        let mut recent: Recent<u32, &str, 2> = Recent::new();
        assert_eq!(recent.get(|k| *k == 1), None);
        recent.put(1, "one");
        recent.put(2, "two");
        assert_eq!(recent.get(|k| *k == 1), Some("one"));
        recent.put(3, "three");
        assert_eq!(recent.get(|k| *k == 1), None, "the oldest gave way");
        assert_eq!(recent.get(|k| *k == 2), Some("two"));
        assert_eq!(recent.get(|k| *k == 3), Some("three"));
    }
}
