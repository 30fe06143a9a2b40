//! W3C Baggage propagator: parsing, percent-decoding, properties, limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ferrotel_propagation::baggage::{BAGGAGE_HEADER, MAX_HEADER_BYTES, MAX_MEMBERS};
use ferrotel_propagation::BaggagePropagator;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::Context;
use support::*;

fn extract_baggage(values: &[&str]) -> Context {
    let pairs: Vec<(&'static str, &str)> = values.iter().map(|v| (BAGGAGE_HEADER, *v)).collect();
    BaggagePropagator::new().extract_with_context(&Context::new(), &RepeatedHeaders::of(&pairs))
}

fn entries(cx: &Context) -> Vec<(String, String, String)> {
    let mut entries: Vec<_> = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.to_string()))
        .collect();
    entries.sort();
    entries
}

fn entry(k: &str, v: &str, m: &str) -> (String, String, String) {
    (k.to_owned(), v.to_owned(), m.to_owned())
}

fn inject_baggage(baggage: Baggage) -> Option<String> {
    let out = inject(
        &BaggagePropagator::new(),
        &Context::new().with_baggage(baggage),
    );
    out.get(BAGGAGE_HEADER).cloned()
}

#[test]
fn propagator_is_send_sync_debug() {
    assert_send_sync_debug::<BaggagePropagator>();
    let propagator = BaggagePropagator::default();
    let fields: Vec<&str> = propagator.fields().collect();
    assert_eq!(fields, [BAGGAGE_HEADER]);
}

#[test]
fn parses_members_properties_and_whitespace() {
    let cx = extract_baggage(&[
        " userId = alice ; pii ; ttl = 30 ,\tserverNode=DF%2028 , isProduction=false",
    ]);
    assert_eq!(
        entries(&cx),
        [
            entry("isProduction", "false", ""),
            entry("serverNode", "DF 28", ""),
            entry("userId", "alice", "pii;ttl=30"),
        ]
    );
}

#[test]
fn percent_decoding() {
    let cx = extract_baggage(&["a=%E2%9C%93,b=x%2Cy%3Bz%3D,c=%FF,d=100%25,e=%zz,f=a=b,g="]);
    assert_eq!(
        entries(&cx),
        [
            entry("a", "✓", ""),
            entry("b", "x,y;z=", ""),
            entry("c", "\u{FFFD}", ""),
            entry("d", "100%", ""),
            entry("e", "%zz", ""),
            entry("f", "a=b", ""),
            entry("g", "", ""),
        ]
    );
}

#[test]
fn invalid_members_are_skipped_not_the_header() {
    let cx = extract_baggage(&[
        "ok1=1,no-equals,=novalue,bad key=1,k=bad value,k2=\"q\",k3=a\\b,ok2=2,,k4=v;,k5=v;bad prop,k6=é,ok3=3",
    ]);
    assert_eq!(
        entries(&cx),
        [
            entry("ok1", "1", ""),
            entry("ok2", "2", ""),
            entry("ok3", "3", "")
        ]
    );
    // Nothing valid: the context is unchanged.
    let before = Context::new().with_baggage([opentelemetry::KeyValue::new("keep", "me")]);
    let carrier = headers(&[(BAGGAGE_HEADER, "garbage")]);
    let after = BaggagePropagator::new().extract_with_context(&before, &carrier);
    assert_eq!(entries(&after), [entry("keep", "me", "")]);
}

#[test]
fn repeated_headers_are_joined_and_existing_baggage_is_kept() {
    let pairs = [
        ("Baggage", "a=1,b=2"),
        ("baggage", "c=3"),
        ("BAGGAGE", "a=9"),
    ];
    let before = Context::new().with_baggage([opentelemetry::KeyValue::new("old", "x")]);
    let cx = BaggagePropagator::new().extract_with_context(&before, &RepeatedHeaders::of(&pairs));
    assert_eq!(
        entries(&cx),
        [
            entry("a", "9", ""), // the later one wins
            entry("b", "2", ""),
            entry("c", "3", ""),
            entry("old", "x", ""),
        ]
    );
}

#[test]
fn extraction_stops_at_baggage_limits() {
    let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
    let cx = extract_baggage(&[&many.join(",")]);
    assert_eq!(cx.baggage().len(), 64);
}

#[test]
fn injection_round_trips_with_properties() {
    let mut baggage = Baggage::new();
    baggage.insert_with_metadata("user", "ada l, \"x\";y=z\\%", "pii;ttl=30");
    baggage.insert("plain", "1");
    baggage.insert_with_metadata("meta", "v", "ok; bad prop ;k = v");
    let header = inject_baggage(baggage).unwrap();
    assert_eq!(
        header,
        "meta=v;ok;k=v,plain=1,user=ada%20l%2C%20%22x%22%3By=z%5C%25;pii;ttl=30"
    );
    let cx = extract_baggage(&[&header]);
    assert_eq!(
        entries(&cx),
        [
            entry("meta", "v", "ok;k=v"),
            entry("plain", "1", ""),
            entry("user", "ada l, \"x\";y=z\\%", "pii;ttl=30"),
        ]
    );
    assert_eq!(inject_baggage(Baggage::new()), None);
}

#[test]
fn injection_keeps_everything_within_limits() {
    // 64 members: all of them.
    let baggage: Baggage = (0..64)
        .map(|i| opentelemetry::KeyValue::new(format!("k{i:02}"), "v"))
        .collect();
    let header = inject_baggage(baggage).unwrap();
    assert_eq!(header.split(',').count(), MAX_MEMBERS);

    // Exactly 8192 bytes: 2 members of 4095 + comma + ... kept.
    let mut baggage = Baggage::new();
    baggage.insert("a", "x".repeat(4093)); // "a=" + 4093 = 4095
    baggage.insert("b", "y".repeat(4094)); // 4096
    let header = inject_baggage(baggage).unwrap();
    assert_eq!(header.len(), MAX_HEADER_BYTES);
}

#[test]
fn injection_drops_whole_members_beyond_8192_bytes() {
    // Baggage counts decoded bytes: these fit its 8192 limit but encode to much more.
    let mut baggage = Baggage::new();
    baggage.insert("big", " ".repeat(2000)); // 6004 bytes encoded
    baggage.insert("mid", ",".repeat(1000)); // 3004 bytes encoded
    baggage.insert("small", "s");
    let header = inject_baggage(baggage).unwrap();
    assert!(header.len() <= MAX_HEADER_BYTES);
    // The largest went; the others are whole.
    let cx = extract_baggage(&[&header]);
    assert_eq!(cx.baggage().len(), 2);
    assert_eq!(cx.baggage().get("mid").unwrap().as_str(), ",".repeat(1000));
    assert_eq!(cx.baggage().get("small").unwrap().as_str(), "s");

    // A single member too large for the header: nothing is written.
    let mut baggage = Baggage::new();
    baggage.insert("big", "é".repeat(3000)); // 18004 bytes encoded
    assert_eq!(inject_baggage(baggage), None);
}
