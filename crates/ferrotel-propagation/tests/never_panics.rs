//! Feeds pseudo-random input into the B3, Jaeger and X-Ray propagators: extraction must never panic, and whatever
//! it accepts must be a valid remote span that injects again without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use ferrotel_propagation::{B3Encoding, B3Propagator, JaegerPropagator, XrayPropagator};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A string that is raw random bytes (lossily made UTF-8), a soup of the characters the
    /// parsers care about, or id-like parts joined by separators, so that the deep (and the
    /// accepting) paths are reached too.
    fn value(&mut self) -> String {
        const ALPHABET: &[&str] = &[
            "0",
            "1",
            "2",
            "d",
            "a",
            "f",
            "F",
            "g",
            "-",
            ":",
            "%3A",
            "%3a",
            "%",
            " ",
            "+",
            "\t",
            "é",
            "\u{1F600}",
            "0000000000000000",
            "00f067aa0ba902b7",
            "true",
            "%zz",
            "%C3%A9",
            ";",
            "=",
            "Root=",
            "Parent=",
            "Sampled=",
            "1-5759e988-bd862e3fe1be46a994272793",
        ];
        const PARTS: &[&str] = &[
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "4d2",
            "0000000000000000",
            "1",
            "0",
            "d",
            "3",
            "ff",
            "",
            "0x1",
            "é",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8",
            "Sampled=1",
        ];
        const SEPARATORS: &[&str] = &["-", ":", "%3A", "%3a", "--", " ", ";"];
        match self.below(3) {
            0 => {
                let bytes: Vec<u8> = (0..self.below(72)).map(|_| self.next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            1 => (0..self.below(72))
                .map(|_| ALPHABET[self.below(ALPHABET.len())])
                .collect(),
            _ => {
                let separator = SEPARATORS[self.below(SEPARATORS.len())];
                let parts: Vec<&str> = (0..=self.below(5))
                    .map(|_| PARTS[self.below(PARTS.len())])
                    .collect();
                parts.join(separator)
            }
        }
    }
}

#[test]
fn extraction_never_panics() {
    let propagators: [Box<dyn TextMapPropagator>; 5] = [
        Box::new(B3Propagator::single()),
        Box::new(B3Propagator::multi()),
        Box::new(B3Propagator::new(B3Encoding::SingleAndMultiHeader)),
        Box::new(JaegerPropagator::new()),
        Box::new(XrayPropagator::new()),
    ];
    let names = [
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-sampled",
        "x-b3-flags",
        "x-b3-parentspanid",
        "uber-trace-id",
        "uberctx-k",
        "uberctx-",
        "x-amzn-trace-id",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..4000 {
        let mut carrier = HashMap::new();
        for name in names {
            if rng.below(2) == 0 {
                carrier.insert(name.to_owned(), rng.value());
            }
        }
        // A random baggage header name as well.
        carrier.insert(format!("uberctx-{}", rng.value()), rng.value());

        for propagator in &propagators {
            let cx = propagator.extract_with_context(&Context::new(), &carrier);
            if cx.has_active_span() {
                let span = cx.span();
                let sc = span.span_context();
                assert!(sc.is_valid() && sc.is_remote(), "{carrier:?}");
                accepted += 1;
            }
            let mut out = HashMap::new();
            propagator.inject_context(&cx, &mut out);
        }
    }
    // The generator is tuned to reach the accepting paths now and then, not only rejections.
    assert!(accepted > 0, "only {accepted} random inputs were accepted");
}
