//! Property tests over W3C extraction: arbitrary and near-valid header values, repeated headers.
//! Extraction never panics, and whatever it accepts injects to headers that extract to the same
//! context (and inject again to the same headers).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use ferrotel_propagation::w3c::{TRACEPARENT_HEADER, TRACESTATE_HEADER};
use ferrotel_propagation::{BaggagePropagator, TraceContextPropagator, W3cTraceStateExt};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use proptest::prelude::*;
use support::RepeatedHeaders;

/// A traceparent: arbitrary text, or fields that are valid more often than not.
fn traceparent() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        8 => Just("00".to_owned()),
        1 => Just("ff".to_owned()),
        1 => "[0-9a-f]{2}",
        1 => "[0-9a-fA-F]{1,3}",
    ];
    let trace_id = prop_oneof![
        12 => "[0-9a-f]{32}",
        1 => Just("0".repeat(32)),
        1 => "[0-9a-fA-F]{30,34}",
    ];
    let span_id = prop_oneof![
        12 => "[0-9a-f]{16}",
        1 => Just("0".repeat(16)),
        1 => "[0-9a-fA-F ]{15,17}",
    ];
    let flags = prop_oneof![12 => "[0-9a-f]{2}", 1 => "[0-9a-zA-Z]{0,3}"];
    let tail = prop_oneof![
        12 => Just(String::new()),
        1 => "-[ -~]{0,12}",
        1 => "[ -~]{1,4}",
    ];
    let ows = "[ \t]{0,2}";
    prop_oneof![
        1 => any::<String>(),
        1 => "[ -~]{0,70}",
        12 => (ows, version, trace_id, span_id, flags, tail, ows).prop_map(
            |(lead, v, t, s, f, tail, trail)| format!("{lead}{v}-{t}-{s}-{f}{tail}{trail}")
        ),
    ]
}

/// A tracestate header value: members drawn from near the grammar's edges, or arbitrary text.
fn tracestate() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        30 => "[a-z0-9][a-z0-9_*/@-]{0,12}",
        1 => "[A-Za-z0-9_*/@ .-]{0,6}",
    ];
    let value = prop_oneof![
        30 => "[!-+\\--<>-~][ -+\\--<>-~]{0,20}[!-+\\--<>-~]",
        1 => "[ -~]{0,10}",
        2 => "[a-z]{120,140}",
    ];
    let member = prop_oneof![
        30 => (key, value).prop_map(|(k, v)| format!("{k}={v}")),
        3 => "[ \t]{0,2}",
        1 => "[ -~]{0,8}",
    ];
    let members = |range| prop::collection::vec(member.clone(), range).prop_map(|m| m.join(","));
    prop_oneof![
        12 => members(0..6),
        2 => members(28..36),
        1 => any::<String>(),
    ]
}

/// A baggage header value.
fn baggage() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        6 => ("[a-zA-Z0-9!#$&'*+.^_`|~-]{1,8}", "[ \t]{0,1}", "[!#-+\\--:<-\\[\\]-~]{0,12}", "(;[ ]?[a-z]{1,4}(=[a-z%0-9]{0,4})?){0,2}")
            .prop_map(|(k, ws, v, props)| format!("{ws}{k}{ws}={ws}{v}{props}")),
        1 => "[ -~]{0,16}",
    ];
    prop_oneof![
        6 => prop::collection::vec(member, 0..12).prop_map(|m| m.join(",")),
        1 => any::<String>(),
    ]
}

/// Header names as a client might spell them.
fn name(canonical: &'static str) -> impl Strategy<Value = &'static str> {
    let upper: &'static str = Box::leak(canonical.to_ascii_uppercase().into_boxed_str());
    prop_oneof![4 => Just(canonical), 1 => Just(upper)]
}

fn carrier() -> impl Strategy<Value = RepeatedHeaders> {
    // Mostly exactly one traceparent, sometimes none or two.
    let traceparents = prop_oneof![
        1 => prop::collection::vec((name(TRACEPARENT_HEADER), traceparent()), 0..=0),
        8 => prop::collection::vec((name(TRACEPARENT_HEADER), traceparent()), 1..=1),
        1 => prop::collection::vec((name(TRACEPARENT_HEADER), traceparent()), 2..=2),
    ];
    let tracestates = prop::collection::vec((name(TRACESTATE_HEADER), tracestate()), 0..3);
    let baggages = prop::collection::vec((name("baggage"), baggage()), 0..3);
    (traceparents, tracestates, baggages).prop_map(|(tp, ts, bg)| {
        let mut all = tp;
        all.extend(ts);
        all.extend(bg);
        RepeatedHeaders(all)
    })
}

fn inject_all(cx: &Context) -> HashMap<String, String> {
    let mut out = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut out);
    BaggagePropagator::new().inject_context(cx, &mut out);
    out
}

fn extract_all(carrier: &dyn opentelemetry::propagation::Extractor) -> Context {
    let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), carrier);
    BaggagePropagator::new().extract_with_context(&cx, carrier)
}

fn sorted_baggage(cx: &Context) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.to_string()))
        .collect();
    all.sort();
    all
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn extraction_never_panics_and_round_trips(carrier in carrier()) {
        let cx = extract_all(&carrier);
        let span = cx.span();
        let sc = span.span_context();
        let traceparents = carrier.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(TRACEPARENT_HEADER)).count();
        if cx.has_active_span() {
            prop_assert!(sc.is_valid() && sc.is_remote());
            prop_assert_eq!(traceparents, 1);
            prop_assert_eq!(sc.trace_flags().to_u8() & !0x03, 0);
        } else {
            prop_assert!(cx.w3c_trace_state().is_empty());
        }

        let injected = inject_all(&cx);
        let again = extract_all(&injected);
        let span2 = again.span();
        let sc2 = span2.span_context();
        prop_assert_eq!(sc.trace_id(), sc2.trace_id());
        prop_assert_eq!(sc.span_id(), sc2.span_id());
        prop_assert_eq!(sc.trace_flags(), sc2.trace_flags());
        if cx.w3c_trace_state().header().len() == cx.w3c_trace_state().iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>().saturating_sub(1) {
            // Nothing was truncated: the very same list and TraceState.
            prop_assert_eq!(cx.w3c_trace_state(), again.w3c_trace_state());
            prop_assert_eq!(sc.trace_state(), sc2.trace_state());
        }
        let within_limits = injected.get("baggage").is_none_or(|h| h.len() < 8000);
        if within_limits {
            prop_assert_eq!(sorted_baggage(&cx), sorted_baggage(&again));
        }
        // Injection is a fixed point after one round.
        prop_assert_eq!(&injected, &inject_all(&again));
    }
}

/// The generators reach the accepting paths, not only rejections.
#[test]
fn generators_reach_accepting_paths() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = carrier();
    let (mut spans, mut trace_states, mut baggages) = (0, 0, 0);
    for _ in 0..300 {
        let carrier = strategy.new_tree(&mut runner).unwrap().current();
        let cx = extract_all(&carrier);
        spans += usize::from(cx.has_active_span());
        trace_states += usize::from(!cx.w3c_trace_state().is_empty());
        baggages += usize::from(!cx.baggage().is_empty());
    }
    println!("accepted: {spans} spans, {trace_states} tracestates, {baggages} baggages");
    assert!(spans > 30 && trace_states > 10 && baggages > 30);
}
