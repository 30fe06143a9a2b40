//! B3 (single and multi header) and Jaeger (`uber-trace-id`, `uberctx-*`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let names = [
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-sampled",
        "x-b3-flags",
        "x-b3-parentspanid",
        "uber-trace-id",
        "uberctx-key",
    ];
    let headers = common::headers(data, &names);
    common::round_trip(&ferrotel_propagation::B3Propagator::single(), &headers);
    common::round_trip(&ferrotel_propagation::B3Propagator::multi(), &headers);
    common::round_trip(&ferrotel_propagation::JaegerPropagator::new(), &headers);
});
