//! What ferrotel's Tower layers cost on a tonic unary call, against bare tonic, against the
//! floor of any W3C-propagating layer (`bare-header`: a `traceparent` sent and parsed, see
//! [`header`]) and against `tonic-tracing-opentelemetry`, in one run.
//!
//! ```text
//! cargo run --release -p ferrotel-bench-grpc -- [--seconds S] [--warmup S] [--in-flight 1,16]
//!     [--rounds R] [--cases bare,f100-otlp,...]
//! cargo run --release -p ferrotel-bench-grpc -- --callgrind [--callgrind-requests 2000,6000]
//!     [--in-flight 16] [--cases bare,f0-noop,...]
//! cargo run --release -p ferrotel-bench-grpc -- --go [--cases bare,f100-noop] [--in-flight 16]
//! ```
//!
//! Every case serves `ferrotel.echo.v1.Echo/Unary` on 127.0.0.1 and calls it over one tonic
//! channel (one HTTP/2 connection) from N closed-loop callers: each sends its next request when
//! the previous one is answered. Server and client share one fresh 2-worker multi-thread tokio
//! runtime per case. After a warm-up, every request that completes inside the measured window
//! counts: throughput is their number over the window, p50/p99 their latency. Ratios are
//! against bare tonic at the same N in the same round.
//!
//! OTLP cases export with ferrotel's own pipeline (`ferrotel::builder()`) to an OTLP receiver
//! in another process: this binary started again with `--receiver`.
//!
//! `--callgrind` prints marginal instructions per request instead (see [`callgrind`]): the
//! steady figure on a noisy machine.
//!
//! `--go` then also runs Go's otelgrpc echo (`benches/go-echo`, see [`go_anchor`]) and prints
//! its overhead ratio beside ferrotel's.

mod callgrind;
mod cpu;
mod go_anchor;
mod header;
mod instructions;
mod load;
mod receiver;
mod telemetry;

use std::collections::HashMap;
use std::time::Duration;

use ferrotel::opentelemetry::propagation::TextMapCompositePropagator;
use ferrotel::propagators::{BaggagePropagator, TraceContextPropagator};

use crate::load::{Measurement, Plan, Timing};
use crate::receiver::ReceiverProcess;
use crate::telemetry::{Case, Telemetry, CASES};

const USAGE: &str = "usage: ferrotel-bench-grpc [--seconds S] [--warmup S] [--in-flight 1,16] \
                     [--rounds R] [--cases ID,...] [--callgrind [--callgrind-requests SHORT,LONG]] \
                     [--requests N] [--go]";

struct Args {
    timing: Timing,
    in_flight: Vec<usize>,
    rounds: usize,
    cases: Vec<Case>,
    receiver: bool,
    /// `--callgrind`: count instructions instead of timing.
    callgrind: bool,
    callgrind_requests: (usize, usize),
    /// `--requests N`: a fixed number of requests per case instead of a window.
    requests: Option<usize>,
    /// `--go`: also run the Go otelgrpc anchor (benches/go-echo).
    go: bool,
}

fn count(flag: &str, value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} takes positive integers, not {value:?}")),
    }
}

fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} takes a number of seconds, not {value:?}"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        timing: Timing {
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(3),
        },
        in_flight: vec![1, 16],
        rounds: 1,
        cases: CASES.to_vec(),
        receiver: false,
        callgrind: false,
        callgrind_requests: (2000, 6000),
        requests: None,
        go: false,
    };
    let mut in_flight_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--receiver" {
            args.receiver = true;
            continue;
        }
        if flag == "--go" {
            args.go = true;
            continue;
        }
        if flag == "--callgrind" {
            args.callgrind = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            let ids: Vec<&str> = CASES.iter().map(|c| c.id).collect();
            return Err(format!("{USAGE}\ncases: {}", ids.join(", ")));
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--seconds" => args.timing.measure = seconds(&flag, &value)?,
            "--warmup" => args.timing.warmup = seconds(&flag, &value)?,
            "--requests" => args.requests = Some(count(&flag, &value)?),
            "--callgrind-requests" => {
                let (a, b) = value
                    .split_once(',')
                    .ok_or_else(|| format!("{flag} takes SHORT,LONG, not {value:?}"))?;
                args.callgrind_requests = (count(&flag, a)?, count(&flag, b)?);
            }
            "--in-flight" => {
                in_flight_given = true;
                args.in_flight = value
                    .split(',')
                    .map(|n| match n.trim().parse::<usize>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(format!("--in-flight takes positive integers, not {n:?}")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--rounds" => {
                args.rounds = match value.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--rounds takes a positive integer, not {value:?}")),
                }
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
                    .collect::<Result<Vec<Case>, _>>()?;
                // A case named twice would share its row in the table: keep the first.
                let mut seen = Vec::new();
                args.cases.retain(|c| {
                    let first = !seen.contains(&c.id);
                    seen.push(c.id);
                    first
                });
            }
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if args.callgrind && !in_flight_given {
        // The case BENCHMARKS.md profiles: 16 in flight, where a request's own work dominates.
        args.in_flight = vec![16];
    }
    if args.timing.measure.is_zero() {
        return Err("--seconds must be more than 0".to_string());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("ferrotel-bench-grpc: {err}");
            std::process::exit(2);
        }
    };
    let outcome = if args.receiver {
        receiver::serve()
    } else if args.callgrind {
        callgrind::run(&callgrind::Options {
            cases: &args.cases,
            in_flight: &args.in_flight,
            requests: args.callgrind_requests,
        })
    } else {
        bench(&args)
    };
    if let Err(err) = outcome {
        eprintln!("ferrotel-bench-grpc: {err}");
        std::process::exit(1);
    }
}

fn bench(args: &Args) -> Result<(), String> {
    // W3C trace context and baggage with ferrotel's propagators, as `ferrotel::init()` installs
    // them: davidB's layers read them through the global, ferrotel's layers hold them (see
    // `telemetry::propagator`), as the guard's layers do.
    ferrotel::opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(
        vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ],
    ));
    let receiver = if args.cases.iter().any(Case::needs_receiver) {
        let process = ReceiverProcess::spawn()?;
        eprintln!(
            "OTLP receiver: process {} at {}",
            process.id(),
            process.endpoint()
        );
        Some(process)
    } else {
        None
    };
    let endpoint = receiver.as_ref().map(ReceiverProcess::endpoint);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "ferrotel-bench-grpc: unary echo over loopback, {} cores visible; per case a fresh \
         2-worker tokio runtime shared by server and client; {:.1} s warm-up + {:.1} s measured; \
         {} round(s), median shown",
        cores,
        args.timing.warmup.as_secs_f64(),
        args.timing.measure.as_secs_f64(),
        args.rounds
    );

    let mut results: HashMap<(&str, usize), Vec<Measurement>> = HashMap::new();
    let mut notes: HashMap<(&str, usize), String> = HashMap::new();
    for round in 1..=args.rounds {
        for &n in &args.in_flight {
            for case in &args.cases {
                let telemetry = Telemetry::new(case, endpoint)
                    .map_err(|e| format!("{} (in flight {n}): {e}", case.name))?;
                let pid = receiver
                    .as_ref()
                    .filter(|_| case.needs_receiver())
                    .map(ReceiverProcess::id);
                let plan = match args.requests {
                    Some(requests) => Plan::Requests(requests),
                    None => Plan::Window(args.timing),
                };
                let measured = load::run(&telemetry, n, plan, pid)
                    .map_err(|e| format!("{} (in flight {n}): {e}", case.name))?;
                let note = telemetry.finish();
                eprintln!(
                    "round {round}: {:<44} x{n:<3} {:>8.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs  \
                     cpu {} µs/req  ({} requests{}{})",
                    case.name,
                    measured.throughput,
                    measured.p50_us,
                    measured.p99_us,
                    cpu_cell(measured.cpu_us),
                    measured.requests,
                    if note.is_empty() { "" } else { "; " },
                    note
                );
                results.entry((case.id, n)).or_default().push(measured);
                notes.insert((case.id, n), note);
            }
        }
    }
    drop(receiver);

    println!();
    println!(
        "| case | in flight | req/s | p50 µs | p99 µs | req/s ÷ bare | p99 ÷ bare \
         | CPU µs/req | CPU ÷ bare | CPU ÷ bare-header | share of added CPU above the floor \
         | receiver CPU µs/req |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &args.in_flight {
        let bare = results.get(&("bare", n)).map(|m| summary(m));
        let floor = results.get(&("bare-header", n)).map(|m| summary(m));
        for case in &args.cases {
            let Some(measured) = results.get(&(case.id, n)) else {
                continue;
            };
            let m = summary(measured);
            let ratio = |ours: Option<f64>, base: Option<f64>| match (ours, base) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "–".to_string(),
            };
            let base = |f: fn(&Measurement) -> Option<f64>| bare.as_ref().and_then(f);
            let floor_cpu = floor.as_ref().and_then(|f| f.cpu_us);
            let baseline = case.id == "bare" || case.id == "bare-header";
            let share = match (m.cpu_us, floor_cpu, base(|b| b.cpu_us)) {
                (Some(ours), Some(f), Some(b)) if ours > b && !baseline => {
                    format!("{:.2}", (ours - f) / (ours - b))
                }
                _ => "–".to_string(),
            };
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
                case.name,
                n,
                m.throughput,
                m.p50_us,
                m.p99_us,
                ratio(Some(m.throughput), base(|b| Some(b.throughput))),
                ratio(Some(m.p99_us), base(|b| Some(b.p99_us))),
                cpu_cell(m.cpu_us),
                ratio(m.cpu_us, base(|b| b.cpu_us)),
                ratio(m.cpu_us, floor_cpu),
                share,
                cpu_cell(m.receiver_cpu_us),
            );
        }
    }
    println!();
    for &n in &args.in_flight {
        for case in &args.cases {
            if let Some(note) = notes.get(&(case.id, n)).filter(|s| !s.is_empty()) {
                println!("- {} x{n} (last round): {note}", case.name);
            }
        }
    }
    if args.go {
        go_anchor::run(
            &args.in_flight,
            args.timing.warmup.as_secs_f64(),
            args.timing.measure.as_secs_f64(),
            args.requests,
            |n| {
                let bare = summary(results.get(&("bare", n))?);
                let f100 = summary(results.get(&("f100-noop", n))?);
                Some((bare, f100))
            },
        )?;
    }
    Ok(())
}

fn cpu_cell(us: Option<f64>) -> String {
    us.map_or_else(|| "–".to_string(), |us| format!("{us:.1}"))
}

/// The median of each figure over the rounds.
fn summary(rounds: &[Measurement]) -> Measurement {
    let median = |f: fn(&Measurement) -> Option<f64>| {
        let mut v: Vec<f64> = rounds.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    Measurement {
        throughput: median(|m| Some(m.throughput)).unwrap_or(0.0),
        p50_us: median(|m| Some(m.p50_us)).unwrap_or(0.0),
        p99_us: median(|m| Some(m.p99_us)).unwrap_or(0.0),
        requests: rounds.iter().map(|m| m.requests).sum(),
        cpu_us: median(|m| m.cpu_us),
        receiver_cpu_us: median(|m| m.receiver_cpu_us),
    }
}
