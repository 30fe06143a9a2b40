//! The process and runtime metrics reach the wire (OTLP, through the test receiver) and the
//! `/metrics` page with their documented names and units, and are off when switched off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

mod support;

use std::collections::BTreeSet;

use ferrotel::process_metrics as names;
use ferrotel_testkit::raw_http::request;
use ferrotel_testkit::Receiver;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use support::{sending_to, WAIT};

const ALL: [&str; 14] = [
    names::CPU_TIME,
    names::CPU_UTILIZATION,
    names::MEMORY_USAGE,
    names::MEMORY_VIRTUAL,
    names::OPEN_FILE_DESCRIPTORS,
    names::THREADS,
    names::DISK_IO,
    names::UPTIME,
    names::MEMORY_LIMIT,
    names::OPEN_FILE_DESCRIPTOR_LIMIT,
    names::TOKIO_WORKERS,
    names::TOKIO_ALIVE_TASKS,
    names::TOKIO_GLOBAL_QUEUE_DEPTH,
    names::TOKIO_WORKER_BUSY_TIME,
];

fn guard(receiver: &Receiver, extra: &[(&str, &str)]) -> ferrotel::Guard {
    let mut vars = vec![
        ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
        ("FERROTEL_METRICS_ADDR", "127.0.0.1:0"),
    ];
    vars.extend_from_slice(extra);
    ferrotel::builder()
        .env(sending_to(receiver, "http/protobuf", &vars))
        .install_subscriber(false)
        .install_globals(false)
        .try_init()
        .expect("ferrotel starts")
}

/// The names in the receiver, after a flush, with their first point's unit and kind.
fn received(receiver: &Receiver) -> BTreeSet<(String, String, &'static str)> {
    receiver
        .metrics()
        .into_iter()
        .filter(|m| m.scope_name == "ferrotel.process")
        .map(|m| {
            let kind = match &m.metric.data {
                Some(Data::Sum(sum)) if sum.is_monotonic => "counter",
                Some(Data::Sum(_)) => "updowncounter",
                Some(Data::Gauge(_)) => "gauge",
                _ => "other",
            };
            (m.metric.name.clone(), m.metric.unit.clone(), kind)
        })
        .collect()
}

#[test]
fn every_process_and_runtime_metric_reaches_otlp_and_the_metrics_page() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let receiver = Receiver::start();
    // Inside the application's runtime, as `#[tokio::main]` would run it.
    let g = runtime.block_on(async { guard(&receiver, &[]) });
    // Two collections: the utilization is a difference between two.
    g.flush();
    g.flush();
    receiver
        .wait_for_metric(names::CPU_UTILIZATION, WAIT)
        .expect("the utilization after two collections");
    let got = received(&receiver);
    let expected: BTreeSet<(String, String, &str)> = [
        (names::CPU_TIME, "s", "counter"),
        (names::CPU_UTILIZATION, "1", "gauge"),
        (names::MEMORY_USAGE, "By", "updowncounter"),
        (names::MEMORY_VIRTUAL, "By", "updowncounter"),
        (
            names::OPEN_FILE_DESCRIPTORS,
            "{file_descriptor}",
            "updowncounter",
        ),
        (names::THREADS, "{thread}", "updowncounter"),
        (names::DISK_IO, "By", "counter"),
        (names::UPTIME, "s", "gauge"),
        (names::MEMORY_LIMIT, "By", "updowncounter"),
        (
            names::OPEN_FILE_DESCRIPTOR_LIMIT,
            "{file_descriptor}",
            "updowncounter",
        ),
        (names::TOKIO_WORKERS, "{worker}", "gauge"),
        (names::TOKIO_ALIVE_TASKS, "{task}", "gauge"),
        (names::TOKIO_GLOBAL_QUEUE_DEPTH, "{task}", "gauge"),
        (names::TOKIO_WORKER_BUSY_TIME, "s", "counter"),
    ]
    .into_iter()
    .map(|(n, u, k)| (n.to_owned(), u.to_owned(), k))
    .collect();
    assert_eq!(got, expected);
    // The CPU time carries both modes, the workers are the runtime's two.
    let workers = receiver
        .wait_for_metric(names::TOKIO_WORKERS, WAIT)
        .unwrap();
    let Some(Data::Gauge(gauge)) = &workers[0].metric.data else {
        panic!("{workers:?}")
    };
    assert_eq!(
        gauge.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(2))
    );

    let addr = g.metrics_addr().expect("/metrics is served");
    let page = request(addr, "GET", "/metrics", &[], None).unwrap();
    assert_eq!(page.status, 200);
    for name in [
        "process_cpu_time_seconds_total{cpu_mode=\"user\"",
        "process_cpu_time_seconds_total{cpu_mode=\"system\"",
        "process_cpu_utilization_ratio{cpu_mode=\"user\"",
        "process_memory_usage_bytes",
        "process_memory_virtual_bytes",
        "process_open_file_descriptor_count",
        "process_thread_count",
        "process_disk_io_bytes_total{disk_io_direction=\"read\"",
        "process_uptime_seconds",
        "ferrotel_process_memory_limit_bytes",
        "ferrotel_process_open_file_descriptor_limit",
        "ferrotel_tokio_workers",
        "ferrotel_tokio_alive_tasks",
        "ferrotel_tokio_global_queue_depth",
        "ferrotel_tokio_worker_busy_time_seconds_total{tokio_worker=\"0\"",
    ] {
        assert!(
            page.body.contains(name),
            "{name} not on the page:\n{}",
            page.body
        );
    }
    drop(g);
}

#[test]
fn outside_a_runtime_there_are_no_tokio_figures_and_the_switch_turns_all_off() {
    let receiver = Receiver::start();
    let g = guard(&receiver, &[]);
    g.flush();
    receiver.wait_for_metric(names::MEMORY_USAGE, WAIT).unwrap();
    let got: BTreeSet<String> = received(&receiver).into_iter().map(|m| m.0).collect();
    assert!(got.contains(names::CPU_TIME), "{got:?}");
    assert!(
        !got.iter().any(|n| n.starts_with("ferrotel.tokio.")),
        "{got:?}"
    );
    drop(g);

    let receiver = Receiver::start();
    let g = guard(&receiver, &[("FERROTEL_PROCESS_METRICS", "false")]);
    // ferrotel's own pipeline metrics still arrive: the export happened.
    g.flush();
    receiver
        .wait_for_metric("otel.sdk.exporter.span.inflight", WAIT)
        .unwrap();
    assert_eq!(received(&receiver), BTreeSet::new());
    let names: BTreeSet<String> = receiver
        .metrics()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert!(ALL.iter().all(|n| !names.contains(*n)), "{names:?}");
}
