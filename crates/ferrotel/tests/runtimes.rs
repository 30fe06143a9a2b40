//! No span is lost on graceful shutdown, whatever runtime the service runs on: a multi-thread
//! tokio runtime, a current-thread one (the default of `#[tokio::test]`, where the tonic
//! exporter is known to deadlock) and a plain `fn main` with no runtime (where it is known to
//! panic with "there is no reactor running").
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use ferrotel_testkit::Receiver;
use support::{guard, sending_to, traced, WAIT};

const SPANS: usize = 10_000;
/// Log records (the logs signal) written inside the burst; none may be lost either.
const LOGS: usize = 1_000;

/// Starts ferrotel against `receiver`, makes `SPANS` spans through `tracing`, drops the guard
/// and checks that every one arrived, with distinct ids and the right parent.
fn ten_thousand(receiver: &Receiver, protocol: &str) {
    let g = guard(sending_to(
        receiver,
        protocol,
        &[
            // The test is about the flush at shutdown, so the queue holds the whole burst; queue
            // overflow is counted and reported, see `Guard::stats`.
            ("OTEL_BSP_MAX_QUEUE_SIZE", "16384"),
            ("OTEL_BSP_SCHEDULE_DELAY", "5000"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "4096"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "5000"),
        ],
    ));
    traced(&g, || {
        let root = tracing::info_span!("burst");
        let _root = root.enter();
        for i in 0..SPANS - 1 {
            let _child = tracing::info_span!("item", i).entered();
            if i < LOGS {
                tracing::info!(i, "burst record");
            }
        }
    });
    let stats = g.stats().spans;
    assert_eq!(stats[0].queued, SPANS as u64);
    let report = g.shutdown();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    let spans = receiver
        .wait_for_spans(SPANS, WAIT)
        .expect("all spans arrive");
    assert_eq!(spans.len(), SPANS, "no span is lost and none is duplicated");
    let root = spans
        .iter()
        .find(|s| s.name() == "burst")
        .expect("root span");
    let children = spans
        .iter()
        .filter(|s| s.parent_span_id_hex().as_deref() == Some(root.span_id_hex().as_str()))
        .count();
    assert_eq!(children, SPANS - 1);
    let ids: std::collections::HashSet<String> = spans.iter().map(|s| s.span_id_hex()).collect();
    assert_eq!(ids.len(), SPANS);

    let logs = receiver
        .wait_for_logs(LOGS, WAIT)
        .expect("all log records arrive");
    let burst: Vec<_> = logs.iter().filter(|l| l.body() == "burst record").collect();
    assert_eq!(
        burst.len(),
        LOGS,
        "no log record is lost and none is duplicated"
    );
    assert!(burst
        .iter()
        .all(|l| l.trace_id_hex() == root.trace_id_hex()));
}

#[test]
fn plain_main_without_a_runtime() {
    let receiver = Receiver::start();
    ten_thousand(&receiver, "grpc");
}

#[test]
fn plain_main_without_a_runtime_over_http() {
    let receiver = Receiver::start();
    ten_thousand(&receiver, "http/protobuf");
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_runtime() {
    let receiver = Receiver::start();
    ten_thousand(&receiver, "grpc");
    // The receiver's async wait works here too, without blocking this runtime's only thread.
    let spans = receiver
        .wait_for_spans_async(SPANS, WAIT)
        .await
        .expect("spans");
    assert_eq!(spans.len(), SPANS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_runtime() {
    let receiver = Receiver::start();
    ten_thousand(&receiver, "grpc");
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_runtime_over_http() {
    let receiver = Receiver::start();
    ten_thousand(&receiver, "http/protobuf");
}
