//! Starting, waiting from plain threads, cloning and shutting down.

use std::time::Duration;

use ferrotel_testkit::{Receiver, Signal};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::support::{spans_request, TIMEOUT};

#[test]
fn wait_for_spans_times_out_with_a_clear_message() {
    let receiver = Receiver::start();
    let err = receiver
        .wait_for_spans(2, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(err.awaited(), "2 spans");
    assert!(err.waited() >= Duration::from_millis(50));
    let message = err.to_string();
    assert!(message.contains("timed out"), "{message}");
    assert!(message.contains("waiting for 2 spans"), "{message}");
    assert!(message.contains("0 span(s)"), "{message}");
    assert!(message.contains("0 export request(s)"), "{message}");

    let err = receiver
        .wait_for_metric("nope", Duration::from_millis(1))
        .unwrap_err();
    assert!(err.to_string().contains("a metric named \"nope\""), "{err}");
}

#[tokio::test]
async fn async_waits_time_out_inside_a_current_thread_runtime() {
    let receiver = Receiver::start();
    let err = receiver
        .wait_for_requests_async(1, Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(err.awaited(), "1 export request");
}

#[test]
fn blocking_wait_in_a_plain_test_sees_spans_exported_from_another_thread() {
    let receiver = Receiver::start();
    let endpoint = receiver.grpc_endpoint();
    let exporter = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
            client
                .export(spans_request(&["from-thread"]))
                .await
                .unwrap();
        });
    });
    let spans = receiver.wait_for_spans(1, TIMEOUT).unwrap();
    assert_eq!(spans[0].name(), "from-thread");
    exporter.join().unwrap();
}

#[tokio::test]
async fn clones_share_state_and_clear_forgets_it() {
    let receiver = Receiver::start();
    let clone = receiver.clone();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    client.export(spans_request(&["x"])).await.unwrap();
    assert_eq!(clone.spans().len(), 1);
    assert_eq!(clone.requests()[0].signal, Signal::Traces);
    clone.clear();
    assert_eq!(receiver.request_count(), 0);
    assert!(receiver.spans().is_empty());
}

#[test]
fn shutdown_closes_both_listeners() {
    let receiver = Receiver::start();
    let (grpc, http) = (receiver.grpc_addr(), receiver.http_addr());
    assert!(std::net::TcpStream::connect(http).is_ok());
    receiver.shutdown();
    assert!(std::net::TcpStream::connect(grpc).is_err());
    assert!(std::net::TcpStream::connect(http).is_err());
}

#[test]
fn dropping_the_last_clone_stops_the_servers() {
    let receiver = Receiver::start();
    let addr = receiver.grpc_addr();
    let clone = receiver.clone();
    drop(receiver);
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "a clone is alive"
    );
    drop(clone);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
