//! Injected misbehaviour: how the receiver answers instead of a plain success.

use std::time::Duration;

use crate::record::Outcome;
use crate::store::Store;

/// A misbehaviour the receiver applies to export requests on both transports, set with
/// [`ReceiverBuilder::fault`](crate::ReceiverBuilder::fault) or
/// [`Receiver::set_fault`](crate::Receiver::set_fault).
///
/// Only well-formed export requests consume a fault; requests that fail to decode are answered
/// as invalid whatever the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer the next `times` requests with gRPC `UNAVAILABLE` (with a `google.rpc.RetryInfo`
    /// detail when `retry_after` is set) / HTTP 503 (with `Retry-After` in whole seconds,
    /// rounded up), then behave normally. Rejected items are not stored.
    Unavailable {
        /// How many requests to reject.
        times: u32,
        /// The retry delay to advertise.
        retry_after: Option<Duration>,
    },
    /// Answer the next `times` requests with gRPC `RESOURCE_EXHAUSTED` (with `RetryInfo` when
    /// `retry_after` is set) / HTTP 429 (with `Retry-After`), then behave normally.
    TooManyRequests {
        /// How many requests to reject.
        times: u32,
        /// The retry delay to advertise.
        retry_after: Option<Duration>,
    },
    /// Answer every request only after this delay (then accept it), until the fault is cleared.
    Delay(Duration),
    /// Reject every request permanently: gRPC `INVALID_ARGUMENT` / HTTP 400, until cleared.
    Refuse,
    /// Store every request but answer with a partial success carrying these values, until
    /// cleared.
    PartialSuccess {
        /// The rejected spans / data points count to report.
        rejected: i64,
        /// The message to report.
        message: String,
    },
}

/// A fault with its remaining count.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    fault: Fault,
    remaining: u32,
}

impl ActiveFault {
    pub(crate) fn new(fault: Fault) -> Self {
        let remaining = match &fault {
            Fault::Unavailable { times, .. } | Fault::TooManyRequests { times, .. } => *times,
            _ => 0,
        };
        ActiveFault { fault, remaining }
    }
}

/// What a server should do with one well-formed export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Accept, after waiting this long if set, reporting a partial success if `partial` is set.
    Accept {
        delay: Option<Duration>,
        partial: Option<(i64, String)>,
    },
    /// Reject with this outcome (one of Unavailable, TooManyRequests, Refused).
    Reject(Outcome),
}

impl Decision {
    /// The outcome to record when the request is accepted.
    pub(crate) fn accepted_outcome(partial: &Option<(i64, String)>) -> Outcome {
        match partial {
            Some((rejected, message)) => Outcome::PartiallyAccepted {
                rejected: *rejected,
                message: message.clone(),
            },
            None => Outcome::Accepted,
        }
    }
}

/// Consumes one use of the active fault, if any, and says how to answer.
pub(crate) fn decide(store: &Store) -> Decision {
    let normal = Decision::Accept {
        delay: None,
        partial: None,
    };
    store.update(|state| {
        let Some(active) = state.fault.as_mut() else {
            return normal;
        };
        let decision = match &active.fault {
            Fault::Unavailable { retry_after, .. } | Fault::TooManyRequests { retry_after, .. } => {
                if active.remaining == 0 {
                    normal
                } else {
                    active.remaining -= 1;
                    let retry_after = *retry_after;
                    Decision::Reject(match active.fault {
                        Fault::Unavailable { .. } => Outcome::Unavailable { retry_after },
                        _ => Outcome::TooManyRequests { retry_after },
                    })
                }
            }
            Fault::Delay(delay) => Decision::Accept {
                delay: Some(*delay),
                partial: None,
            },
            Fault::Refuse => Decision::Reject(Outcome::Refused),
            Fault::PartialSuccess { rejected, message } => Decision::Accept {
                delay: None,
                partial: Some((*rejected, message.clone())),
            },
        };
        if matches!(
            active.fault,
            Fault::Unavailable { .. } | Fault::TooManyRequests { .. }
        ) && active.remaining == 0
        {
            state.fault = None;
        }
        decision
    })
}
