//! The OTLP specification's export rules as seen from the receiver: retryable answers are retried
//! with the server's hint, permanent refusals are not, partial success is not retried, and
//! every loss is counted.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel_testkit::{Fault, Outcome, Receiver};
use support::{guard, sending_to, traced, WAIT};

fn export_one(receiver: &Receiver, protocol: &str) -> ferrotel::ShutdownReport {
    let g = guard(sending_to(receiver, protocol, &[]));
    traced(&g, || {
        let _span = tracing::info_span!("retried").entered();
    });
    g.shutdown()
}

#[test]
fn unavailable_is_retried_until_it_succeeds() {
    for protocol in ["grpc", "http/protobuf"] {
        let receiver = Receiver::builder()
            .fault(Fault::Unavailable {
                times: 2,
                retry_after: Some(Duration::from_millis(50)),
            })
            .start()
            .unwrap();
        let report = export_one(&receiver, protocol);
        assert!(
            report.problems.is_empty(),
            "{protocol}: {:?}",
            report.problems
        );
        let spans = receiver
            .wait_for_spans(1, WAIT)
            .expect("delivered after retries");
        assert_eq!(spans.len(), 1, "{protocol}: delivered exactly once");
        let outcomes: Vec<Outcome> = receiver.requests().into_iter().map(|r| r.outcome).collect();
        assert_eq!(
            outcomes.len(),
            3,
            "{protocol}: two refusals, one success: {outcomes:?}"
        );
        assert!(outcomes[2].is_stored(), "{protocol}: {outcomes:?}");
    }
}

#[test]
fn a_permanent_refusal_is_not_retried_and_is_counted() {
    for protocol in ["grpc", "http/protobuf"] {
        let receiver = Receiver::builder().fault(Fault::Refuse).start().unwrap();
        let report = export_one(&receiver, protocol);
        assert_eq!(receiver.request_count(), 1, "{protocol}: no retry");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("1 of 1 spans failed")),
            "{protocol}: {:?}",
            report.problems
        );
    }
}

#[test]
fn partial_success_is_not_retried() {
    for protocol in ["grpc", "http/protobuf", "http/json"] {
        let receiver = Receiver::builder()
            .fault(Fault::PartialSuccess {
                rejected: 1,
                message: "span too old".into(),
            })
            .start()
            .unwrap();
        let report = export_one(&receiver, protocol);
        assert_eq!(receiver.request_count(), 1, "{protocol}: not retried");
        assert_eq!(receiver.spans().len(), 1);
        // Counted as rejected over every protocol, gRPC included.
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("1 of 1 spans were rejected by the collector")),
            "{protocol}: {:?}",
            report.problems
        );
    }
}
