//! Injected faults: answered on both transports, counted down, then normal service.

use std::time::{Duration, Instant};

use ferrotel_testkit::{Fault, Outcome, Receiver, Transport};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use tonic_types::StatusExt as _;

use crate::support::{post_message, spans_request, TIMEOUT};

#[tokio::test]
async fn unavailable_answers_503_with_retry_after_the_configured_times_then_accepts() {
    let receiver = Receiver::builder()
        .fault(Fault::Unavailable {
            times: 2,
            retry_after: Some(Duration::from_millis(1500)),
        })
        .start()
        .unwrap();
    let addr = receiver.http_addr();
    for _ in 0..2 {
        let answer = post_message(addr, "/v1/traces", &spans_request(&["s"]), false).await;
        assert_eq!(answer.status, 503);
        assert_eq!(
            answer.headers["retry-after"], "2",
            "rounded up to whole seconds"
        );
        let status = tonic_types::Status::decode(answer.body).unwrap();
        assert_eq!(status.code, tonic::Code::Unavailable as i32);
    }
    let answer = post_message(addr, "/v1/traces", &spans_request(&["s"]), false).await;
    assert_eq!(answer.status, 200);

    let outcomes: Vec<Outcome> = receiver.requests().into_iter().map(|r| r.outcome).collect();
    let unavailable = Outcome::Unavailable {
        retry_after: Some(Duration::from_millis(1500)),
    };
    assert_eq!(
        outcomes,
        [unavailable.clone(), unavailable, Outcome::Accepted]
    );
    assert_eq!(
        receiver.spans().len(),
        1,
        "rejected requests are not stored"
    );
}

#[tokio::test]
async fn unavailable_answers_grpc_unavailable_with_retry_info_then_accepts() {
    let receiver = Receiver::start();
    receiver.set_fault(Some(Fault::Unavailable {
        times: 1,
        retry_after: Some(Duration::from_secs(3)),
    }));
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    let status = client.export(spans_request(&["s"])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let retry = status.get_details_retry_info().expect("RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(3)));
    client.export(spans_request(&["s"])).await.unwrap();
    assert_eq!(receiver.spans().len(), 1);
}

#[tokio::test]
async fn too_many_requests_counts_down_across_both_transports() {
    let receiver = Receiver::builder()
        .fault(Fault::TooManyRequests {
            times: 2,
            retry_after: None,
        })
        .start()
        .unwrap();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    let status = client.export(spans_request(&["s"])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert!(status.get_details_retry_info().is_none());
    let addr = receiver.http_addr();
    let answer = post_message(addr, "/v1/traces", &spans_request(&["s"]), false).await;
    assert_eq!(answer.status, 429);
    assert!(!answer.headers.contains_key("retry-after"));
    // Both uses consumed: normal service on both transports.
    client.export(spans_request(&["s"])).await.unwrap();
    let answer = post_message(addr, "/v1/traces", &spans_request(&["s"]), false).await;
    assert_eq!(answer.status, 200);
    let transports: Vec<(Transport, bool)> = receiver
        .requests()
        .iter()
        .map(|r| (r.transport, r.outcome.is_stored()))
        .collect();
    assert_eq!(
        transports,
        [
            (Transport::Grpc, false),
            (Transport::Http, false),
            (Transport::Grpc, true),
            (Transport::Http, true)
        ]
    );
}

#[tokio::test]
async fn refuse_partial_success_and_delay_last_until_cleared() {
    let receiver = Receiver::start();
    let addr = receiver.http_addr();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();

    receiver.set_fault(Some(Fault::Refuse));
    let status = client.export(spans_request(&["s"])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let answer = post_message(addr, "/v1/traces", &spans_request(&["s"]), false).await;
    assert_eq!(answer.status, 400);

    receiver.set_fault(Some(Fault::PartialSuccess {
        rejected: 1,
        message: "one too many".to_owned(),
    }));
    let response = client
        .export(spans_request(&["s", "t"]))
        .await
        .unwrap()
        .into_inner();
    let partial = response.partial_success.unwrap();
    assert_eq!(
        (partial.rejected_spans, partial.error_message.as_str()),
        (1, "one too many")
    );
    let answer = post_message(addr, "/v1/traces", &spans_request(&["u"]), false).await;
    let partial = answer
        .decode::<ExportTraceServiceResponse>()
        .partial_success;
    assert_eq!(partial.map(|p| p.rejected_spans), Some(1));

    let delay = Duration::from_millis(150);
    receiver.set_fault(Some(Fault::Delay(delay)));
    let started = Instant::now();
    client.export(spans_request(&["late"])).await.unwrap();
    assert!(started.elapsed() >= delay);

    receiver.set_fault(None);
    client.export(spans_request(&["normal"])).await.unwrap();

    let outcomes: Vec<Outcome> = receiver.requests().into_iter().map(|r| r.outcome).collect();
    let partial = Outcome::PartiallyAccepted {
        rejected: 1,
        message: "one too many".to_owned(),
    };
    assert_eq!(
        outcomes,
        [
            Outcome::Refused,
            Outcome::Refused,
            partial.clone(),
            partial,
            Outcome::Accepted,
            Outcome::Accepted
        ]
    );
    let names: Vec<String> = receiver
        .wait_for_spans_async(5, TIMEOUT)
        .await
        .unwrap()
        .iter()
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(names, ["s", "t", "u", "late", "normal"]);
}

#[tokio::test]
async fn a_client_that_gives_up_during_a_delay_is_recorded_as_abandoned() {
    let receiver = Receiver::builder()
        .fault(Fault::Delay(Duration::from_secs(30)))
        .start()
        .unwrap();
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .unwrap();
    let mut request = tonic::Request::new(spans_request(&["s"]));
    request.set_timeout(Duration::from_millis(100));
    let status = client.export(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
    let requests = receiver.wait_for_requests_async(1, TIMEOUT).await.unwrap();
    assert_eq!(requests[0].outcome, Outcome::Abandoned);
    assert!(receiver.spans().is_empty());
}
