//! Jaeger propagator: round trips, accepted forms, malformed input, baggage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel_propagation::jaeger::TRACE_CONTEXT_HEADER;
use ferrotel_propagation::{DebugFlagExt, JaegerPropagator};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use support::*;

fn baggage_value(cx: &Context, key: &str) -> Option<String> {
    cx.baggage().get(key).map(|v| v.as_str().to_owned())
}

#[test]
fn propagator_is_send_sync_debug() {
    assert_send_sync_debug::<JaegerPropagator>();
    let propagator = JaegerPropagator::default();
    let fields: Vec<&str> = propagator.fields().collect();
    assert_eq!(fields, [TRACE_CONTEXT_HEADER]);
}

#[test]
fn round_trip_keeps_ids_and_sampling() {
    for sampled in [true, false] {
        for (trace_id, span_id) in [(TRACE_ID, SPAN_ID), (1, 1), (u128::MAX, u64::MAX)] {
            let carrier = inject(
                &JaegerPropagator::new(),
                &context_with(trace_id, span_id, sampled),
            );
            let sc = extract(&JaegerPropagator::new(), &carrier);
            assert_eq!(sc.trace_id(), TraceId::from(trace_id), "{carrier:?}");
            assert_eq!(sc.span_id(), SpanId::from(span_id), "{carrier:?}");
            assert_eq!(sc.is_sampled(), sampled, "{carrier:?}");
            assert!(sc.is_remote() && sc.is_valid(), "{carrier:?}");
        }
    }
}

#[test]
fn injection_writes_the_expected_header() {
    let carrier = inject(
        &JaegerPropagator::new(),
        &context_with(TRACE_ID, SPAN_ID, true),
    );
    assert_eq!(names(&carrier), [TRACE_CONTEXT_HEADER]);
    assert_eq!(
        carrier[TRACE_CONTEXT_HEADER],
        format!("{TRACE_ID_HEX}:{SPAN_ID_HEX}:0:1")
    );

    let carrier = inject(&JaegerPropagator::new(), &context_with(1, 2, false));
    assert_eq!(
        carrier[TRACE_CONTEXT_HEADER],
        "00000000000000000000000000000001:0000000000000002:0:0"
    );

    let debug = context_with(TRACE_ID, SPAN_ID, false).with_debug_flag(true);
    let carrier = inject(&JaegerPropagator::new(), &debug);
    assert_eq!(
        carrier[TRACE_CONTEXT_HEADER],
        format!("{TRACE_ID_HEX}:{SPAN_ID_HEX}:0:3")
    );

    assert!(inject(&JaegerPropagator::new(), &Context::new()).is_empty());
}

#[test]
fn accepted_forms() {
    // (header value, trace id, span id, sampled, debug)
    let cases: &[(&str, u128, u64, bool, bool)] = &[
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0",
            TRACE_ID,
            SPAN_ID,
            false,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:01",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3",
            TRACE_ID,
            SPAN_ID,
            true,
            true,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:2",
            TRACE_ID,
            SPAN_ID,
            true,
            true,
        ), // debug implies sampled
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:8",
            TRACE_ID,
            SPAN_ID,
            false,
            false,
        ), // firehose ignored
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:ff",
            TRACE_ID,
            SPAN_ID,
            true,
            true,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:00f067aa0ba902b6:1",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (
            "4BF92F3577B34DA6A3CE929D0E0E4736:00F067AA0BA902B7:0:1",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (
            "a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
            0xa3ce_929d_0e0e_4736,
            SPAN_ID,
            true,
            false,
        ),
        ("4d2:17c29:0:1", 0x4d2, 0x17c29, true, false), // short ids are left-padded
        ("1:1:1:1", 1, 1, true, false),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736%3a00f067aa0ba902b7%3a0%3a1",
            TRACE_ID,
            SPAN_ID,
            true,
            false,
        ),
        (" 4d2:17c29:0:1 ", 0x4d2, 0x17c29, true, false),
    ];
    for &(value, trace_id, span_id, sampled, debug) in cases {
        let cx = JaegerPropagator::new()
            .extract_with_context(&Context::new(), &headers(&[(TRACE_CONTEXT_HEADER, value)]));
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(sc.trace_id(), TraceId::from(trace_id), "{value}");
        assert_eq!(sc.span_id(), SpanId::from(span_id), "{value}");
        assert_eq!(sc.is_sampled(), sampled, "{value}");
        assert_eq!(cx.debug_flag(), debug, "{value}");
        assert!(sc.is_remote(), "{value}");
    }
}

#[test]
fn malformed_values_are_ignored() {
    let cases = [
        "",
        ":",
        ":::",
        "4bf92f3577b34da6a3ce929d0e0e4736", // one part
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7", // two parts
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0", // three parts
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1:", // extra empty part
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1:1", // extra part
        ":00f067aa0ba902b7:0:1",            // empty trace id
        "4bf92f3577b34da6a3ce929d0e0e4736::0:1", // empty span id
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7::1", // empty parent
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:", // empty flags
        "4bf92f3577b34da6a3ce929d0e0e47361:00f067aa0ba902b7:0:1", // 33-digit trace id
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b71:0:1", // 17-digit span id
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:00f067aa0ba902b71:1", // 17-digit parent
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:100", // 3-digit flags
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:x", // non-hex flags
        "4bf92f3577b34da6a3ce929d0e0e473g:00f067aa0ba902b7:0:1", // non-hex trace id
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902bz:0:1", // non-hex span id
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:-1:1", // sign in parent
        "+4bf92f3577b34da6a3ce929d0e0e473:00f067aa0ba902b7:0:1", // sign in trace id
        "0:00f067aa0ba902b7:0:1",           // zero trace id
        "00000000000000000000000000000000:00f067aa0ba902b7:0:1", // zero trace id
        "4bf92f3577b34da6a3ce929d0e0e4736:0:0:1", // zero span id
        "4bf92f3577b34da6a3ce929d0e0e4736:0000000000000000:0:1", // zero span id
        "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7:0:1", // mixed separators
        "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0", // encoded, 3 parts
        "4bf92f3577b34da6a3ce929d0e0e4736%3 A00f067aa0ba902b7%3A0%3A1",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0-1", // B3-style dashes
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1\u{e9}",
    ];
    for value in cases {
        let carrier = headers(&[(TRACE_CONTEXT_HEADER, value), ("uberctx-k", "v")]);
        let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &carrier);
        assert!(!cx.has_active_span(), "{value:?} was accepted");
        assert!(!cx.debug_flag(), "{value:?}");
        // A malformed trace header discards the whole carrier, baggage included.
        assert_eq!(cx.baggage().len(), 0, "{value:?}");
    }
}

#[test]
fn sixty_four_bit_trace_id_is_left_padded() {
    let sc = extract(
        &JaegerPropagator::new(),
        &headers(&[(
            TRACE_CONTEXT_HEADER,
            "a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        )]),
    );
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("0000000000000000a3ce929d0e0e4736").unwrap()
    );
}

#[test]
fn baggage_is_extracted_and_merged() {
    let carrier = headers(&[
        (TRACE_CONTEXT_HEADER, "4d2:17c29:0:1"),
        ("uberctx-user-id", "ada"),
        ("uberctx-tenant", "acme+corp%2Fsouth"),
        ("uberctx-broken", "100%"),
        ("uberctx-", "empty key"),
        ("other", "ignored"),
    ]);
    let existing = Context::new().with_baggage([KeyValue::new("from-w3c", "kept")]);
    let cx = JaegerPropagator::new().extract_with_context(&existing, &carrier);
    assert!(cx.span().span_context().is_valid());
    assert_eq!(baggage_value(&cx, "user-id").as_deref(), Some("ada"));
    assert_eq!(
        baggage_value(&cx, "tenant").as_deref(),
        Some("acme corp/south")
    );
    assert_eq!(baggage_value(&cx, "broken").as_deref(), Some("100%"));
    assert_eq!(baggage_value(&cx, "from-w3c").as_deref(), Some("kept"));
    assert_eq!(cx.baggage().len(), 4);
}

#[test]
fn baggage_header_names_are_case_insensitive() {
    // HashMap carriers hold lower-case names; an HTTP header map may report others.
    let carrier = RepeatedHeaders(vec![("UberCtx-Tenant", "acme".into())]);
    let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &carrier);
    assert_eq!(baggage_value(&cx, "tenant").as_deref(), Some("acme"));
}

#[test]
fn baggage_without_trace_header_is_extracted() {
    let carrier = headers(&[("uberctx-k", "v")]);
    let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &carrier);
    assert!(!cx.has_active_span());
    assert_eq!(baggage_value(&cx, "k").as_deref(), Some("v"));

    // Nothing at all: the context is returned as it was.
    let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &headers(&[]));
    assert!(!cx.has_active_span());
    assert!(cx.baggage().is_empty());
}

#[test]
fn baggage_is_injected_url_encoded() {
    let cx = context_with(TRACE_ID, SPAN_ID, true).with_baggage([
        KeyValue::new("user-id", "ada"),
        KeyValue::new("note", "a b/c:d,é"),
    ]);
    let carrier = inject(&JaegerPropagator::new(), &cx);
    assert_eq!(
        names(&carrier),
        [TRACE_CONTEXT_HEADER, "uberctx-note", "uberctx-user-id"]
    );
    assert_eq!(carrier["uberctx-user-id"], "ada");
    assert_eq!(carrier["uberctx-note"], "a%20b%2Fc%3Ad%2C%C3%A9");
    assert!(carrier.values().all(|v| v.is_ascii()));

    // ... and comes back unchanged.
    let back = JaegerPropagator::new().extract_with_context(&Context::new(), &carrier);
    assert_eq!(baggage_value(&back, "note").as_deref(), Some("a b/c:d,é"));
    assert_eq!(baggage_value(&back, "user-id").as_deref(), Some("ada"));

    // Baggage alone is injected without a trace header.
    let carrier = inject(
        &JaegerPropagator::new(),
        &Context::new().with_baggage([KeyValue::new("k", "v")]),
    );
    assert_eq!(names(&carrier), ["uberctx-k"]);
}

#[test]
fn repeated_header_with_different_values_is_ignored() {
    let same = RepeatedHeaders(vec![
        (TRACE_CONTEXT_HEADER, "4d2:17c29:0:1".into()),
        (TRACE_CONTEXT_HEADER, "4d2:17c29:0:1".into()),
    ]);
    assert!(JaegerPropagator::new()
        .extract_with_context(&Context::new(), &same)
        .has_active_span());

    let different = RepeatedHeaders(vec![
        (TRACE_CONTEXT_HEADER, "4d2:17c29:0:1".into()),
        (TRACE_CONTEXT_HEADER, "4d2:17c2a:0:1".into()),
    ]);
    assert!(!JaegerPropagator::new()
        .extract_with_context(&Context::new(), &different)
        .has_active_span());
}

#[test]
fn failed_extraction_returns_the_given_context() {
    let before = context_with(7, 8, true).with_baggage([KeyValue::new("k", "v")]);
    let after = JaegerPropagator::new()
        .extract_with_context(&before, &headers(&[(TRACE_CONTEXT_HEADER, "zz:zz:0:1")]));
    assert_eq!(after.span().span_context().trace_id(), TraceId::from(7));
    assert_eq!(baggage_value(&after, "k").as_deref(), Some("v"));
}
