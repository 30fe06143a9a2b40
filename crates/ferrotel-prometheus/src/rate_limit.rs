//! A token bucket: `rate` tokens per second, holding at most `burst`.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Admits at most `rate` requests per second on average, with bursts of up to `burst`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket; `rate == 0` admits everything (no limit). A `burst` below one holds
    /// one token, so a limited endpoint still answers `rate` scrapes a second.
    pub(crate) fn new(rate: u32, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: f64::from(rate),
            burst,
            state: Mutex::new(State {
                tokens: burst,
                refilled_at: Instant::now(),
            }),
        }
    }

    /// Takes a token if one is available.
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now
            .saturating_duration_since(state.refilled_at)
            .as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.burst);
        state.refilled_at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_refill() {
        let bucket = TokenBucket::new(3, 3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.try_acquire_at(t0)));
        assert!(!bucket.try_acquire_at(t0));
        // A third of a second brings one token back, and never more than the burst.
        assert!(bucket.try_acquire_at(t0 + Duration::from_millis(334)));
        assert!(!bucket.try_acquire_at(t0 + Duration::from_millis(335)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_acquire_at(later)).count(), 3);
    }

    #[test]
    fn the_burst_is_its_own_size_not_the_rate() {
        let bucket = TokenBucket::new(1, 5);
        let t0 = Instant::now();
        assert_eq!((0..10).filter(|_| bucket.try_acquire_at(t0)).count(), 5);
        // Refilled at the rate, up to the burst.
        assert!(bucket.try_acquire_at(t0 + Duration::from_millis(1000)));
        assert!(!bucket.try_acquire_at(t0 + Duration::from_millis(1001)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_acquire_at(later)).count(), 5);
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let bucket = TokenBucket::new(0, 20);
        assert!((0..1000).all(|_| bucket.try_acquire()));
    }
}
