//! Telling the operator that telemetry is being lost while it happens, not only at shutdown.
//!
//! The first loss of a run is reported at once, as a warning; after that at most one warning a
//! [`REPORT_INTERVAL`], carrying the counts since the previous one. The same counts are
//! exported as ferrotel's own `otel.sdk.*` metrics, so a dashboard can show that telemetry is
//! failing.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::dispatcher::WeakDispatch;

/// The shortest time between two loss warnings after the first.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Rate-limited loss warnings for every signal.
#[derive(Debug)]
pub struct LossReporter {
    interval: Duration,
    state: Mutex<State>,
    /// ferrotel's dispatcher, set once it is built: losses are found on the export threads,
    /// where no subscriber is the default unless ferrotel's was installed globally.
    dispatch: OnceLock<WeakDispatch>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last warning was written; `None` before the first loss.
    last: Option<Instant>,
    /// Losses since the last warning, per signal, with the latest reason.
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    signal: &'static str,
    events: u64,
    reason: String,
}

impl LossReporter {
    /// A reporter that writes at most one warning per `interval` after the first.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(State::default()),
            dispatch: OnceLock::new(),
        }
    }

    /// Writes the warnings through `dispatch` from now on.
    pub fn set_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    /// Writes `message` as a warning now, outside the rate limit: for what is said once, such
    /// as an endpoint that does not serve a signal at all. `message` must be free of secrets.
    pub fn warn_now(&self, message: &str) {
        let warn = || tracing::warn!(target: "ferrotel", "telemetry is being lost: {message}");
        match self.dispatch.get().and_then(WeakDispatch::upgrade) {
            Some(dispatch) => tracing::dispatcher::with_default(&dispatch, warn),
            None => warn(),
        }
    }

    /// Records one loss event of `signal` (a failed export, a full queue) and writes a warning
    /// if one is due. `reason` must already be free of secrets.
    pub fn loss(&self, signal: &'static str, reason: &str) {
        let Some(message) = self.due(signal, reason, Instant::now()) else {
            return;
        };
        let warn = || tracing::warn!(target: "ferrotel", "telemetry is being lost: {message}");
        match self.dispatch.get().and_then(WeakDispatch::upgrade) {
            Some(dispatch) => tracing::dispatcher::with_default(&dispatch, warn),
            None => warn(),
        }
    }

    /// The warning to write now, if any.
    fn due(&self, signal: &'static str, reason: &str, now: Instant) -> Option<String> {
        let mut state = self.state.lock().ok()?;
        match state.pending.iter_mut().find(|p| p.signal == signal) {
            Some(pending) => {
                pending.events += 1;
                if pending.reason != reason {
                    pending.reason = reason.to_owned();
                }
            }
            None => state.pending.push(Pending {
                signal,
                events: 1,
                reason: reason.to_owned(),
            }),
        }
        let first = state.last.is_none();
        let due = state
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        state.last = Some(now);
        let parts: Vec<String> = state
            .pending
            .drain(..)
            .map(|p| {
                format!(
                    "{}: {} loss event(s), last: {}",
                    p.signal, p.events, p.reason
                )
            })
            .collect();
        let when = if first {
            "first loss of this run".to_owned()
        } else {
            format!(
                "since the last report (at most one every {:?})",
                self.interval
            )
        };
        Some(format!(
            "{} ({when}; counts in otel.sdk.* metrics and Guard::stats)",
            parts.join("; ")
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_first_loss_is_reported_at_once_then_once_an_interval_with_counts() {
        let reporter = LossReporter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let first = reporter.due("spans", "refused", t0).unwrap();
        assert!(first.contains("first loss"), "{first}");
        for i in 1..=100 {
            assert!(reporter
                .due("spans", "refused", t0 + Duration::from_millis(i * 100))
                .is_none());
        }
        assert!(reporter
            .due("metrics", "timed out", t0 + Duration::from_secs(30))
            .is_none());
        let next = reporter
            .due("spans", "refused", t0 + Duration::from_secs(61))
            .unwrap();
        assert!(next.contains("spans: 101 loss event(s)"), "{next}");
        assert!(
            next.contains("metrics: 1 loss event(s), last: timed out"),
            "{next}"
        );
    }
}
