//! The one retry policy, seen from a real receiver for every signal over both protocols: a
//! throttling answer (HTTP 429 with `Retry-After`, gRPC `RESOURCE_EXHAUSTED` with `RetryInfo`)
//! is retried after the delay the server asked for, and a dead endpoint costs at most the
//! export timeout, with every lost item counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel_testkit::{Fault, Outcome, Receiver, Signal};
use support::{export_one, PROTOCOLS};

#[test]
fn throttling_is_retried_after_the_delay_the_server_asks_for_every_signal() {
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        for protocol in PROTOCOLS {
            let asked = Duration::from_secs(1);
            let receiver = Receiver::builder()
                .fault(Fault::TooManyRequests {
                    times: 1,
                    retry_after: Some(asked),
                })
                .start()
                .unwrap();
            let endpoint = if protocol == "grpc" {
                receiver.grpc_endpoint()
            } else {
                receiver.http_endpoint()
            };
            let out = export_one(signal, &endpoint, protocol, Duration::from_secs(10));
            let what = format!("{signal:?} over {protocol}: {out:?}");
            assert_eq!((out.exported, out.failed), (1, 0), "{what}");
            let outcomes: Vec<Outcome> = receiver
                .requests()
                .into_iter()
                .filter(|r| r.signal == signal)
                .map(|r| r.outcome)
                .collect();
            assert_eq!(outcomes.len(), 2, "{what}: {outcomes:?}");
            assert!(
                matches!(outcomes[0], Outcome::TooManyRequests { .. }),
                "{what}"
            );
            assert!(outcomes[1].is_stored(), "{what}: {outcomes:?}");
            // The retry waited for the server's hint, not for the 100 ms first backoff.
            assert!(out.elapsed >= asked, "{what}");
        }
    }
}

#[test]
fn a_dead_endpoint_is_retried_within_the_export_timeout_and_counted_for_every_signal() {
    // A port nothing listens on: bound, then released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{dead}");
    let timeout = Duration::from_millis(1500);
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        for protocol in PROTOCOLS {
            let out = export_one(signal, &endpoint, protocol, timeout);
            let what = format!("{signal:?} over {protocol}: {out:?}");
            assert_eq!((out.exported, out.failed), (0, 1), "{what}");
            let error = out.last_error.clone().unwrap_or_default();
            assert!(
                error.contains(&dead.to_string()),
                "names the endpoint: {what}"
            );
            // Failed connections are retried until the next wait would pass the timeout.
            assert!(!error.contains("; 1 attempt(s)"), "retried: {what}");
            // Bounded by the export timeout, with room for a loaded machine.
            assert!(out.elapsed < timeout + Duration::from_secs(5), "{what}");
        }
    }
}
