//! What the process and runtime metrics cost per collection, against the same collection
//! without them, in one run.
//!
//! ```text
//! cargo run --release -p ferrotel-bench-grpc --bin bench-process-metrics -- [--collections N] [--case off|on]
//! ```
//!
//! Each case collects a meter provider N times through a manual reader, inside a two-worker
//! Tokio runtime: the provider holds a counter and a histogram with a few series, and, in the
//! `on` case, the process metrics (`ferrotel::process_metrics::register`), read from `/proc`
//! at each collection as each export interval does. Without `--case` both cases run and the
//! difference per collection is printed; with it, one case runs, for
//! `valgrind --tool=callgrind`.

use std::time::Instant;

use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel::opentelemetry::KeyValue;
use ferrotel::opentelemetry_sdk::metrics::data::ResourceMetrics;
use ferrotel::opentelemetry_sdk::metrics::reader::MetricReader as _;
use ferrotel::opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

fn parse_args() -> Result<(usize, Option<bool>), String> {
    let (mut collections, mut case) = (2_000, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--collections" => {
                collections = value.parse().map_err(|_| {
                    format!("--collections takes a positive integer, not {value:?}")
                })?;
            }
            "--case" => {
                case = Some(match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("--case takes on or off, not {value:?}")),
                });
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag:?}: --collections N, --case off|on"
                ))
            }
        }
    }
    Ok((collections, case))
}

/// A reader the benchmark can hand to the provider and still collect through.
#[derive(Clone, Debug)]
struct Shared(std::sync::Arc<ManualReader>);

impl ferrotel::opentelemetry_sdk::metrics::reader::MetricReader for Shared {
    fn register_pipeline(
        &self,
        pipeline: std::sync::Weak<ferrotel::opentelemetry_sdk::metrics::Pipeline>,
    ) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(
        &self,
        rm: &mut ResourceMetrics,
    ) -> ferrotel::opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> ferrotel::opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> ferrotel::opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(
        &self,
        kind: ferrotel::opentelemetry_sdk::metrics::InstrumentKind,
    ) -> ferrotel::opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}

/// Nanoseconds per collection with the process metrics on or off.
fn run(process_metrics: bool, collections: usize) -> Result<f64, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let reader = Shared(std::sync::Arc::new(ManualReader::builder().build()));
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .build();
    // What every service has beside them: a few series of a counter and a histogram.
    let meter = provider.meter("bench");
    let requests = meter.u64_counter("requests").build();
    let latency = meter.f64_histogram("latency").with_unit("s").build();
    for method in ["get", "put", "list", "delete"] {
        requests.add(1, &[KeyValue::new("method", method)]);
        latency.record(0.001, &[KeyValue::new("method", method)]);
    }
    if process_metrics {
        ferrotel::process_metrics::register(&provider, Some(runtime.handle().clone()));
    }
    let mut rm = ResourceMetrics::default();
    let started = Instant::now();
    for _ in 0..collections {
        reader.collect(&mut rm).map_err(|e| e.to_string())?;
    }
    let per_collection = started.elapsed().as_nanos() as f64 / collections as f64;
    let _ = provider.shutdown();
    Ok(per_collection)
}

fn main() -> Result<(), String> {
    let (collections, case) = parse_args()?;
    let cases = match case {
        Some(on) => vec![on],
        None => vec![false, true],
    };
    let mut results = Vec::new();
    for on in cases {
        let ns = run(on, collections)?;
        println!(
            "process metrics {:>3}: {:>8.1} us per collection",
            if on { "on" } else { "off" },
            ns / 1e3
        );
        results.push(ns);
    }
    if let [off, on] = results[..] {
        println!(
            "the process metrics add {:.1} us per collection ({:.1}x the collection without them)",
            (on - off) / 1e3,
            on / off
        );
    }
    Ok(())
}
