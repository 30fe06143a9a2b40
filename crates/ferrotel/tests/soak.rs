//! Fault-injection soak: the in-process receiver flaps between healthy, unavailable,
//! refusing, slow, black-hole and partially accepting while a service keeps making requests
//! that produce spans, metric points and log records. It checks, within one run:
//!
//! - exact accounting per signal: created = exported + dropped (counted) + failed (counted);
//! - the request latency p99 of each fault phase stays within 1.2x of the healthy phases;
//! - peak RSS stays under a bound derived from the queue size;
//! - a shutdown started during each phase returns within its bound;
//! - with 20 sockets trickling request heads at `/metrics` throughout, `/health` answers at
//!   least 99 % of the probes made during the run.
//!
//! It is `#[ignore]`d in the plain test run; `.ci/run` runs it (~60 s):
//! `cargo test -p ferrotel --test soak -- --ignored --nocapture`. `FERROTEL_SOAK_SECS=600`
//! makes it longer. Its figures go to BENCHMARKS.md.
//!
//! Signals are rows of one ledger ([`Ledger`]): spans, metric points and log records.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel_testkit::raw_http::request as http_request;
use ferrotel_testkit::slowloris::Trickle;
use ferrotel_testkit::{secret, Fault, Receiver};
use support::traced;

/// Spans each request makes: the request and two children.
const SPANS_PER_REQUEST: u64 = 3;
/// Log records each request writes (inside its span, so they carry its trace).
const LOGS_PER_REQUEST: u64 = 1;
/// One request every this long (an open loop: faults cannot slow the offered load).
const PACE: Duration = Duration::from_millis(2);
/// `OTEL_BSP_MAX_QUEUE_SIZE` of the soak.
const QUEUE: usize = 2048;
/// The bound on each shutdown.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(3);
/// The allowed p99 ratio of a fault phase to the healthy phases: a collector outage may cost
/// the service's requests at most a fifth more latency.
const P99_RATIO: f64 = 1.2;
/// Sockets trickling request heads at `/metrics` through the whole run.
const TRICKLING_SOCKETS: usize = 20;
/// One `/health` probe every this long.
const PROBE_EVERY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
struct Phase {
    name: &'static str,
    fault: Option<Fault>,
}

fn phases() -> Vec<Phase> {
    let healthy = || Phase {
        name: "healthy",
        fault: None,
    };
    let faults = [
        Phase {
            name: "unavailable",
            fault: Some(Fault::Unavailable {
                times: u32::MAX,
                retry_after: None,
            }),
        },
        Phase {
            name: "refusing",
            fault: Some(Fault::Refuse),
        },
        Phase {
            name: "slow",
            fault: Some(Fault::Delay(Duration::from_millis(400))),
        },
        Phase {
            name: "black-hole",
            fault: Some(Fault::Delay(Duration::from_secs(3600))),
        },
        Phase {
            name: "partial",
            fault: Some(Fault::PartialSuccess {
                rejected: 1,
                message: "soak: one rejected".into(),
            }),
        },
    ];
    let mut all = vec![healthy()];
    for fault in faults {
        all.push(fault);
        all.push(healthy());
    }
    all
}

/// One signal's books.
#[derive(Debug, Default)]
struct Ledger {
    signal: &'static str,
    created: u64,
    exported: u64,
    dropped: u64,
    failed: u64,
}

impl Ledger {
    fn balanced(&self) -> bool {
        self.created == self.exported + self.dropped + self.failed
    }
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort_unstable();
    let index = (latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1));
    latencies.get(index).copied().unwrap_or_default()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn env_for(receiver: &Receiver) -> ferrotel::config::Env {
    let header = format!("x-api-key={}", secret("soak"));
    let queue = QUEUE.to_string();
    support::sending_to(
        receiver,
        "http/protobuf",
        &[
            ("OTEL_EXPORTER_OTLP_HEADERS", header.as_str()),
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
            ("FERROTEL_METRICS_ADDR", "127.0.0.1:0"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", queue.as_str()),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1500"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "1000"),
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", queue.as_str()),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "1500"),
        ],
    )
}

/// A shutdown started while `fault` holds returns within its bound.
fn shutdown_during(receiver: &Receiver) -> Duration {
    let g = ferrotel::builder()
        .env(env_for(receiver))
        .install_subscriber(false)
        .install_globals(false)
        .shutdown_timeout(SHUTDOWN_BOUND)
        // The log records go to OTLP; the console copy of 30,000 lines is not the point.
        .log_writer(std::io::sink)
        .try_init()
        .expect("ferrotel starts");
    traced(&g, || {
        for i in 0..200 {
            let _span = tracing::info_span!("shutdown.probe", i).entered();
        }
    });
    let started = Instant::now();
    let _ = g.shutdown();
    started.elapsed()
}

#[test]
#[ignore = "a ~60 s soak; .ci/run runs it with --ignored"]
fn fault_injection_soak() {
    let total = std::env::var("FERROTEL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    let phases = phases();
    let per_phase = Duration::from_secs(total) / phases.len() as u32;
    let receiver = Receiver::start();
    let g = ferrotel::builder()
        .env(env_for(&receiver))
        .install_subscriber(false)
        .install_globals(false)
        .shutdown_timeout(SHUTDOWN_BOUND)
        // The log records go to OTLP; the console copy of 30,000 lines is not the point.
        .log_writer(std::io::sink)
        .try_init()
        .expect("ferrotel starts");
    let meter = g
        .providers()
        .meter_provider()
        .expect("metrics on")
        .meter("soak");
    let metrics_addr = g.metrics_addr().expect("/metrics is served");
    let trickle = Trickle::start(
        metrics_addr,
        "/metrics",
        &[std::net::Ipv4Addr::LOCALHOST],
        TRICKLING_SOCKETS,
    )
    .expect("the tricklers start");
    let probing = Arc::new(AtomicBool::new(true));
    // The prober's figures: probes made, probes answered 200, the first failures.
    let prober = {
        let probing = probing.clone();
        std::thread::spawn(move || {
            let (mut probes, mut answered, mut failures) = (0u64, 0u64, Vec::new());
            while probing.load(Ordering::Relaxed) {
                probes += 1;
                match http_request(metrics_addr, "GET", "/health", &[], None) {
                    Ok(response) if response.status == 200 => answered += 1,
                    other if failures.len() < 5 => failures.push(format!("{other:?}")),
                    _ => {}
                }
                std::thread::sleep(PROBE_EVERY); // pacing the probes, not readiness
            }
            (probes, answered, failures)
        })
    };
    let latency = meter.f64_histogram("soak.request.duration").build();
    let requests = meter.u64_counter("soak.requests").build();

    let request = |n: u64| {
        let _root = tracing::info_span!("request", n).entered();
        {
            let _put = tracing::info_span!("storage.put").entered();
            let mut x = n;
            for i in 0..2_000u64 {
                x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            black_box(x);
        }
        let _append = tracing::info_span!("raft.append").entered();
        tracing::info!(n, "request done");
    };

    // Warm-up outside the books' figures (its spans are still counted).
    let mut made = 0u64;
    traced(&g, || {
        for _ in 0..200 {
            request(made);
            made += 1;
        }
    });
    let rss_start = rss_bytes();
    let mut rss_peak = rss_start;
    let mut received_spans = 0usize;
    let mut rows = Vec::new();
    let mut shutdowns = Vec::new();
    let mut healthy_latencies: Vec<Duration> = Vec::new();
    let mut fault_p99 = Vec::new();

    // A fault phase whose p99 is off is measured once more, right after a fresh healthy
    // phase, before the verdict: a burst of another process's work on this shared machine
    // must not decide it, a real regression shows twice.
    let mut schedule: std::collections::VecDeque<(Phase, bool)> =
        phases.iter().cloned().map(|p| (p, false)).collect();
    let mut main_done = false;
    loop {
        let Some((phase, retry)) = schedule.pop_front() else {
            if main_done {
                break;
            }
            main_done = true;
            let healthy = p99(&mut healthy_latencies.clone());
            for (name, p, index) in &fault_p99 {
                if ratio_against(&rows, healthy, *p, *index) > P99_RATIO {
                    let fault = phases.iter().find(|f| f.name == *name).cloned().unwrap();
                    let calm = phases[0].clone();
                    schedule.push_back((calm, true));
                    schedule.push_back((fault, true));
                }
            }
            fault_p99.clear();
            continue;
        };
        receiver.set_fault(phase.fault.clone());
        let mut latencies = Vec::new();
        let started = Instant::now();
        let mut next = started;
        traced(&g, || {
            while started.elapsed() < per_phase {
                let t = Instant::now();
                request(made);
                latency.record(t.elapsed().as_secs_f64(), &[]);
                requests.add(1, &[]);
                latencies.push(t.elapsed());
                made += 1;
                next += PACE;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait); // pacing the offered load, not readiness
                }
            }
        });
        let rss_now = rss_bytes();
        rss_peak = rss_peak.max(rss_now);
        println!("soak: RSS after {}: {} MiB", phase.name, rss_now >> 20);
        shutdowns.push((phase.name, shutdown_during(&receiver)));
        // What arrived is counted and let go, so the receiver's memory is not the service's.
        received_spans += receiver.spans().len();
        receiver.clear();
        let count = latencies.len();
        let p = p99(&mut latencies);
        if phase.fault.is_none() {
            healthy_latencies.extend_from_slice(&latencies);
        } else if !main_done || retry {
            fault_p99.push((phase.name, p, rows.len()));
        }
        rows.push((phase.name, count, p, retry));
    }
    // The verdicts: the main measurement, or the re-measurement where one was taken.
    let retried: Vec<&str> = rows.iter().filter(|r| r.3).map(|r| r.0).collect();
    let mut verdicts: Vec<(&str, Duration, usize)> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let is_fault = phases.iter().any(|f| f.name == row.0 && f.fault.is_some());
        if is_fault && (row.3 || !retried.contains(&row.0)) {
            verdicts.push((row.0, row.2, index));
        }
    }
    probing.store(false, Ordering::Relaxed);
    let (probes, answered, probe_failures) = prober.join().expect("the prober ends");
    let trickled = trickle.bytes_sent();
    trickle.stop();
    // Healthy again: flush, and the books close with nothing queued or in flight.
    receiver.set_fault(None);
    let flushed = g.flush();
    let spans = g.stats().spans.remove(0);
    let metrics = g.stats().metrics.remove(0);
    let logs = g.stats().logs.remove(0);
    let started = Instant::now();
    let report = g.shutdown();
    shutdowns.push(("final", started.elapsed()));
    received_spans += receiver.spans().len();

    let ledgers = [
        Ledger {
            signal: "spans",
            created: made * SPANS_PER_REQUEST,
            exported: spans.exported,
            dropped: spans.dropped_queue_full + spans.dropped_after_shutdown,
            failed: spans.failed,
        },
        // Metric data points are created by each collection; the exporter sees every one.
        Ledger {
            signal: "metric points",
            created: metrics.points_collected,
            exported: metrics.points_exported,
            dropped: 0,
            failed: metrics.points_failed,
        },
        Ledger {
            signal: "log records",
            created: made * LOGS_PER_REQUEST,
            exported: logs.exported,
            dropped: logs.dropped_queue_full + logs.dropped_after_shutdown,
            failed: logs.failed,
        },
    ];

    // --- figures -----------------------------------------------------------------------
    let healthy = p99(&mut healthy_latencies);
    println!(
        "soak: {total} s in {} phases of {per_phase:?}, one request every {PACE:?}",
        phases.len()
    );
    println!("soak: | phase | requests | p99 | p99 / healthy p99 |");
    for (name, count, p, retry) in &rows {
        println!(
            "soak: | {name}{} | {count} | {:.0} us | {:.2} |",
            if *retry { " (re-measured)" } else { "" },
            p.as_secs_f64() * 1e6,
            p.as_secs_f64() / healthy.as_secs_f64()
        );
    }
    println!("soak: | signal | created | exported | dropped | failed |");
    for l in &ledgers {
        println!(
            "soak: | {} | {} | {} | {} | {} |",
            l.signal, l.created, l.exported, l.dropped, l.failed
        );
    }
    // The bound: what the process held after warm-up, plus the queue at its fullest (slot and
    // a generous 4 KiB per queued span), plus 64 MiB for the runtimes' and allocator's slack,
    // plus 32 MiB for what shares the process without being the service: the receiver's phase
    // of data, the `/metrics` reader's own state and the slowloris harness (19 MiB of the
    // peak on 2026-12-08, against the same run without them). A queue that did not hold its
    // bound would pass it by hundreds of MiB.
    let rss_bound = rss_start + (QUEUE as u64) * (368 + 4096) + (64 + 32) * 1024 * 1024;
    println!(
        "soak: peak RSS {} MiB (start {} MiB, bound {} MiB); spans received {received_spans}",
        rss_peak >> 20,
        rss_start >> 20,
        rss_bound >> 20
    );
    println!(
        "soak: /health answered {answered} of {probes} probes while {TRICKLING_SOCKETS} sockets \
         trickled {trickled} bytes of request heads at /metrics"
    );
    for (name, took) in &shutdowns {
        println!(
            "soak: shutdown during {name}: {:.0} ms (bound {SHUTDOWN_BOUND:?})",
            took.as_secs_f64() * 1e3
        );
    }

    // --- checks ------------------------------------------------------------------------
    assert!(
        flushed.problems.is_empty(),
        "the final flush: {:?}",
        flushed.problems
    );
    assert_eq!((spans.in_queue, spans.in_flight), (0, 0), "{spans:?}");
    assert_eq!(
        spans.queued,
        made * SPANS_PER_REQUEST,
        "every ended span reached the pipeline"
    );
    assert_eq!(metrics.points_in_flight, 0, "{metrics:?}");
    assert_eq!((logs.in_queue, logs.in_flight), (0, 0), "{logs:?}");
    assert_eq!(
        logs.queued,
        made * LOGS_PER_REQUEST,
        "every log record reached the pipeline"
    );
    for l in &ledgers {
        assert!(l.balanced(), "unaccounted {}: {l:?}", l.signal);
    }
    assert!(
        spans.failed > 0 && metrics.points_failed > 0 && logs.failed + logs.dropped_queue_full > 0,
        "the faults cost something"
    );
    assert!(
        received_spans as u64 >= spans.exported,
        "exported spans reached the receiver"
    );
    // Shutdown bound: a correctness bound (no hang), with room for the thread hand-over.
    for (name, took) in &shutdowns {
        assert!(
            *took <= SHUTDOWN_BOUND + Duration::from_secs(1),
            "shutdown during {name}: {took:?}"
        );
    }
    assert!(
        trickled > 10 * TRICKLING_SOCKETS as u64,
        "the tricklers held their sockets"
    );
    assert!(
        probes > 0 && answered * 100 >= probes * 99,
        "/health answered {answered} of {probes} probes under the slowloris load; first \
         failures: {probe_failures:?}"
    );
    assert!(
        rss_peak <= rss_bound,
        "peak RSS {rss_peak} above {rss_bound}"
    );
    // p99: each fault phase against the pooled healthy phases of the same run (a phase off the
    // mark was measured once more above, after a fresh healthy phase).
    for (name, p, index) in &verdicts {
        let ratio = ratio_against(&rows, healthy, *p, *index);
        println!("soak: p99 verdict {name}: {ratio:.2}x (allowed {P99_RATIO}x)");
        assert!(
            ratio <= P99_RATIO,
            "{name}: p99 {p:?} is {ratio:.2}x the healthy reference (report: {:?})",
            report.problems
        );
    }
}

/// A fault phase's p99 over the pooled p99 of every healthy phase of the run. A re-measured
/// phase runs right after its own fresh healthy phase (`rows[index - 1]`); when that phase was
/// itself slower than the pool, the machine was busy at that moment for healthy and faulty
/// requests alike, so the re-measurement is read against it.
fn ratio_against(
    rows: &[(&str, usize, Duration, bool)],
    pooled: Duration,
    p: Duration,
    index: usize,
) -> f64 {
    let reference = match index.checked_sub(1).and_then(|i| rows.get(i)) {
        Some((_, _, calm, true)) if rows.get(index).is_some_and(|r| r.3) => pooled.max(*calm),
        _ => pooled,
    };
    p.as_secs_f64() / reference.as_secs_f64()
}
