//! B3 propagator: round trips, accepted forms, malformed input, injected header sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel_propagation::b3::{
    FLAGS_HEADER, PARENT_SPAN_ID_HEADER, SAMPLED_HEADER, SINGLE_HEADER, SPAN_ID_HEADER,
    TRACE_ID_HEADER,
};
use ferrotel_propagation::{B3Encoding, B3Propagator, DebugFlagExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry::Context;
use support::*;

fn all_encodings() -> [B3Propagator; 3] {
    [
        B3Propagator::single(),
        B3Propagator::multi(),
        B3Propagator::new(B3Encoding::SingleAndMultiHeader),
    ]
}

#[test]
fn propagator_is_send_sync_debug() {
    assert_send_sync_debug::<B3Propagator>();
    assert_eq!(B3Propagator::default().encoding(), B3Encoding::SingleHeader);
}

#[test]
fn round_trip_keeps_ids_and_sampling() {
    for propagator in all_encodings() {
        for sampled in [true, false] {
            for (trace_id, span_id) in [(TRACE_ID, SPAN_ID), (1, 1), (u128::MAX, u64::MAX)] {
                let carrier = inject(&propagator, &context_with(trace_id, span_id, sampled));
                let sc = extract(&propagator, &carrier);
                assert_eq!(sc.trace_id(), TraceId::from(trace_id), "{carrier:?}");
                assert_eq!(sc.span_id(), SpanId::from(span_id), "{carrier:?}");
                assert_eq!(sc.is_sampled(), sampled, "{carrier:?}");
                assert!(sc.is_remote() && sc.is_valid(), "{carrier:?}");
            }
        }
    }
}

#[test]
fn single_injection_writes_exactly_b3() {
    let carrier = inject(
        &B3Propagator::single(),
        &context_with(TRACE_ID, SPAN_ID, true),
    );
    assert_eq!(names(&carrier), [SINGLE_HEADER]);
    assert_eq!(
        carrier[SINGLE_HEADER],
        format!("{TRACE_ID_HEX}-{SPAN_ID_HEX}-1")
    );

    let carrier = inject(&B3Propagator::single(), &context_with(1, 2, false));
    assert_eq!(
        carrier[SINGLE_HEADER],
        "00000000000000000000000000000001-0000000000000002-0"
    );
}

#[test]
fn multi_injection_writes_exactly_the_x_b3_headers() {
    let carrier = inject(
        &B3Propagator::multi(),
        &context_with(TRACE_ID, SPAN_ID, false),
    );
    assert_eq!(
        names(&carrier),
        [SAMPLED_HEADER, SPAN_ID_HEADER, TRACE_ID_HEADER]
    );
    assert_eq!(carrier[TRACE_ID_HEADER], TRACE_ID_HEX);
    assert_eq!(carrier[SPAN_ID_HEADER], SPAN_ID_HEX);
    assert_eq!(carrier[SAMPLED_HEADER], "0");
    assert!(!carrier.contains_key(PARENT_SPAN_ID_HEADER));
}

#[test]
fn both_encodings_write_both() {
    let propagator = B3Propagator::new(B3Encoding::SingleAndMultiHeader);
    let carrier = inject(&propagator, &context_with(TRACE_ID, SPAN_ID, true));
    assert_eq!(
        names(&carrier),
        [
            SINGLE_HEADER,
            SAMPLED_HEADER,
            SPAN_ID_HEADER,
            TRACE_ID_HEADER
        ]
    );
}

#[test]
fn invalid_context_injects_nothing() {
    for propagator in all_encodings() {
        assert!(inject(&propagator, &Context::new()).is_empty());
        assert!(inject(&propagator, &Context::new().with_debug_flag(true)).is_empty());
    }
}

#[test]
fn fields_match_what_injection_may_write() {
    fn fields(p: &B3Propagator) -> Vec<&str> {
        p.fields().collect()
    }
    assert_eq!(fields(&B3Propagator::single()), [SINGLE_HEADER]);
    assert_eq!(
        fields(&B3Propagator::multi()),
        [
            TRACE_ID_HEADER,
            SPAN_ID_HEADER,
            SAMPLED_HEADER,
            FLAGS_HEADER
        ]
    );
    assert_eq!(
        fields(&B3Propagator::new(B3Encoding::SingleAndMultiHeader)),
        [
            SINGLE_HEADER,
            TRACE_ID_HEADER,
            SPAN_ID_HEADER,
            SAMPLED_HEADER,
            FLAGS_HEADER
        ]
    );
    // Every injected header is listed in fields().
    for propagator in all_encodings() {
        let listed = fields(&propagator);
        for debug in [false, true] {
            let cx = context_with(TRACE_ID, SPAN_ID, true).with_debug_flag(debug);
            for name in inject(&propagator, &cx).keys() {
                assert!(listed.contains(&name.as_str()), "{name} not in {listed:?}");
            }
        }
    }
}

#[test]
fn debug_is_injected_and_round_trips() {
    let cx = context_with(TRACE_ID, SPAN_ID, false).with_debug_flag(true);

    let single = inject(&B3Propagator::single(), &cx);
    assert_eq!(
        single[SINGLE_HEADER],
        format!("{TRACE_ID_HEX}-{SPAN_ID_HEX}-d")
    );

    let multi = inject(&B3Propagator::multi(), &cx);
    assert_eq!(
        names(&multi),
        [FLAGS_HEADER, SPAN_ID_HEADER, TRACE_ID_HEADER]
    );
    assert_eq!(multi[FLAGS_HEADER], "1");

    for carrier in [single, multi] {
        let extracted = B3Propagator::single().extract_with_context(&Context::new(), &carrier);
        assert!(extracted.debug_flag());
        assert!(extracted.span().span_context().is_sampled());
    }
}

/// Single-header values that extract, with (trace id, sampled, debug).
#[test]
fn single_header_accepted_forms() {
    let padded = 0xa3ce_929d_0e0e_4736_u128;
    let cases: &[(&str, u128, bool, bool)] = &[
        (
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            TRACE_ID,
            false,
            false,
        ), // deferred
        (
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            TRACE_ID,
            false,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            TRACE_ID,
            true,
            false,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-d",
            TRACE_ID,
            true,
            true,
        ),
        (
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-00000000000000cd",
            TRACE_ID,
            true,
            false,
        ),
        ("a3ce929d0e0e4736-00f067aa0ba902b7-1", padded, true, false), // 64-bit trace id
        (
            "a3ce929d0e0e4736-00f067aa0ba902b7-d-00f067aa0ba90200",
            padded,
            true,
            true,
        ),
        (
            "  4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\t",
            TRACE_ID,
            true,
            false,
        ), // OWS
    ];
    for &(value, trace_id, sampled, debug) in cases {
        let cx = B3Propagator::multi()
            .extract_with_context(&Context::new(), &headers(&[(SINGLE_HEADER, value)]));
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(sc.trace_id(), TraceId::from(trace_id), "{value}");
        assert_eq!(sc.span_id(), SpanId::from(SPAN_ID), "{value}");
        assert_eq!(sc.is_sampled(), sampled, "{value}");
        assert_eq!(cx.debug_flag(), debug, "{value}");
        assert!(sc.is_remote(), "{value}");
    }
}

#[test]
fn sixty_four_bit_trace_id_is_left_padded() {
    let sc = extract(
        &B3Propagator::single(),
        &headers(&[
            (TRACE_ID_HEADER, "a3ce929d0e0e4736"),
            (SPAN_ID_HEADER, SPAN_ID_HEX),
        ]),
    );
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("0000000000000000a3ce929d0e0e4736").unwrap()
    );
    // And it is re-injected as 32 digits.
    let cx = Context::new().with_remote_span_context(sc);
    let carrier = inject(&B3Propagator::single(), &cx);
    assert!(carrier[SINGLE_HEADER].starts_with("0000000000000000a3ce929d0e0e4736-"));
}

#[test]
fn single_header_malformed_values_are_ignored() {
    let cases = [
        "",
        "-",
        "--",
        "0",                                                    // lone deny: no ids
        "1",                                                    // lone accept: no ids
        "d",                                                    // lone debug: no ids
        "4bf92f3577b34da6a3ce929d0e0e4736",                     // missing span id
        "4bf92f3577b34da6a3ce929d0e0e4736-",                    // empty span id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",   // empty sampling state
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-", // empty parent
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-00f067aa0ba902b7-1", // extra part
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-2",  // bad sampling state
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-true", // true only in multi
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-D",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-1", // 30-digit trace id
        "4bf92f3577b34da6a3ce929d0e0e473600-00f067aa0ba902b7-1", // 34-digit trace id
        "4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-1", // 33-digit trace id
        "a3ce929d0e0e473-00f067aa0ba902b7-1",                // 15-digit trace id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-1", // 15-digit span id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b700-1", // 18-digit span id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-00f067aa0ba902", // 14-digit parent
        "4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-1", // upper-case trace id
        "4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-1", // upper-case span id
        "qw000000000000000000000000000000-00f067aa0ba902b7-1", // non-hex trace id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902g7-1", // non-hex span id
        "+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", // sign
        "00000000000000000000000000000000-00f067aa0ba902b7-1", // zero trace id
        "0000000000000000-00f067aa0ba902b7-1",               // zero 64-bit trace id
        "4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-1", // zero span id
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-0000000000000000", // zero parent
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-xyz0000000000000", // non-hex parent
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00f067aa0ba902b8", // parent, no state
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // a traceparent
        "4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 1",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1\u{e9}",
    ];
    for value in cases {
        let cx = B3Propagator::single()
            .extract_with_context(&Context::new(), &headers(&[(SINGLE_HEADER, value)]));
        assert!(!cx.has_active_span(), "{value:?} was accepted");
        assert!(!cx.debug_flag(), "{value:?}");
    }
}

#[test]
fn multi_header_accepted_forms() {
    // (sampled header, flags header, expect sampled, expect debug)
    let cases: &[(Option<&str>, Option<&str>, bool, bool)] = &[
        (None, None, false, false), // deferred
        (Some("0"), None, false, false),
        (Some("1"), None, true, false),
        (Some("true"), None, true, false),
        (Some("false"), None, false, false),
        (None, Some("1"), true, true),
        (Some("0"), Some("1"), true, true),     // debug wins
        (Some("bogus"), Some("1"), true, true), // X-B3-Sampled is not consulted with debug
        (Some("1"), Some("0"), true, false),
        (Some("1"), Some("2"), true, false), // other flags values are ignored
    ];
    for &(sampled, flags, expect_sampled, expect_debug) in cases {
        let mut carrier = headers(&[
            (TRACE_ID_HEADER, TRACE_ID_HEX),
            (SPAN_ID_HEADER, SPAN_ID_HEX),
            (PARENT_SPAN_ID_HEADER, "00f067aa0ba90200"),
        ]);
        if let Some(sampled) = sampled {
            carrier.insert(SAMPLED_HEADER.into(), sampled.into());
        }
        if let Some(flags) = flags {
            carrier.insert(FLAGS_HEADER.into(), flags.into());
        }
        let cx = B3Propagator::single().extract_with_context(&Context::new(), &carrier);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote(), "{carrier:?}");
        assert_eq!(sc.trace_id(), TraceId::from(TRACE_ID));
        assert_eq!(sc.is_sampled(), expect_sampled, "{carrier:?}");
        assert_eq!(cx.debug_flag(), expect_debug, "{carrier:?}");
    }
}

#[test]
fn multi_header_malformed_values_are_ignored() {
    let good = [
        (TRACE_ID_HEADER, TRACE_ID_HEX),
        (SPAN_ID_HEADER, SPAN_ID_HEX),
        (SAMPLED_HEADER, "1"),
    ];
    // (header to replace or remove, new value or None to remove)
    let cases: &[(&str, Option<&str>)] = &[
        (TRACE_ID_HEADER, None),
        (SPAN_ID_HEADER, None),
        (TRACE_ID_HEADER, Some("")),
        (SPAN_ID_HEADER, Some("")),
        (TRACE_ID_HEADER, Some("4bf92f3577b34da6a3ce929d0e0e47")),
        (TRACE_ID_HEADER, Some("4BF92F3577B34DA6A3CE929D0E0E4736")),
        (TRACE_ID_HEADER, Some("00000000000000000000000000000000")),
        (SPAN_ID_HEADER, Some("00f067aa0ba902")),
        (SPAN_ID_HEADER, Some("00f067aa0ba902zz")),
        (SPAN_ID_HEADER, Some("0000000000000000")),
        (SAMPLED_HEADER, Some("2")),
        (SAMPLED_HEADER, Some("d")),
        (SAMPLED_HEADER, Some("")),
        (SAMPLED_HEADER, Some("TRUE")),
        (PARENT_SPAN_ID_HEADER, Some("00f067aa0ba902")),
        (PARENT_SPAN_ID_HEADER, Some("0000000000000000")),
        (PARENT_SPAN_ID_HEADER, Some("")),
    ];
    for &(name, value) in cases {
        let mut carrier = headers(&good);
        match value {
            Some(value) => carrier.insert(name.into(), value.into()),
            None => carrier.remove(name),
        };
        assert!(
            !B3Propagator::multi()
                .extract_with_context(&Context::new(), &carrier)
                .has_active_span(),
            "{carrier:?} was accepted"
        );
    }
    // A sampling decision alone carries no ids.
    let carrier = headers(&[(SAMPLED_HEADER, "1")]);
    assert!(!extract(&B3Propagator::multi(), &carrier).is_valid());
}

#[test]
fn single_header_wins_and_invalid_single_falls_back_to_multi() {
    let multi = [
        (TRACE_ID_HEADER, "0000000000000000000000000000000a"),
        (SPAN_ID_HEADER, "000000000000000b"),
        (SAMPLED_HEADER, "0"),
    ];
    let mut carrier = headers(&multi);
    carrier.insert(
        SINGLE_HEADER.into(),
        format!("{TRACE_ID_HEX}-{SPAN_ID_HEX}-1"),
    );
    let sc = extract(&B3Propagator::multi(), &carrier);
    assert_eq!(sc.trace_id(), TraceId::from(TRACE_ID));
    assert!(sc.is_sampled());

    for bad_single in ["0", "garbage", "d"] {
        carrier.insert(SINGLE_HEADER.into(), bad_single.into());
        let sc = extract(&B3Propagator::single(), &carrier);
        assert_eq!(sc.trace_id(), TraceId::from(0xa), "{bad_single}");
        assert!(!sc.is_sampled());
    }
}

#[test]
fn failed_extraction_returns_the_given_context() {
    let before = context_with(7, 8, true).with_debug_flag(true);
    let after = B3Propagator::single()
        .extract_with_context(&before, &headers(&[(SINGLE_HEADER, "nonsense")]));
    assert_eq!(after.span().span_context().trace_id(), TraceId::from(7));
    assert!(after.debug_flag());

    // A successful extraction replaces both span and debug flag.
    let after = B3Propagator::single().extract_with_context(
        &before,
        &headers(&[(SINGLE_HEADER, &format!("{TRACE_ID_HEX}-{SPAN_ID_HEX}-1"))]),
    );
    assert_eq!(
        after.span().span_context().trace_id(),
        TraceId::from(TRACE_ID)
    );
    assert!(!after.debug_flag());
}

#[test]
fn repeated_header_with_different_values_is_ignored() {
    let value = format!("{TRACE_ID_HEX}-{SPAN_ID_HEX}-1");
    let same = RepeatedHeaders(vec![
        (SINGLE_HEADER, value.clone()),
        (SINGLE_HEADER, value.clone()),
    ]);
    assert!(B3Propagator::single()
        .extract_with_context(&Context::new(), &same)
        .has_active_span());

    let other = format!("{TRACE_ID_HEX}-00000000000000aa-1");
    let different = RepeatedHeaders(vec![(SINGLE_HEADER, value), (SINGLE_HEADER, other)]);
    assert!(!B3Propagator::single()
        .extract_with_context(&Context::new(), &different)
        .has_active_span());
}
