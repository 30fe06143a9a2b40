//! W3C Baggage: extraction never panics and re-injects what it kept.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = common::headers(data, &["baggage"]);
    common::round_trip(&ferrotel_propagation::BaggagePropagator::new(), &headers);
});
