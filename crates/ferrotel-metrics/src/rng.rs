//! A small xorshift generator: reservoir sampling and retry jitter need cheap randomness, not
//! cryptographic randomness, and a thread-local state keeps the record path free of locks.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// xorshift64* (Vigna): 64 bits of state, one multiply per number.
#[derive(Debug, Clone)]
pub(crate) struct XorShift64(u64);

impl XorShift64 {
    /// A generator started from `seed` (0, the one state xorshift cannot leave, is replaced).
    pub(crate) fn seeded(seed: u64) -> Self {
        XorShift64(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next number.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

thread_local! {
    /// Seeded per thread from std's per-process random keys and the thread id.
    static THREAD_RNG: Cell<u64> = Cell::new(
        XorShift64::seeded(RandomState::new().hash_one(std::thread::current().id())).0,
    );
}

/// A random number from this thread's generator.
pub(crate) fn thread_random() -> u64 {
    THREAD_RNG.with(|state| {
        let mut rng = XorShift64(state.get());
        let out = rng.next_u64();
        state.set(rng.0);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_seed_still_moves_and_threads_differ() {
        let mut rng = XorShift64::seeded(0);
        let a = rng.next_u64();
        assert_ne!(a, rng.next_u64());
        let here = thread_random();
        let there = std::thread::spawn(thread_random).join().unwrap_or(here);
        assert_ne!(here, there);
    }
}
