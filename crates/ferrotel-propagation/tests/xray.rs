//! X-Ray propagator: round trips, the exact header, accepted forms, malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel_propagation::xray::TRACE_HEADER;
use ferrotel_propagation::XrayPropagator;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use opentelemetry::Context;
use support::*;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const XRAY_TRACE_ID: u128 = 0x5759_e988_bd86_2e3f_e1be_46a9_9427_2793;
const PARENT: &str = "53995c3f42cd8ad8";
const XRAY_SPAN_ID: u64 = 0x5399_5c3f_42cd_8ad8;

fn header(value: &str) -> std::collections::HashMap<String, String> {
    headers(&[(TRACE_HEADER, value)])
}

#[test]
fn propagator_is_send_sync_debug() {
    assert_send_sync_debug::<XrayPropagator>();
    let propagator = XrayPropagator::default();
    let fields: Vec<&str> = propagator.fields().collect();
    assert_eq!(fields, [TRACE_HEADER]);
}

#[test]
fn round_trip_keeps_ids_and_sampling() {
    for sampled in [true, false] {
        for (trace_id, span_id) in [
            (TRACE_ID, SPAN_ID),
            (XRAY_TRACE_ID, XRAY_SPAN_ID),
            (1, 1),
            (u128::MAX, u64::MAX),
        ] {
            let carrier = inject(
                &XrayPropagator::new(),
                &context_with(trace_id, span_id, sampled),
            );
            let sc = extract(&XrayPropagator::new(), &carrier);
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
        &XrayPropagator::new(),
        &context_with(XRAY_TRACE_ID, XRAY_SPAN_ID, true),
    );
    assert_eq!(names(&carrier), [TRACE_HEADER]);
    assert_eq!(
        carrier[TRACE_HEADER],
        format!("Root={ROOT};Parent={PARENT};Sampled=1")
    );
    let carrier = inject(&XrayPropagator::new(), &context_with(1, 2, false));
    assert_eq!(
        carrier[TRACE_HEADER],
        "Root=1-00000000-000000000000000000000001;Parent=0000000000000002;Sampled=0"
    );
    // Nothing to propagate: no header.
    assert!(inject(&XrayPropagator::new(), &Context::new()).is_empty());
}

#[test]
fn accepts_the_forms_aws_sends() {
    for (value, sampled) in [
        (format!("Root={ROOT};Parent={PARENT};Sampled=1"), true),
        (format!("Root={ROOT};Parent={PARENT};Sampled=0"), false),
        (format!("Root={ROOT};Parent={PARENT}"), false),
        (format!("Root={ROOT};Parent={PARENT};Sampled=?"), false),
        // Any order, extra keys, spaces around parts, a trailing separator.
        (format!("Sampled=1;Parent={PARENT};Root={ROOT}"), true),
        (
            format!("Self=1-67891234-12456789abcdef012345678;Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:0"),
            true,
        ),
        (format!(" Root={ROOT} ; Parent={PARENT} ;\tSampled=1 ;"), true),
        (format!("Root={ROOT};Parent={PARENT};Sampled=1;CustomKey=a=b"), true),
    ] {
        let sc = extract(&XrayPropagator::new(), &header(&value));
        assert_eq!(sc.trace_id(), TraceId::from(XRAY_TRACE_ID), "{value}");
        assert_eq!(sc.span_id(), SpanId::from(XRAY_SPAN_ID), "{value}");
        assert_eq!(sc.is_sampled(), sampled, "{value}");
        assert!(sc.is_remote(), "{value}");
    }
    // Header names match in any case on an HTTP-like carrier.
    let carrier = RepeatedHeaders::of(&[(
        "X-Amzn-Trace-Id",
        &format!("Root={ROOT};Parent={PARENT};Sampled=1"),
    )]);
    assert!(extract_from(&XrayPropagator::new(), &carrier).is_valid());
}

#[test]
fn malformed_headers_leave_the_context_alone() {
    let malformed = [
        String::new(),
        " ".to_owned(),
        ";".to_owned(),
        "garbage".to_owned(),
        format!("Root={ROOT}"),
        format!("Parent={PARENT};Sampled=1"),
        format!("Root={ROOT};Parent={PARENT};Sampled=2"),
        format!("Root={ROOT};Parent={PARENT};Sampled=true"),
        format!("Root={ROOT};Parent={PARENT};Sampled="),
        format!("Root={ROOT};Parent={PARENT};Sampled=1;Sampled=1"),
        format!("Root={ROOT};Root={ROOT};Parent={PARENT}"),
        format!("Root={ROOT};Parent={PARENT};Parent={PARENT}"),
        format!("Root={ROOT};Parent={PARENT};junk"),
        format!("root={ROOT};parent={PARENT};sampled=1"),
        format!("Root = {ROOT};Parent={PARENT}"),
        format!("Root={ROOT},Parent={PARENT}"),
        format!("Root=2-5759e988-bd862e3fe1be46a994272793;Parent={PARENT}"),
        format!("Root=1-5759E988-bd862e3fe1be46a994272793;Parent={PARENT}"),
        format!("Root=1-5759e988bd862e3fe1be46a994272793;Parent={PARENT}"),
        format!("Root=1-5759e98-8bd862e3fe1be46a994272793;Parent={PARENT}"),
        format!("Root=1-00000000-000000000000000000000000;Parent={PARENT}"),
        format!("Root={ROOT};Parent=0000000000000000"),
        format!("Root={ROOT};Parent=53995C3F42CD8AD8"),
        format!("Root={ROOT};Parent=53995c3f42cd8ad"),
        format!("Root={ROOT};Parent=53995c3f42cd8ad8ff"),
        format!("Root={ROOT};Parent=-3995c3f42cd8ad8"),
        format!("Root={ROOT}é;Parent={PARENT}"),
        format!("Root=1-5759e988-bd862e3fe1be46a99427279\u{1F600};Parent={PARENT}"),
    ];
    let existing = context_with(TRACE_ID, SPAN_ID, true);
    for value in &malformed {
        // A fresh trace: nothing extracted from an empty context.
        let cx = XrayPropagator::new().extract_with_context(&Context::new(), &header(value));
        assert!(!cx.has_active_span(), "{value:?}");
        // And a context that had a span keeps it.
        let cx = XrayPropagator::new().extract_with_context(&existing, &header(value));
        assert_eq!(
            cx.span().span_context().trace_id(),
            TraceId::from(TRACE_ID),
            "{value:?}"
        );
    }
}

#[test]
fn a_header_repeated_with_different_values_is_ambiguous() {
    let one = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let other = format!("Root={ROOT};Parent=0000000000000001;Sampled=1");
    let carrier = RepeatedHeaders::of(&[(TRACE_HEADER, &one), (TRACE_HEADER, &other)]);
    assert!(!extract_from(&XrayPropagator::new(), &carrier).is_valid());
    let carrier = RepeatedHeaders::of(&[(TRACE_HEADER, &one), ("X-Amzn-Trace-Id", &one)]);
    assert!(extract_from(&XrayPropagator::new(), &carrier).is_valid());
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// An `X-Amzn-Trace-Id` value: arbitrary text, or parts that are valid more often than not.
    fn trace_header() -> impl Strategy<Value = String> {
        let root = prop_oneof![
            8 => "1-[0-9a-f]{8}-[0-9a-f]{24}",
            1 => Just("1-00000000-000000000000000000000000".to_owned()),
            1 => "[0-9]-[0-9a-fA-F]{7,9}-[0-9a-fA-F]{23,25}",
            1 => "[ -~]{0,40}",
        ];
        let parent = prop_oneof![
            8 => "[0-9a-f]{16}",
            1 => Just("0".repeat(16)),
            1 => "[0-9a-fA-F+-]{15,17}",
        ];
        let sampled = prop_oneof!["[01?]", "[ -~]{0,3}"];
        let part = prop_oneof![
            4 => root.prop_map(|r| format!("Root={r}")),
            4 => parent.prop_map(|p| format!("Parent={p}")),
            2 => sampled.prop_map(|s| format!("Sampled={s}")),
            1 => "[A-Za-z]{1,8}=[ -:<-~]{0,12}",
            1 => "[ -~]{0,12}",
            1 => Just(String::new()),
        ];
        let ows = "[ \t]{0,2}";
        prop_oneof![
            1 => any::<String>(),
            6 => prop::collection::vec((part, ows), 0..6).prop_map(|parts| {
                parts
                    .into_iter()
                    .map(|(p, ws)| format!("{ws}{p}{ws}"))
                    .collect::<Vec<_>>()
                    .join(";")
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Whatever arrives, extraction does not panic; what it accepts is a valid remote span
        /// that injects and extracts again to the same ids and sampling.
        #[test]
        fn extraction_never_panics_and_round_trips(value in trace_header()) {
            let propagator = XrayPropagator::new();
            let cx = propagator.extract_with_context(&Context::new(), &header(&value));
            if cx.has_active_span() {
                let span = cx.span();
                let sc = span.span_context();
                prop_assert!(sc.is_valid() && sc.is_remote());
                let again = extract(&propagator, &inject(&propagator, &cx));
                prop_assert_eq!(again.trace_id(), sc.trace_id());
                prop_assert_eq!(again.span_id(), sc.span_id());
                prop_assert_eq!(again.is_sampled(), sc.is_sampled());
            } else {
                prop_assert!(inject(&propagator, &cx).is_empty());
            }
        }
    }

    #[test]
    fn the_generator_reaches_the_accepting_path() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;

        let mut runner = TestRunner::deterministic();
        let strategy = trace_header();
        let accepted = (0..500)
            .filter(|_| {
                let value = strategy.new_tree(&mut runner).unwrap().current();
                extract(&XrayPropagator::new(), &header(&value)).is_valid()
            })
            .count();
        assert!(accepted > 20, "only {accepted} of 500 accepted");
    }
}
