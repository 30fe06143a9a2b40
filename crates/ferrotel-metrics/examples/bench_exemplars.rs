//! What exemplar capture costs on the recording path, against the SDK's own histogram, in one
//! run.
//!
//! ```text
//! cargo run --release -p ferrotel-metrics --example bench-exemplars -- [--records N] [--rounds R]
//! ```
//!
//! Cases, each recording the same values with the same two attributes:
//! - inside a sampled span: SDK histogram vs ferrotel histogram (`trace_based`, captures);
//! - inside an unsampled span and outside any span: the same pair (no capture happens).
//!
//! Prints median ns per record and the ratio ferrotel / SDK for each pair.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use ferrotel_metrics::{ExemplarFilter, Exemplars};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

fn main() {
    let mut records = 1_000_000usize;
    let mut rounds = 7usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        match (flag.as_str(), value) {
            ("--records", Some(n)) if n > 0 => records = n,
            ("--rounds", Some(n)) if n > 0 => rounds = n,
            _ => {
                eprintln!("bench-exemplars: use --records N --rounds R (positive integers)");
                std::process::exit(2);
            }
        }
    }

    let meters = SdkMeterProvider::builder()
        .with_reader(
            // Records into live instruments and never exports during the run.
            ManualReader::builder().build(),
        )
        .build();
    let meter = meters.meter("bench");
    let boundaries = vec![
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];
    let sdk = meter
        .f64_histogram("sdk.duration")
        .with_boundaries(boundaries.clone())
        .build();
    let exemplars = Exemplars::new(ExemplarFilter::TraceBased);
    let ours = exemplars
        .f64_histogram(&meter, "ferrotel.duration")
        .with_boundaries(boundaries)
        .build();
    let attrs = [
        KeyValue::new("rpc.method", "storage.v1.Storage/Write"),
        KeyValue::new("rpc.response.status_code", "OK"),
    ];

    let sampled = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .build()
        .tracer("bench");
    let unsampled = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build()
        .tracer("bench");

    println!("bench-exemplars: {records} records x {rounds} rounds, median ns/record");
    let contexts = [
        ("inside a sampled span", Some(&sampled)),
        ("inside an unsampled span", Some(&unsampled)),
        ("outside any span", None),
    ];
    for (name, tracer) in contexts {
        let cx = match tracer {
            Some(t) => Context::current_with_span(t.start("op")),
            None => Context::new(),
        };
        let _attached = cx.attach();
        let base = measure(records, rounds, |i| sdk.record(value(i), &attrs));
        let with = measure(records, rounds, |i| ours.record(value(i), &attrs));
        println!(
            "{name:<26} SDK {base:>7.1} ns   ferrotel {with:>7.1} ns   ratio {:.2}x",
            with / base
        );
    }
}

/// Values spread over the buckets, cheap to compute.
fn value(i: usize) -> f64 {
    ((i * 7919) % 10_000) as f64 / 1000.0
}

fn measure(records: usize, rounds: usize, mut record: impl FnMut(usize)) -> f64 {
    for i in 0..records / 10 {
        record(i);
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for i in 0..records {
                record(i);
            }
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2].as_nanos() as f64 / records as f64
}
