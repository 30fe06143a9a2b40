//! What a span costs through ferrotel, against no telemetry at all, in one run.
//!
//! ```text
//! cargo run --release --bin bench-spans -- [--spans N] [--rounds R]
//! ```
//!
//! Every case makes the same `tracing` span (`info_span!` + enter + exit) N times, R rounds,
//! and reports the median nanoseconds per span and the ratio to the baseline with no
//! subscriber. Export goes to the in-process receiver of `ferrotel-testkit` over OTLP/gRPC,
//! sharing the machine's cores with the benchmark, as a collector on the same host would.
//!
//! `OTEL_*` and `FERROTEL_*` variables of the process are honoured through ferrotel's own
//! configuration: they replace the benchmark's defaults (endpoint, protocol, queue size, batch
//! delay, …), except the one variable each case is about (`OTEL_SDK_DISABLED`, the sampler of
//! the `always_off` case). Every exporting case prints where its spans went, after a flush:
//! `created = exported + dropped + failed` (+ not sampled, + any still unaccounted).

use std::time::{Duration, Instant};

use ferrotel::config::Env;
use ferrotel::opentelemetry::trace::Tracer as _;
use ferrotel_testkit::Receiver;

struct Args {
    spans: usize,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        spans: 200_000,
        rounds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: usize = value
            .parse()
            .map_err(|_| format!("{flag} takes a positive integer, not {value:?}"))?;
        match flag.as_str() {
            "--spans" => args.spans = n.max(1),
            "--rounds" => args.rounds = n.max(1),
            other => return Err(format!("unknown flag {other}; use --spans N --rounds R")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("bench-spans: {err}");
            std::process::exit(2);
        }
    };
    let receiver = Receiver::start();
    let endpoint = receiver.grpc_endpoint();
    // The benchmark's defaults, then the process's own OTEL_* / FERROTEL_* (a later pair wins
    // in `Env::from_pairs`), then the variable the case is about.
    let from_process: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| name.starts_with("OTEL_") || name.starts_with("FERROTEL_"))
        .collect();
    let env = |extra: &[(&str, &str)]| {
        let mut pairs: Vec<(String, String)> = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "65536"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_LOG_LEVEL", "info"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        pairs.extend(from_process.iter().cloned());
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Env::from_pairs(pairs).with_executable_name("bench-spans")
    };
    if !from_process.is_empty() {
        let names: Vec<&str> = from_process.iter().map(|(k, _)| k.as_str()).collect();
        println!("bench-spans: from the environment: {}", names.join(", "));
    }
    let start = |extra: &[(&str, &str)]| {
        ferrotel::builder()
            .env(env(extra))
            .install_subscriber(false)
            .install_globals(false)
            .try_init()
    };

    println!(
        "bench-spans: {} spans x {} rounds per case, median ns/span (lower is better)",
        args.spans, args.rounds
    );
    let none = tracing::Dispatch::none();
    let baseline = measure(&args, || run_tracing(&none, args.spans));
    report("no subscriber (baseline)", baseline, baseline, "");

    let cases: [(&str, &[(&str, &str)]); 3] = [
        (
            "ferrotel, OTEL_SDK_DISABLED=true",
            &[("OTEL_SDK_DISABLED", "true")],
        ),
        (
            "ferrotel, 0% sampled (always_off)",
            &[("OTEL_TRACES_SAMPLER", "always_off")],
        ),
        ("ferrotel, 100% sampled (or OTEL_*), OTLP", &[]),
    ];
    for (name, extra) in cases {
        let guard = match start(extra) {
            Ok(guard) => guard,
            Err(err) => {
                eprintln!("bench-spans: {name}: {err}");
                std::process::exit(1);
            }
        };
        let Some(dispatch) = guard.dispatch().cloned() else {
            eprintln!("bench-spans: {name}: no dispatcher");
            std::process::exit(1);
        };
        let ns = measure(&args, || run_tracing(&dispatch, args.spans));
        let note = accounting(guard, created(&args));
        report(name, ns, baseline, &note);
    }
    // The SDK tracer without `tracing` in between, for reference.
    match start(&[]) {
        Ok(guard) => {
            let tracer = guard.providers().tracer("bench");
            let ns = measure(&args, || {
                for _ in 0..args.spans {
                    tracer.in_span("op", |_| {});
                }
            });
            let note = accounting(guard, created(&args));
            report("SDK tracer directly, 100% (or OTEL_*)", ns, baseline, &note);
        }
        Err(err) => eprintln!("bench-spans: SDK tracer: {err}"),
    }
    receiver.shutdown();
}

/// Spans one case makes: a warm-up round and the measured rounds.
fn created(args: &Args) -> u64 {
    ((args.rounds + 1) * args.spans) as u64
}

/// Where a case's spans went, read after a flush, so nothing is still queued by accident:
/// `created = exported + dropped + failed + not sampled`, and anything else named.
fn accounting(guard: ferrotel::Guard, created: u64) -> String {
    let flushed = guard.flush();
    let stats = guard.stats().spans;
    let shutdown = guard.shutdown();
    let Some(s) = stats.first() else {
        return String::new();
    };
    if s.queued == 0 {
        return format!("created {created}, none sampled");
    }
    let dropped = s.dropped_queue_full + s.dropped_after_shutdown;
    let not_sampled = created.saturating_sub(s.queued);
    let pending = s.in_queue + s.in_flight;
    let mut note = format!(
        "created {created} = exported {} + dropped {dropped} (queue full) + failed {}",
        s.exported, s.failed
    );
    if not_sampled > 0 {
        note.push_str(&format!(" + not sampled {not_sampled}"));
    }
    if pending > 0 {
        note.push_str(&format!(" + UNACCOUNTED {pending} (flush bound hit)"));
    }
    let sum = s.exported + dropped + s.failed + not_sampled + pending;
    if sum != created {
        note.push_str(&format!(" [does not add up: {sum}]"));
    }
    let problems: Vec<String> = flushed
        .problems
        .into_iter()
        .chain(shutdown.problems)
        .collect();
    if s.failed > 0 && !problems.is_empty() {
        note.push_str(&format!(" ({})", problems.join("; ")));
    }
    note
}

fn run_tracing(dispatch: &tracing::Dispatch, spans: usize) {
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..spans {
            let _span = tracing::info_span!("op", i).entered();
        }
    });
}

/// Median ns per span over the rounds, after one warm-up round.
fn measure(args: &Args, mut round: impl FnMut()) -> f64 {
    round();
    let mut samples: Vec<Duration> = (0..args.rounds)
        .map(|_| {
            let t = Instant::now();
            round();
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2].as_nanos() as f64 / args.spans as f64
}

fn report(name: &str, ns: f64, baseline: f64, note: &str) {
    let ratio = if baseline > 0.0 { ns / baseline } else { 0.0 };
    println!("{name:<38} {ns:>9.1} ns/span {ratio:>8.1}x baseline  {note}");
}
