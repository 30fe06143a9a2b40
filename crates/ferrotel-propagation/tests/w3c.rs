//! W3C Trace Context propagator: every traceparent and tracestate rule of the W3C Trace Context
//! specification (Level 2), checked on what is extracted and what is injected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use ferrotel_propagation::w3c::{RANDOM_TRACE_ID, TRACEPARENT_HEADER, TRACESTATE_HEADER};
use ferrotel_propagation::{TraceContextPropagator, W3cTraceState, W3cTraceStateExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use support::*;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

fn extract_tp(value: &str) -> SpanContext {
    extract(&propagator(), &headers(&[(TRACEPARENT_HEADER, value)]))
}

/// Extracts `traceparent: TP` plus the given tracestate headers and returns the context.
fn extract_ts(tracestates: &[&str]) -> Context {
    let mut pairs: Vec<(&'static str, &str)> = vec![(TRACEPARENT_HEADER, TP)];
    pairs.extend(tracestates.iter().map(|v| (TRACESTATE_HEADER, *v)));
    propagator().extract_with_context(&Context::new(), &RepeatedHeaders::of(&pairs))
}

/// The full tracestate ferrotel keeps after extracting `tracestates` (empty when discarded).
fn kept_ts(tracestates: &[&str]) -> String {
    let cx = extract_ts(tracestates);
    assert!(cx.span().span_context().is_valid(), "traceparent lost");
    cx.w3c_trace_state().header()
}

#[test]
fn propagator_is_send_sync_debug() {
    assert_send_sync_debug::<TraceContextPropagator>();
    let propagator = TraceContextPropagator::default();
    let fields: Vec<&str> = propagator.fields().collect();
    assert_eq!(fields, [TRACEPARENT_HEADER, TRACESTATE_HEADER]);
}

#[test]
fn valid_traceparents() {
    #[rustfmt::skip]
    let cases: &[(&str, &str, u8)] = &[
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "plain sampled", 0x01),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "not sampled", 0x00),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", "random", 0x02),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", "sampled random", 0x03),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", "other bits cleared", 0x03),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08", "unknown bit only", 0x00),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "future, 55 chars", 0x01),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be", "future, more fields", 0x01),
        ("fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-", "future, empty tail", 0x01),
        (" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "leading space", 0x01),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \t", "trailing OWS", 0x01),
        ("\t 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ", "both OWS", 0x01),
    ];
    for (value, why, flags) in cases {
        let sc = extract_tp(value);
        assert!(sc.is_valid() && sc.is_remote(), "{why}: {value:?}");
        assert_eq!(sc.trace_id(), TraceId::from(TRACE_ID), "{why}");
        assert_eq!(sc.span_id(), SpanId::from(SPAN_ID), "{why}");
        assert_eq!(sc.trace_flags(), TraceFlags::new(*flags), "{why}");
    }
}

#[test]
fn invalid_traceparents() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("00", "version only"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "no flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-", "empty flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "short flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", "long flags, v00"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "short trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", "long trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", "short span id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01", "long span id"),
        ("000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "long version"),
        ("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "short version"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "upper trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "upper span id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", "upper flags"),
        ("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "upper version"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "zero trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "zero span id"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "v00, trailing dash"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "v00, extra field"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "v00, trailing char"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what", "future, no dash"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", "future, long flags"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-a b", "future, inner space"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "future, short"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7-01", "space separator"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7- 1", "inner space"),
        ("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", "wrong separator"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", "non-hex flags"),
        ("00-xbf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "non-hex trace id"),
        ("00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "sign in trace id"),
        ("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "non-hex version"),
        ("00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01", "non-ASCII"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "folded repeat"),
    ];
    for &(value, why) in cases {
        let mut carrier = headers(&[(TRACEPARENT_HEADER, value), (TRACESTATE_HEADER, "a=1")]);
        let cx = propagator().extract_with_context(&Context::new(), &carrier);
        assert!(!cx.has_active_span(), "{why}: {value:?} was accepted");
        assert!(cx.w3c_trace_state().is_empty(), "{why}");
        // An invalid header leaves an existing context exactly as it was.
        let before = context_with(1, 2, true);
        carrier.remove(TRACESTATE_HEADER);
        let after = propagator().extract_with_context(&before, &carrier);
        assert_eq!(after.span().span_context(), before.span().span_context());
    }
}

#[test]
fn repeated_traceparent_is_invalid_even_when_equal() {
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    for pair in [[TP, TP], [TP, other]] {
        let carrier = RepeatedHeaders::of(&[
            (TRACEPARENT_HEADER, pair[0]),
            (TRACEPARENT_HEADER, pair[1]),
            (TRACESTATE_HEADER, "a=1"),
        ]);
        let cx = propagator().extract_with_context(&Context::new(), &carrier);
        assert!(!cx.has_active_span(), "{pair:?}");
        assert!(cx.w3c_trace_state().is_empty());
    }
}

#[test]
fn header_names_match_case_insensitively() {
    let carrier = RepeatedHeaders::of(&[
        ("TraceParent", TP),
        ("TRACESTATE", "a=1"),
        ("tracestate", "b=2"),
        ("TraceState", "c=3"),
    ]);
    let cx = propagator().extract_with_context(&Context::new(), &carrier);
    assert_eq!(cx.span().span_context().trace_id(), TraceId::from(TRACE_ID));
    assert_eq!(cx.w3c_trace_state().header(), "a=1,b=2,c=3");

    let twice = RepeatedHeaders::of(&[("TraceParent", TP), ("traceparent", TP)]);
    assert!(!extract_from(&propagator(), &twice).is_valid());
}

#[test]
fn random_flag_survives_a_round_trip_and_other_bits_are_zeroed() {
    for (incoming, outgoing) in [
        ("02", "02"),
        ("03", "03"),
        ("01", "01"),
        ("00", "00"),
        ("ff", "03"),
        ("fd", "01"),
        ("04", "00"),
    ] {
        let value = format!("00-{TRACE_ID_HEX}-{SPAN_ID_HEX}-{incoming}");
        let cx = propagator()
            .extract_with_context(&Context::new(), &headers(&[(TRACEPARENT_HEADER, &value)]));
        let out = inject(&propagator(), &cx);
        assert_eq!(
            out[TRACEPARENT_HEADER],
            format!("00-{TRACE_ID_HEX}-{SPAN_ID_HEX}-{outgoing}")
        );
    }
    // Flags set locally: unknown bits are not written either.
    let sc = SpanContext::new(
        TraceId::from(TRACE_ID),
        SpanId::from(SPAN_ID),
        TraceFlags::new(0xf6),
        false,
        TraceState::NONE,
    );
    let out = inject(&propagator(), &Context::new().with_remote_span_context(sc));
    assert!(out[TRACEPARENT_HEADER].ends_with("-02"));
    assert_eq!(RANDOM_TRACE_ID.to_u8(), 0x02);
}

#[test]
fn future_version_is_reemitted_as_00() {
    let cx = propagator().extract_with_context(
        &Context::new(),
        &headers(&[(
            TRACEPARENT_HEADER,
            &format!("cc-{TRACE_ID_HEX}-{SPAN_ID_HEX}-01-future-stuff"),
        )]),
    );
    let out = inject(&propagator(), &cx);
    assert_eq!(out[TRACEPARENT_HEADER], TP);
}

#[test]
fn injection_writes_only_for_a_valid_span_context() {
    assert!(inject(&propagator(), &Context::new()).is_empty());
    let out = inject(&propagator(), &context_with(TRACE_ID, SPAN_ID, true));
    assert_eq!(names(&out), [TRACEPARENT_HEADER]); // empty tracestate: no header
    assert_eq!(out[TRACEPARENT_HEADER], TP);
    let out = inject(&propagator(), &context_with(1, 2, false));
    assert_eq!(
        out[TRACEPARENT_HEADER],
        "00-00000000000000000000000000000001-0000000000000002-00"
    );
}

#[test]
fn round_trip_with_tracestate() {
    let carrier = headers(&[
        (TRACEPARENT_HEADER, TP),
        (TRACESTATE_HEADER, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ]);
    let cx = propagator().extract_with_context(&Context::new(), &carrier);
    assert_eq!(
        cx.span().span_context().trace_state().header(),
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    assert_eq!(inject(&propagator(), &cx), carrier);
}

#[test]
fn tracestate_headers_are_joined_in_order() {
    assert_eq!(
        kept_ts(&["a=1,b=2", "c=3", "d=4,e=5"]),
        "a=1,b=2,c=3,d=4,e=5"
    );
    assert_eq!(kept_ts(&["c=3", "a=1"]), "c=3,a=1");
    // A duplicate across headers is a duplicate: the first member is kept.
    assert_eq!(kept_ts(&["a=1", "a=2"]), "a=1");
}

#[test]
fn tracestate_member_count() {
    let members = |n: usize| -> String {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let kept = kept_ts(&[&members(32)]);
    assert_eq!(kept, members(32));
    assert_eq!(kept_ts(&[&members(33)]), "");
    // 32 members spread over two headers, with empty members in between, are fine ...
    assert_eq!(
        kept_ts(&[
            &format!("{},,", members(16)),
            &format!(" ,{}", &members(32)[members(16).len() + 1..])
        ]),
        members(32)
    );
    // ... and a 33rd in another header discards the list.
    assert_eq!(kept_ts(&[&members(32), "x=1"]), "");
}

#[test]
fn tracestate_keys() {
    let valid = [
        "a",
        "0",
        "foo@",
        "t*242@v",
        "tenant@system",
        "fw529a3039@dt",
        "a@b@c",
        "foo@0123456789abcdef",
        "foo@_x",
        "a_b-c*d/e@f",
        "9-lives",
    ];
    for key in valid {
        assert_eq!(kept_ts(&[&format!("{key}=1")]), format!("{key}=1"), "{key}");
    }
    let long = "k".repeat(256);
    assert_eq!(kept_ts(&[&format!("{long}=1")]), format!("{long}=1"));

    let invalid = [
        "A".to_owned(),
        "Foo".to_owned(),
        "_a".to_owned(),
        "@a".to_owned(),
        "*a".to_owned(),
        "-a".to_owned(),
        "/a".to_owned(),
        "a.b".to_owned(),
        "a b".to_owned(),
        "a\tb".to_owned(),
        "ké".to_owned(),
        "k".repeat(257),
    ];
    for key in invalid {
        assert_eq!(kept_ts(&[&format!("ok=1,{key}=1")]), "", "{key}");
    }
    assert_eq!(kept_ts(&["ok=1,=1"]), "", "empty key");
    assert_eq!(kept_ts(&["ok=1,novalue"]), "", "no `=`");
}

#[test]
fn tracestate_keys_opentelemetry_cannot_hold_still_propagate() {
    let cx = extract_ts(&["a=1,a@b@c=2,b=3,foo@0123456789abcdef=4"]);
    let span = cx.span();
    // OpenTelemetry's TraceState gets what it can hold, in order ...
    assert_eq!(span.span_context().trace_state().header(), "a=1,b=3");
    // ... and the header goes on unchanged.
    let out = inject(&propagator(), &cx);
    assert_eq!(
        out[TRACESTATE_HEADER],
        "a=1,a@b@c=2,b=3,foo@0123456789abcdef=4"
    );
}

#[test]
fn tracestate_values() {
    let v256 = "v".repeat(256);
    for value in [
        "x",
        " leading",
        "a b",
        "!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
        v256.as_str(),
    ] {
        assert_eq!(
            kept_ts(&[&format!("k={value}")]),
            format!("k={value}"),
            "{value:?}"
        );
    }
    // Optional whitespace around a member is not part of the value.
    assert_eq!(kept_ts(&["k=x ,b=2\t"]), "k=x,b=2");

    let v257 = "v".repeat(257);
    for value in ["", "a=b", "a\u{7f}", "a\u{1}b", "é", "a\tb", v257.as_str()] {
        assert_eq!(kept_ts(&[&format!("ok=1,k={value}")]), "", "{value:?}");
    }
    assert_eq!(kept_ts(&["k=a,b"]), "", "`b` alone is no member");
    // A trailing space cannot come from the wire (it is OWS there), but from a TraceState set
    // in code it can: such a member is not propagated.
    let state = TraceState::from_key_value([("bad", "x "), ("ok", "1")]).unwrap();
    let sc = SpanContext::new(
        TraceId::from(TRACE_ID),
        SpanId::from(SPAN_ID),
        TraceFlags::SAMPLED,
        false,
        state,
    );
    let out = inject(&propagator(), &Context::new().with_remote_span_context(sc));
    assert_eq!(out[TRACESTATE_HEADER], "ok=1");
    assert!(W3cTraceState::parse("k=x ").is_ok()); // trimmed as OWS
    assert!(W3cTraceState::default().insert("k", "x ").is_err());
}

#[test]
fn tracestate_duplicate_keys_keep_the_first_and_inherit_the_rest() {
    // W3C test suite, test_tracestate_duplicated_keys: inherit the tracestate, one duplicate
    // dropped, never the other members.
    assert_eq!(kept_ts(&["a=1,b=2,a=1"]), "a=1,b=2");
    assert_eq!(kept_ts(&["a=1,b=2,a=3"]), "a=1,b=2");
    assert_eq!(kept_ts(&["foo=1,foo=1"]), "foo=1");
    let cx = extract_ts(&["a=1,a=2"]);
    assert!(cx.span().span_context().is_valid());
    assert_eq!(cx.span().span_context().trace_state().get("a"), Some("1"));
    assert_eq!(inject(&propagator(), &cx)[TRACESTATE_HEADER], "a=1");
    // Duplicates do not count towards the 32 members.
    let members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let with_dup = format!("{},k0=again", members.join(","));
    assert_eq!(kept_ts(&[&with_dup]), members.join(","));
}

#[test]
fn tracestate_empty_members_are_skipped() {
    assert_eq!(kept_ts(&[",a=1,, ,\t,b=2,"]), "a=1,b=2");
    assert_eq!(kept_ts(&["", " "]), "");
    assert!(extract_ts(&[",,,"]).span().span_context().is_valid());
}

#[test]
fn tracestate_is_ignored_without_a_valid_traceparent() {
    for traceparent in [None, Some("garbage"), Some("ff-".repeat(20).as_str())] {
        let mut pairs: Vec<(&'static str, &str)> = vec![(TRACESTATE_HEADER, "a=1")];
        if let Some(tp) = traceparent {
            pairs.push((TRACEPARENT_HEADER, tp));
        }
        let cx = propagator().extract_with_context(&Context::new(), &RepeatedHeaders::of(&pairs));
        assert!(!cx.has_active_span());
        assert!(cx.w3c_trace_state().is_empty());
        assert!(inject(&propagator(), &cx).is_empty());
    }
}

#[test]
fn tracestate_injection_truncates_to_512_chars() {
    // 10 members of 50 chars each + 9 commas = 509: all of them.
    let member = |i: usize, len: usize| format!("k{i:02}={}", "v".repeat(len - 4));
    let fits: Vec<String> = (0..10).map(|i| member(i, 50)).collect();
    let header = fits.join(",");
    assert_eq!(header.len(), 509);
    assert_eq!(kept_ts(&[&header]), header);
    let out = inject(&propagator(), &extract_ts(&[&header]));
    assert_eq!(out[TRACESTATE_HEADER], header);

    // Large (> 128 chars) members go first, from the end, even though they come first.
    let mut members = vec![member(0, 200), member(1, 129), member(2, 128)];
    members.extend((3..8).map(|i| member(i, 50)));
    let full = members.join(",");
    assert!(full.len() > 512);
    let out = inject(&propagator(), &extract_ts(&[&full]));
    // Dropping the 129-char member (the last large one) is not enough; then the 200-char one.
    let mut expected = vec![member(2, 128)];
    expected.extend((3..8).map(|i| member(i, 50)));
    assert_eq!(out[TRACESTATE_HEADER], expected.join(","));
    assert!(out[TRACESTATE_HEADER].len() <= 512);

    // Only one large member needs to go.
    let mut members = vec![member(0, 200)];
    members.extend((1..8).map(|i| member(i, 50)));
    let expected: Vec<String> = (1..8).map(|i| member(i, 50)).collect();
    let out = inject(&propagator(), &extract_ts(&[&members.join(",")]));
    assert_eq!(out[TRACESTATE_HEADER], expected.join(","));

    // No large members: from the end.
    let members: Vec<String> = (0..12).map(|i| member(i, 100)).collect();
    let expected: Vec<String> = (0..5).map(|i| member(i, 100)).collect();
    let out = inject(&propagator(), &extract_ts(&[&members.join(",")]));
    assert_eq!(out[TRACESTATE_HEADER], expected.join(","));
    assert_eq!(out[TRACESTATE_HEADER].len(), 504);

    // Exactly 512 fits.
    let mut members: Vec<String> = (0..4).map(|i| member(i, 100)).collect();
    members.push(member(4, 108));
    let header = members.join(",");
    assert_eq!(header.len(), 512);
    assert_eq!(
        inject(&propagator(), &extract_ts(&[&header]))[TRACESTATE_HEADER],
        header
    );
}

#[test]
fn updated_key_moves_to_front_and_injection_keeps_the_given_order() {
    let cx = extract_ts(&["a=1,tenant@x@y=2,b=3"]);
    let span = cx.span();
    let parent = span.span_context();
    // What a sampler does to update its own entry: `TraceState::insert` moves it to the front.
    let updated = parent.trace_state().insert("b", "9").unwrap();
    assert_eq!(updated.header(), "b=9,a=1");
    let child = SpanContext::new(
        parent.trace_id(),
        SpanId::from(7),
        parent.trace_flags(),
        false,
        updated,
    );
    let child_cx = cx.with_remote_span_context(child);
    // ferrotel writes the span's order, then what TraceState could not hold.
    let out = inject(&propagator(), &child_cx);
    assert_eq!(out[TRACESTATE_HEADER], "b=9,a=1,tenant@x@y=2");

    // An unchanged child of the same trace writes the list exactly as received.
    let same = SpanContext::new(
        parent.trace_id(),
        SpanId::from(7),
        parent.trace_flags(),
        false,
        parent.trace_state().clone(),
    );
    let out = inject(&propagator(), &cx.with_remote_span_context(same));
    assert_eq!(out[TRACESTATE_HEADER], "a=1,tenant@x@y=2,b=3");

    // A span of another trace does not pick up the stored list.
    let other = SpanContext::new(
        TraceId::from(99),
        SpanId::from(7),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let out = inject(&propagator(), &cx.with_remote_span_context(other));
    assert_eq!(names(&out), [TRACEPARENT_HEADER]);

    // W3cTraceState::insert has the same move-to-front semantics.
    let list = cx.w3c_trace_state().insert("tenant@x@y", "5").unwrap();
    assert_eq!(list.header(), "tenant@x@y=5,a=1,b=3");
}

#[test]
fn extraction_replaces_an_older_tracestate_of_the_same_trace() {
    let first = extract_ts(&["a=1,x@y@z=2"]);
    let carrier = headers(&[(TRACEPARENT_HEADER, TP)]);
    let second = propagator().extract_with_context(&first, &carrier);
    assert!(second.w3c_trace_state().is_empty());
    assert!(!inject(&propagator(), &second).contains_key(TRACESTATE_HEADER));
}

#[test]
fn hashmap_carrier_works_too() {
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_owned(), format!("  {TP}  "));
    carrier.insert("tracestate".to_owned(), "a=1".to_owned());
    let sc = extract(&propagator(), &carrier);
    assert!(sc.is_valid() && sc.is_sampled());
    assert_eq!(sc.trace_state().header(), "a=1");
}
