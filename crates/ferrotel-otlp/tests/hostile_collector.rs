//! A collector that misbehaves gets nothing it should not: it cannot redirect an export (and
//! its credentials) elsewhere, cannot exhaust memory with an endless answer, and cannot make a
//! credential appear in a message by echoing it back. Each case runs against a real hostile
//! HTTP server on loopback, for every signal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ferrotel_testkit::{secret, Fault, HostilePeer, Hostility, Receiver, Signal};
use support::{export_one, export_one_with};

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

/// Headers and userinfo that must never reach anyone but the configured endpoint.
fn credentials(label: &str) -> (String, Vec<(&'static str, String)>) {
    let api_key = secret(&format!("{label}-key"));
    let headers = vec![(
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!(
            "x-api-key={api_key},authorization=Bearer%20{}",
            secret(&format!("{label}-token"))
        ),
    )];
    (api_key, headers)
}

#[test]
fn a_redirect_is_refused_and_nothing_reaches_its_target() {
    for status in [307, 308, 301] {
        for signal in SIGNALS {
            let elsewhere = Receiver::start();
            let peer = HostilePeer::start(Hostility::Redirect {
                status,
                location: format!("{}/v1/stolen?token=abc", elsewhere.http_endpoint()),
            })
            .unwrap();
            let (api_key, headers) = credentials("redirect");
            let out = export_one_with(
                signal,
                &peer.endpoint(),
                "http/protobuf",
                Duration::from_secs(5),
                &headers,
            );
            let what = format!("{status} {signal:?}: {out:?}");
            assert_eq!((out.exported, out.failed), (0, 1), "{what}");
            assert_eq!(
                elsewhere.request_count(),
                0,
                "followed the redirect: {what}"
            );
            let error = out.last_error.unwrap_or_default();
            assert!(error.ends_with("; 1 attempt(s)"), "not retried: {error}");
            assert!(
                error.contains(&format!("HTTP status {status} redirects to")),
                "{error}"
            );
            assert!(
                error.contains(&elsewhere.http_addr().to_string()),
                "names the host: {error}"
            );
            assert!(
                !error.contains("token=abc"),
                "no path or query of the Location: {error}"
            );
            assert!(!error.contains(&api_key), "{error}");
        }
    }
}

#[test]
fn an_endless_answer_is_cut_off_at_the_limit() {
    for status in [200, 503] {
        for signal in SIGNALS {
            let peer = HostilePeer::start(Hostility::EndlessBody { status }).unwrap();
            let out = export_one_with(
                signal,
                &peer.endpoint(),
                "http/protobuf",
                Duration::from_secs(30),
                &[],
            );
            let what = format!("{status} {signal:?}: {out:?}");
            assert_eq!((out.exported, out.failed), (0, 1), "{what}");
            let error = out.last_error.unwrap_or_default();
            assert!(
                error.contains(&format!(
                    "larger than {} bytes",
                    ferrotel_otlp::MAX_RESPONSE_BYTES
                )),
                "{error}"
            );
            // Cut off at once, not retried until the 30 s timeout.
            assert!(error.ends_with("; 1 attempt(s)"), "{error}");
        }
    }
}

#[test]
fn credentials_echoed_back_by_the_collector_are_scrubbed() {
    for signal in SIGNALS {
        let peer = HostilePeer::start(Hostility::Echo { status: 400 }).unwrap();
        let password = secret("userinfo-password");
        let endpoint = peer
            .endpoint()
            .replace("http://", &format!("http://ferrotel:{password}@"));
        let (api_key, headers) = credentials("echo");
        let out = export_one_with(
            signal,
            &endpoint,
            "http/protobuf",
            Duration::from_secs(5),
            &headers,
        );
        let error = out.last_error.unwrap_or_default();
        // The collector did receive the key (it is the configured endpoint) and echoed it.
        let received = peer.requests();
        assert!(received[0].headers.iter().any(|(_, v)| v == &api_key));
        assert!(error.contains("HTTP status 400"), "{error}");
        assert!(
            error.contains("<redacted>"),
            "the echo is in the message, scrubbed: {error}"
        );
        assert!(!error.contains(&api_key), "{error}");
        assert!(!error.contains(&password), "{error}");
    }
}

/// A collector's error text with a forged log line, terminal controls and 64 KiB of padding.
fn forged_text() -> String {
    format!(
        "bad\r\n2026-12-07T00:00:00Z ERROR forged line\u{1b}[2J\u{7}\u{8}\u{9b}{}",
        "z".repeat(64 << 10)
    )
}

fn assert_printable(error: &str, what: &str) {
    assert!(
        !error.contains(['\r', '\n', '\u{1b}', '\u{7}', '\u{8}', '\u{9b}']),
        "{what}: a raw control character reaches the message: {error:?}"
    );
    assert!(
        error.contains(r"bad\r\n2026"),
        "{what}: shown escaped: {error:?}"
    );
    assert!(error.len() < 2_048, "{what}: {} bytes", error.len());
}

#[test]
fn a_collectors_error_text_cannot_forge_a_log_line_or_drive_the_terminal() {
    for signal in SIGNALS {
        let peer = HostilePeer::start(Hostility::Text {
            status: 400,
            body: forged_text(),
        })
        .unwrap();
        let out = export_one(
            signal,
            &peer.endpoint(),
            "http/protobuf",
            Duration::from_secs(5),
        );
        let error = out.last_error.unwrap_or_default();
        assert!(error.contains("HTTP status 400"), "{error}");
        assert_printable(&error, &format!("HTTP {signal:?}"));

        // gRPC percent-encodes its message, so any byte can arrive; a long one is cut short
        // by the header size limits, so 2 KiB here.
        let message = forged_text()[..2_048].to_owned();
        let peer = HostilePeer::start(Hostility::GrpcStatus { code: 3, message }).unwrap();
        let out = export_one(signal, &peer.endpoint(), "grpc", Duration::from_secs(5));
        let error = out.last_error.unwrap_or_default();
        assert!(error.contains("InvalidArgument"), "{error}");
        assert_printable(&error, &format!("gRPC {signal:?}"));
    }
}

#[test]
fn an_oversized_answer_is_refused_over_grpc_and_http() {
    // A well-formed partial-success answer, twice the limit: over gRPC tonic's decoder refuses
    // it, over HTTP the body read stops at the limit.
    let receiver = Receiver::start();
    receiver.set_fault(Some(Fault::PartialSuccess {
        rejected: 1,
        message: "x".repeat(2 * ferrotel_otlp::MAX_RESPONSE_BYTES),
    }));
    for protocol in support::PROTOCOLS {
        let endpoint = if protocol == "grpc" {
            receiver.grpc_endpoint()
        } else {
            receiver.http_endpoint()
        };
        for signal in SIGNALS {
            let out = export_one(signal, &endpoint, protocol, Duration::from_secs(30));
            let what = format!("{protocol} {signal:?}: {out:?}");
            assert_eq!((out.exported, out.failed), (0, 1), "{what}");
            let error = out.last_error.unwrap_or_default();
            assert!(
                error.contains(&ferrotel_otlp::MAX_RESPONSE_BYTES.to_string()),
                "the message names the limit: {what}"
            );
            // Refused at once: the collector would send the same answer again.
            assert!(error.ends_with("; 1 attempt(s)"), "{what}");
            assert!(error.len() < 4096, "the answer is not quoted whole: {what}");
        }
    }
}
