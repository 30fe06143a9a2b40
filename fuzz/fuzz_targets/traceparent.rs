//! W3C Trace Context: `traceparent` and `tracestate`, repeated headers included.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = common::headers(data, &["traceparent", "tracestate"]);
    common::round_trip(
        &ferrotel_propagation::TraceContextPropagator::new(),
        &headers,
    );
    // The tracestate parser on its own; what it accepts re-parses to the same list, and an
    // update with fuzz input keeps it valid.
    let text = String::from_utf8_lossy(data);
    let (state, update) = text.split_once('\u{1f}').unwrap_or((&text, ""));
    if let Ok(list) = ferrotel_propagation::W3cTraceState::parse(state) {
        let again = ferrotel_propagation::W3cTraceState::parse(&list.header());
        assert_eq!(again.ok().map(|l| l.header()), Some(list.header()));
        let (key, value) = update.split_once('=').unwrap_or((update, ""));
        if let Ok(updated) = list.insert(key, value) {
            assert!(ferrotel_propagation::W3cTraceState::parse(&updated.header()).is_ok());
        }
    }
});
