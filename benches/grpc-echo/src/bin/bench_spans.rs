//! What a `tracing` span costs through ferrotel, against no telemetry, against what a service
//! that only logs already pays, and against a peer, in one run.
//!
//! ```text
//! cargo run --release -p ferrotel-bench-grpc --bin bench-spans -- [--spans N] [--rounds R]
//!     [--cases ID,...]
//! cargo run --release -p ferrotel-bench-grpc --bin bench-spans -- --callgrind
//!     [--callgrind-spans 20000,60000] [--cases ID,...]
//! ```
//!
//! Every case makes the same `tracing` span (`info_span!("op", i)` + enter + exit) N times, R
//! rounds after a warm-up round, and reports the median nanoseconds per span. The cases:
//!
//! - `none`: no subscriber (the baseline);
//! - `registry-fmt`: `tracing_subscriber::registry()` with a fmt layer writing to a sink, behind
//!   the filter ferrotel builds from `OTEL_LOG_LEVEL=info`: what a service that only logs pays;
//! - `disabled`, `f0`, `f100-none`, `f100-otlp`: ferrotel's subscriber with
//!   `OTEL_SDK_DISABLED=true`, the `always_off` sampler, 100% with no exporter
//!   (`OTEL_TRACES_EXPORTER=none`: spans are built and ended, then dropped), and 100% exported
//!   over OTLP/gRPC to `ferrotel-testkit`'s in-process receiver;
//! - `davidb0`, `davidb100`: init-tracing-opentelemetry's default subscriber (its fmt layer in
//!   its default format, to `/dev/null`; its `EnvFilter`; tracing-opentelemetry as it configures
//!   it), on an SDK provider with no exporter, as its `OTEL_TRACES_EXPORTER=none` builds, with
//!   the `always_off` and the default (parent-based always-on) sampler;
//! - `sdk`: the SDK tracer directly, without `tracing`, 100% over OTLP.
//!
//! `--callgrind` prints instructions per span instead: each case runs twice under
//! `valgrind --tool=callgrind` (this binary with `--rounds 1` and the two span counts), and the
//! figure is the difference over the difference in spans, so set-up and shutdown cancel out.
//!
//! `OTEL_*` and `FERROTEL_*` variables of the process are honoured through ferrotel's own
//! configuration: they replace the benchmark's defaults (endpoint, protocol, queue size, batch
//! delay, …), except the variables each case is about. Every exporting case prints where its
//! spans went, after a flush: `created = exported + dropped + failed` (+ not sampled, + any
//! still unaccounted).

#[path = "../instructions.rs"]
mod instructions;

use std::time::{Duration, Instant};

use ferrotel::config::Env;
use ferrotel::opentelemetry::trace::{Tracer as _, TracerProvider as _};
use ferrotel::opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use ferrotel_testkit::Receiver;
use init_tracing_opentelemetry::{TracingConfig, WriterConfig};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

/// The directives ferrotel's filter holds with `OTEL_LOG_LEVEL=info` and no `RUST_LOG`, given
/// to ferrotel as `RUST_LOG` so that `registry-fmt` and ferrotel filter alike by construction.
const FILTER: &str = "info,h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,\
reqwest=warn,rustls=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn,opentelemetry=warn";

/// What one case runs.
#[derive(Clone, Copy)]
enum Kind {
    None,
    RegistryFmt,
    /// ferrotel's subscriber with these variables over the benchmark's defaults.
    Ferrotel(&'static [(&'static str, &'static str)]),
    /// init-tracing-opentelemetry's default subscriber; `true` for 100% sampled.
    DavidB(bool),
    Sdk,
}

#[derive(Clone, Copy)]
struct Case {
    id: &'static str,
    name: &'static str,
    kind: Kind,
}

const CASES: [Case; 9] = [
    Case {
        id: "none",
        name: "no subscriber (baseline)",
        kind: Kind::None,
    },
    Case {
        id: "registry-fmt",
        name: "registry + fmt layer to a sink",
        kind: Kind::RegistryFmt,
    },
    Case {
        id: "disabled",
        name: "ferrotel, OTEL_SDK_DISABLED=true",
        kind: Kind::Ferrotel(&[("OTEL_SDK_DISABLED", "true")]),
    },
    Case {
        id: "f0",
        name: "ferrotel, 0% sampled (always_off)",
        kind: Kind::Ferrotel(&[("OTEL_TRACES_SAMPLER", "always_off")]),
    },
    Case {
        id: "f100-none",
        name: "ferrotel, 100%, no exporter",
        kind: Kind::Ferrotel(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ]),
    },
    Case {
        id: "f100-otlp",
        name: "ferrotel, 100% (or OTEL_*), OTLP",
        kind: Kind::Ferrotel(&[]),
    },
    Case {
        id: "davidb0",
        name: "init-tracing-opentelemetry, 0%",
        kind: Kind::DavidB(false),
    },
    Case {
        id: "davidb100",
        name: "init-tracing-opentelemetry, 100%, no exporter",
        kind: Kind::DavidB(true),
    },
    Case {
        id: "sdk",
        name: "SDK tracer directly, 100% (or OTEL_*)",
        kind: Kind::Sdk,
    },
];

struct Args {
    spans: usize,
    rounds: usize,
    cases: Vec<Case>,
    callgrind: Option<(usize, usize)>,
}

const USAGE: &str = "usage: bench-spans [--spans N] [--rounds R] [--cases ID,...] \
                     [--callgrind [--callgrind-spans SHORT,LONG]]";

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} takes positive integers, not {value:?}")),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        spans: 200_000,
        rounds: 5,
        cases: CASES.to_vec(),
        callgrind: None,
    };
    let mut spans_given = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--callgrind" {
            args.callgrind = Some(args.callgrind.unwrap_or((20_000, 60_000)));
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--spans" => args.spans = positive(&flag, &value)?,
            "--rounds" => args.rounds = positive(&flag, &value)?,
            "--callgrind-spans" => {
                let (a, b) = value
                    .split_once(',')
                    .ok_or_else(|| format!("{flag} takes SHORT,LONG, not {value:?}"))?;
                spans_given = Some((positive(&flag, a)?, positive(&flag, b)?));
            }
            "--cases" => {
                args.cases = value
                    .split(',')
                    .map(|id| {
                        CASES
                            .iter()
                            .find(|c| c.id == id.trim())
                            .copied()
                            .ok_or_else(|| {
                                let ids: Vec<&str> = CASES.iter().map(|c| c.id).collect();
                                format!("unknown case {id:?}; cases: {}", ids.join(", "))
                            })
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if let (Some(given), Some(_)) = (spans_given, args.callgrind) {
        args.callgrind = Some(given);
    }
    if let Some((short, long)) = args.callgrind {
        if long <= short {
            return Err(format!(
                "--callgrind-spans needs SHORT,LONG with LONG > SHORT, not {short},{long}"
            ));
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
    let outcome = match args.callgrind {
        Some(spans) => callgrind(&args.cases, spans),
        None => bench(&args),
    };
    if let Err(err) = outcome {
        eprintln!("bench-spans: {err}");
        std::process::exit(1);
    }
}

fn bench(args: &Args) -> Result<(), String> {
    let receiver = Receiver::start();
    let endpoint = receiver.grpc_endpoint();
    // The benchmark's defaults, then the process's own OTEL_* / FERROTEL_* (a later pair wins
    // in `Env::from_pairs`), then the variables the case is about.
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
            (ferrotel::RUST_LOG, FILTER),
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
            .map_err(|e| e.to_string())
    };

    println!(
        "bench-spans: {} spans x {} rounds per case, median ns/span (lower is better)",
        args.spans, args.rounds
    );
    let mut results: Vec<(&'static str, f64)> = Vec::new();
    for case in &args.cases {
        let (ns, note) = match case.kind {
            Kind::None => {
                let none = tracing::Dispatch::none();
                (
                    measure(args, || run_tracing(&none, args.spans)),
                    String::new(),
                )
            }
            Kind::RegistryFmt => {
                let dispatch = registry_fmt();
                (
                    measure(args, || run_tracing(&dispatch, args.spans)),
                    String::new(),
                )
            }
            Kind::Ferrotel(extra) => {
                let guard = start(extra).map_err(|e| format!("{}: {e}", case.name))?;
                let dispatch = guard
                    .dispatch()
                    .cloned()
                    .ok_or_else(|| format!("{}: no dispatcher", case.name))?;
                let ns = measure(args, || run_tracing(&dispatch, args.spans));
                drop(dispatch);
                (ns, accounting(guard, created(args)))
            }
            Kind::DavidB(sampled) => {
                let (provider, dispatch) =
                    davidb(sampled).map_err(|e| format!("{}: {e}", case.name))?;
                let ns = measure(args, || run_tracing(&dispatch, args.spans));
                drop(dispatch);
                let _ = provider.shutdown();
                (ns, String::new())
            }
            Kind::Sdk => {
                let guard = start(&[]).map_err(|e| format!("{}: {e}", case.name))?;
                let tracer = guard.providers().tracer("bench");
                let ns = measure(args, || {
                    for _ in 0..args.spans {
                        tracer.in_span("op", |_| {});
                    }
                });
                (ns, accounting(guard, created(args)))
            }
        };
        println!("{:<46} {ns:>9.1} ns/span  {note}", case.name);
        results.push((case.id, ns));
    }
    receiver.shutdown();
    ratios(
        |id| results.iter().find(|(i, _)| *i == id).map(|(_, v)| *v),
        "ns",
    );
    Ok(())
}

/// ferrotel against its floor and its peer: the issue's figures, from per-span costs.
fn ratios(find: impl Fn(&str) -> Option<f64>, unit: &str) {
    println!();
    println!("| ratio | value |");
    println!("|---|---:|");
    for (what, ours, theirs) in [
        ("ferrotel 0% ÷ registry+fmt", "f0", "registry-fmt"),
        ("ferrotel 0% ÷ davidB 0%", "f0", "davidb0"),
        (
            "ferrotel 100% no exporter ÷ davidB 100% no exporter",
            "f100-none",
            "davidb100",
        ),
        ("davidB 0% ÷ registry+fmt", "davidb0", "registry-fmt"),
    ] {
        if let (Some(a), Some(b)) = (find(ours), find(theirs)) {
            if b > 0.0 {
                println!("| {what} ({unit}) | {:.2} |", a / b);
            }
        }
    }
}

/// A service that only logs: the registry and a fmt layer, writing to a sink, behind the
/// same filter as ferrotel's.
fn registry_fmt() -> tracing::Dispatch {
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(FILTER);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::io::sink)
        .with_filter(filter);
    tracing::Dispatch::new(tracing_subscriber::registry().with(fmt))
}

/// init-tracing-opentelemetry's default subscriber, assembled as its `init_subscriber` does
/// (registry, tracing-opentelemetry's layer as it configures it, its fmt layer, its filter)
/// from its public builders, on a provider without an exporter: what its own
/// `OTEL_TRACES_EXPORTER=none` builds, with the sampler set here rather than from the process
/// environment. Its log lines go to `/dev/null`.
fn davidb(sampled: bool) -> Result<(SdkTracerProvider, tracing::Dispatch), String> {
    let config = TracingConfig::default()
        .with_writer(WriterConfig::File("/dev/null".into()))
        .with_global_subscriber(false);
    let sampler = if sampled {
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
    } else {
        Sampler::AlwaysOff
    };
    let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
    let spans = init_tracing_opentelemetry::tracing_opentelemetry::layer()
        .with_error_records_to_exceptions(true)
        .with_tracer(provider.tracer(config.tracer_name.clone()));
    let subscriber = tracing_subscriber::registry()
        .with(spans)
        .with(config.build_layer().map_err(|e| e.to_string())?)
        .with(config.build_filter_layer().map_err(|e| e.to_string())?);
    Ok((provider, tracing::Dispatch::new(subscriber)))
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
    samples
        .get(samples.len() / 2)
        .map_or(0.0, |d| d.as_nanos() as f64 / args.spans as f64)
}

/// `--callgrind`: each case twice under callgrind, with one measured round of `short` and of
/// `long` spans (plus the warm-up round each), and the marginal instructions per span.
fn callgrind(cases: &[Case], (short, long): (usize, usize)) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let dir = std::env::temp_dir().join(format!("bench-spans-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    println!(
        "bench-spans --callgrind: marginal instructions per span, (I({long}) - I({short})) / \
         {}, each run under valgrind --tool=callgrind (warm-up + 1 round)",
        2 * (long - short)
    );
    let mut results: Vec<(&'static str, f64)> = Vec::new();
    for case in cases {
        let mut counts = [0u64; 2];
        for (i, spans) in [short, long].into_iter().enumerate() {
            let file = dir.join(format!("{}-{spans}.out", case.id));
            let args = [
                "--cases".to_string(),
                case.id.to_string(),
                "--spans".to_string(),
                spans.to_string(),
                "--rounds".to_string(),
                "1".to_string(),
            ];
            counts[i] = instructions::count(&exe, &args, &file)
                .map_err(|e| format!("{} ({spans} spans): {e}", case.name))?;
        }
        let per_span = counts[1].saturating_sub(counts[0]) as f64 / (2 * (long - short)) as f64;
        println!("{:<46} {per_span:>9.0} instructions/span", case.name);
        results.push((case.id, per_span));
    }
    ratios(
        |id| results.iter().find(|(i, _)| *i == id).map(|(_, v)| *v),
        "instructions",
    );
    println!();
    println!(
        "callgrind files (for callgrind_annotate): {}",
        dir.display()
    );
    Ok(())
}
