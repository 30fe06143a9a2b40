//! The one retry policy of every signal: which OTLP failures are retried and how long to wait
//! (OTLP specification, "Failures"): exponential backoff with jitter, the server's throttling
//! hints (gRPC `RetryInfo`, HTTP `Retry-After`) honoured up to a cap, and never past the
//! export timeout.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use ferrotel_config::escape::printable;
use tonic_types::StatusExt;

/// Retries after the first attempt.
const MAX_RETRIES: u32 = 4;
/// The first backoff delay; doubled after each retry.
const INITIAL_DELAY: Duration = Duration::from_millis(100);
/// The longest backoff delay.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Up to this much is added to every wait, so that many clients do not retry in lockstep.
const MAX_JITTER: Duration = Duration::from_millis(100);
/// The longest server-requested delay honoured; longer requests are cut to this.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// How one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth retrying after the backoff delay.
    Retryable(String),
    /// Worth retrying after (at least) the delay the server asked for.
    Throttled(Duration, String),
    /// Not retried.
    Permanent(String),
    /// Not retried: the endpoint does not serve this signal at all (gRPC `UNIMPLEMENTED`,
    /// HTTP 404), as a bare Jaeger answers metrics and logs.
    Unsupported(String),
}

impl Failure {
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Retryable(m)
            | Failure::Throttled(_, m)
            | Failure::Permanent(m)
            | Failure::Unsupported(m) => m,
        }
    }
}

/// Classifies a gRPC status: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE
/// and DATA_LOSS are retryable, RESOURCE_EXHAUSTED only with a `google.rpc.RetryInfo`; a
/// RetryInfo delay is honoured.
pub(crate) fn classify_grpc(status: &tonic::Status) -> Failure {
    use tonic::Code;
    // The causes say what a bare "tcp connect error" hides: "Connection refused".
    let text = crate::transport::with_causes(
        status.message().to_owned(),
        std::error::Error::source(status),
    );
    // The collector's text is foreign: escaped and bounded before it reaches a log line.
    let message = format!("gRPC status {:?}: {}", status.code(), printable(&text));
    let retry_delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    match status.code() {
        Code::ResourceExhausted => match retry_delay {
            Some(delay) => Failure::Throttled(delay, message),
            None => Failure::Permanent(message),
        },
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => match retry_delay {
            Some(delay) => Failure::Throttled(delay, message),
            None => Failure::Retryable(message),
        },
        Code::Unimplemented => Failure::Unsupported(message),
        _ => Failure::Permanent(message),
    }
}

/// Classifies an HTTP status: 429, 502, 503 and 504 are retryable; `Retry-After` (seconds or
/// an HTTP-date) is honoured.
pub(crate) fn classify_http(status: u16, retry_after: Option<&str>, body: &str) -> Failure {
    let message = if body.is_empty() {
        format!("HTTP status {status}")
    } else {
        format!("HTTP status {status}: {}", printable(body))
    };
    match status {
        429 | 502 | 503 | 504 => match retry_after.and_then(parse_retry_after) {
            Some(delay) => Failure::Throttled(delay, message),
            None => Failure::Retryable(message),
        },
        404 => Failure::Unsupported(message),
        _ => Failure::Permanent(message),
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn jitter() -> Duration {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher as _;
    // Not cryptographic: only clients must not retry in lockstep.
    let random = RandomState::new().hash_one(Instant::now());
    let max = u64::try_from(MAX_JITTER.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(random % (max + 1))
}

/// How one export ended.
#[derive(Debug)]
pub(crate) struct Report<T> {
    /// The last attempt's result.
    pub(crate) result: Result<T, String>,
    /// Attempts made.
    pub(crate) attempts: u32,
    /// The endpoint does not serve the signal ([`Failure::Unsupported`]).
    pub(crate) unsupported: bool,
}

/// Runs `attempt` until it succeeds, fails permanently, the retries run out, or the next wait
/// would pass `deadline`. `attempt` gets the time left (for its own request timeout). Must run
/// on a tokio runtime (it sleeps with tokio's timer).
pub(crate) async fn with_retries<T, F, Fut>(deadline: Option<Instant>, mut attempt: F) -> Report<T>
where
    F: FnMut(Option<Duration>) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut delay = INITIAL_DELAY;
    let mut attempts = 0;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Report {
                result: Err("export timeout passed before the request was sent".to_owned()),
                attempts,
                unsupported: false,
            };
        }
        attempts += 1;
        let failure = match attempt(left).await {
            Ok(value) => {
                return Report {
                    result: Ok(value),
                    attempts,
                    unsupported: false,
                }
            }
            Err(failure) => failure,
        };
        let wait = match &failure {
            Failure::Permanent(_) | Failure::Unsupported(_) => None,
            Failure::Retryable(_) => Some(delay + jitter()),
            Failure::Throttled(asked, _) => Some((*asked).min(MAX_THROTTLE).max(delay) + jitter()),
        };
        let Some(wait) = wait else {
            return Report {
                result: Err(failure.message().to_owned()),
                attempts,
                unsupported: matches!(failure, Failure::Unsupported(_)),
            };
        };
        if attempts > MAX_RETRIES {
            return Report {
                result: Err(format!("{} (retries exhausted)", failure.message())),
                attempts,
                unsupported: false,
            };
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| wait >= left) {
            return Report {
                result: Err(format!(
                    "{} (retrying in {wait:?} would pass the export timeout)",
                    failure.message()
                )),
                attempts,
                unsupported: false,
            };
        }
        tokio::time::sleep(wait).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::cell::Cell;
    use tonic::Code;
    use tonic_types::ErrorDetails;

    #[test]
    fn grpc_classification() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(matches!(
                classify_grpc(&tonic::Status::new(code, "x")),
                Failure::Retryable(_)
            ));
        }
        for code in [
            Code::ResourceExhausted,
            Code::InvalidArgument,
            Code::Internal,
            Code::Unknown,
            Code::Unauthenticated,
            Code::PermissionDenied,
        ] {
            assert!(matches!(
                classify_grpc(&tonic::Status::new(code, "x")),
                Failure::Permanent(_)
            ));
        }
        let throttled = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(1500))),
        );
        assert!(matches!(
            classify_grpc(&throttled),
            Failure::Throttled(d, _) if d == Duration::from_millis(1500)
        ));
    }

    #[test]
    fn http_classification_and_retry_after() {
        for status in [429, 502, 503, 504] {
            assert!(matches!(
                classify_http(status, None, ""),
                Failure::Retryable(_)
            ));
        }
        assert!(matches!(
            classify_http(404, None, ""),
            Failure::Unsupported(_)
        ));
        assert!(matches!(
            classify_grpc(&tonic::Status::new(Code::Unimplemented, "unknown service")),
            Failure::Unsupported(_)
        ));
        for status in [400, 401, 403, 413, 500, 501] {
            assert!(matches!(
                classify_http(status, Some("1"), ""),
                Failure::Permanent(_)
            ));
        }
        assert_eq!(
            classify_http(503, Some("3"), ""),
            Failure::Throttled(Duration::from_secs(3), "HTTP status 503".into())
        );
        let in_10s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let parsed = parse_retry_after(&in_10s).unwrap();
        assert!(parsed <= Duration::from_secs(10) && parsed >= Duration::from_secs(8));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn retries_until_success_and_stops_on_permanent() {
        let calls = Cell::new(0);
        let report = rt().block_on(with_retries(None, |_| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(Failure::Retryable("busy".into()))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(report.result, Ok(3));
        assert_eq!(report.attempts, 3);

        let report = rt().block_on(with_retries(None, |_| async {
            Err::<(), _>(Failure::Permanent("no".into()))
        }));
        assert_eq!(report.result, Err("no".into()));
        assert_eq!(report.attempts, 1);
    }

    #[test]
    fn retries_are_bounded_by_count_and_deadline() {
        let report = rt().block_on(with_retries(None, |_| async {
            Err::<(), _>(Failure::Throttled(Duration::ZERO, "busy".into()))
        }));
        assert_eq!(report.attempts, MAX_RETRIES + 1);

        let deadline = Some(Instant::now() + Duration::from_millis(500));
        let started = Instant::now();
        let report = rt().block_on(with_retries(deadline, |_| async {
            Err::<(), _>(Failure::Throttled(Duration::from_secs(10), "later".into()))
        }));
        assert_eq!(report.attempts, 1, "a 10 s throttle cannot fit in 500 ms");
        assert!(report.result.unwrap_err().contains("export timeout"));
        assert!(started.elapsed() < Duration::from_millis(400));
    }
}
