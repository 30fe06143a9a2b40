//! Resource detection on the wire: each detector's attributes on exported spans, metrics and
//! logs, read from a faked system tree (a temporary root with `proc/`, `etc/` and `var/`) and
//! downward-API variables; `OTEL_RESOURCE_ATTRIBUTES` and code win over detected values; and
//! garbage in the tree is a missing attribute, never an error line.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::path::Path;

use ferrotel::config::Env;
use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel::Guard;
use ferrotel_testkit::fake_root::FakeRoot;
use ferrotel_testkit::{ReceivedSpan, Receiver};
use support::{sending_to, traced, Captured, WAIT};

const CONTAINER: &str = "9d2f0c1e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c";
const MACHINE: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A Kubernetes node as the detectors see it: cgroup v1 with a containerd id.
fn pod_root() -> FakeRoot {
    let root = FakeRoot::new();
    root.file("proc/sys/kernel/hostname", "ledger-0\n")
        .file("etc/machine-id", format!("{MACHINE}\n"))
        .file(
            "proc/self/cgroup",
            format!("12:memory:/kubepods/burstable/pod7e1/{CONTAINER}\n"),
        )
        .file(
            "var/run/secrets/kubernetes.io/serviceaccount/namespace",
            "storage",
        );
    root
}

/// The downward-API variables the Operator injects, and the one every pod has.
const DOWNWARD_API: &[(&str, &str)] = &[
    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "ledger-0"),
    ("OTEL_RESOURCE_ATTRIBUTES_NODE_NAME", "node-a"),
    (
        "OTEL_RESOURCE_ATTRIBUTES_POD_UID",
        "7e1b6a52-0d1c-4e0a-9a55-1f7d2e3c4b5a",
    ),
];

/// A guard on `env` reading the system below `root`, logging into `logs`.
fn guard_on(env: Env, root: &Path, logs: &Captured) -> Guard {
    let root = root.to_owned();
    let sink = logs.clone();
    ferrotel_testkit::guard::builder(env)
        .configure(move |config| config.resource_detection_root(root))
        .log_writer(move || sink.clone())
        .try_init()
        .expect("ferrotel starts")
}

/// One span with one log line, and one counter point; then everything is flushed.
fn record_all(g: &Guard) {
    traced(g, || {
        let span = tracing::info_span!("detected");
        let _entered = span.enter();
        tracing::info!("inside");
    });
    if let Some(meters) = g.providers().meter_provider() {
        meters
            .meter("detect-test")
            .u64_counter("detect.test.points")
            .build()
            .add(1, &[]);
    }
    let report = g.flush();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

fn one_span(receiver: &Receiver) -> ReceivedSpan {
    receiver.wait_for_spans(1, WAIT).expect("a span")[0].clone()
}

#[test]
fn every_detector_reaches_spans_metrics_and_logs() {
    let receiver = Receiver::start();
    let root = pod_root();
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "ledger"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
    ];
    vars.extend_from_slice(DOWNWARD_API);
    let logs = Captured::default();
    let g = guard_on(
        sending_to(&receiver, "http/protobuf", &vars),
        root.path(),
        &logs,
    );
    record_all(&g);

    let pid = std::process::id().to_string();
    let expected: Vec<(&str, &str)> = vec![
        ("service.name", "ledger"),
        ("host.name", "ledger-0"),
        ("host.id", MACHINE),
        ("process.pid", &pid),
        ("process.executable.name", "ferrotel-test"),
        ("process.runtime.name", "rustc"),
        ("container.id", CONTAINER),
        ("k8s.pod.name", "ledger-0"),
        ("k8s.node.name", "node-a"),
        ("k8s.namespace.name", "storage"),
        ("k8s.pod.uid", "7e1b6a52-0d1c-4e0a-9a55-1f7d2e3c4b5a"),
    ];
    let span = one_span(&receiver);
    let metric = receiver
        .wait_for_metric("detect.test.points", WAIT)
        .unwrap()[0]
        .clone();
    let log = receiver.wait_for_logs(1, WAIT).unwrap()[0].clone();
    for (key, value) in &expected {
        assert_eq!(
            span.resource_attr(key).as_deref(),
            Some(*value),
            "span {key}"
        );
        assert_eq!(
            metric.resource_attr(key).as_deref(),
            Some(*value),
            "metric {key}"
        );
        assert_eq!(log.resource_attr(key).as_deref(), Some(*value), "log {key}");
    }
    for key in [
        "service.instance.id",
        "host.arch",
        "process.runtime.version",
    ] {
        assert!(span.resource_attr(key).is_some(), "{key}: {span:#?}");
    }
    assert!(
        span.resource_attr("process.command_line").is_none()
            && span.resource_attr("process.command_args").is_none(),
        "the command line can hold secrets: never exported"
    );
    drop(g);
}

#[test]
fn resource_attributes_and_code_win_over_detected_values() {
    let receiver = Receiver::start();
    let root = pod_root();
    let mut vars = vec![(
        "OTEL_RESOURCE_ATTRIBUTES",
        "host.name=pinned-host,k8s.pod.name=pinned-pod",
    )];
    vars.extend_from_slice(DOWNWARD_API);
    let root_path = root.path().to_owned();
    let g = ferrotel_testkit::guard::builder(sending_to(&receiver, "http/protobuf", &vars))
        .configure(move |config| {
            config
                .resource_detection_root(root_path)
                .resource_attribute("container.id", "set-in-code")
        })
        .try_init()
        .unwrap();
    record_all(&g);
    let span = one_span(&receiver);
    assert_eq!(
        span.resource_attr("host.name").as_deref(),
        Some("pinned-host")
    );
    assert_eq!(
        span.resource_attr("k8s.pod.name").as_deref(),
        Some("pinned-pod")
    );
    assert_eq!(
        span.resource_attr("container.id").as_deref(),
        Some("set-in-code")
    );
    // What nobody pinned is still detected.
    assert_eq!(span.resource_attr("host.id").as_deref(), Some(MACHINE));
    assert_eq!(
        span.resource_attr("k8s.node.name").as_deref(),
        Some("node-a")
    );
}

#[test]
fn cgroup_v2_mountinfo_and_downward_api_yield_container_and_pod() {
    let receiver = Receiver::start();
    let root = FakeRoot::new();
    // cgroup v2 in a private namespace shows no id; the bind mounts of /etc/hostname do.
    root.file("proc/self/cgroup", "0::/\n")
        .file(
            "proc/self/mountinfo",
            format!(
                "1021 990 0:211 / / rw,relatime master:302 - overlay overlay rw\n\
                 1035 1021 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/containers/{CONTAINER}/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p1 rw\n"
            ),
        )
        .file(
            "var/run/secrets/kubernetes.io/serviceaccount/namespace",
            "storage\n",
        );
    let vars = [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "gateway-5d9c7"),
    ];
    let g = guard_on(
        sending_to(&receiver, "grpc", &vars),
        root.path(),
        &Captured::default(),
    );
    record_all(&g);
    let span = one_span(&receiver);
    assert_eq!(
        span.resource_attr("container.id").as_deref(),
        Some(CONTAINER)
    );
    assert_eq!(
        span.resource_attr("k8s.pod.name").as_deref(),
        Some("gateway-5d9c7")
    );
    assert_eq!(
        span.resource_attr("k8s.namespace.name").as_deref(),
        Some("storage")
    );
}

#[test]
fn garbage_is_a_missing_attribute_and_no_error_line() {
    let receiver = Receiver::start();
    let root = FakeRoot::new();
    root.file("proc/sys/kernel/hostname", "not a host name\u{7}\n")
        .file("etc/hostname", [0xff, 0xfe, 0x00, 0x41])
        .file("etc/machine-id", "this-is-not-a-machine-id\n")
        .file(
            "proc/self/cgroup",
            "12:memory:/docker/xyz\n\u{0}\u{0}garbage",
        )
        .file("proc/self/mountinfo", "nonsense without fields\n")
        .file(
            "var/run/secrets/kubernetes.io/serviceaccount/namespace",
            "Not A Label!\n",
        );
    // A directory where a file should be: not a regular file, not read.
    std::fs::create_dir_all(root.path().join("var/lib/dbus/machine-id")).unwrap();
    let vars = [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("OTEL_LOG_LEVEL", "info"),
    ];
    let logs = Captured::default();
    let g = guard_on(
        sending_to(&receiver, "http/protobuf", &vars),
        root.path(),
        &logs,
    );
    record_all(&g);
    let span = one_span(&receiver);
    for key in ["host.name", "host.id", "container.id", "k8s.namespace.name"] {
        assert_eq!(span.resource_attr(key), None, "{key}: {span:#?}");
    }
    // What needs no file is still there.
    assert!(span.resource_attr("process.pid").is_some());
    drop(g);
    let text = logs.text();
    let loud: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect();
    assert!(loud.is_empty(), "no warning or error: {loud:#?}");
}

#[test]
fn the_variable_selects_detectors() {
    let receiver = Receiver::start();
    let root = pod_root();
    let mut vars = vec![("FERROTEL_RESOURCE_DETECTORS", "host, k8s")];
    vars.extend_from_slice(DOWNWARD_API);
    let g = guard_on(
        sending_to(&receiver, "http/protobuf", &vars),
        root.path(),
        &Captured::default(),
    );
    record_all(&g);
    let span = one_span(&receiver);
    assert_eq!(span.resource_attr("host.name").as_deref(), Some("ledger-0"));
    assert_eq!(
        span.resource_attr("k8s.pod.name").as_deref(),
        Some("ledger-0")
    );
    assert_eq!(span.resource_attr("process.pid"), None);
    assert_eq!(span.resource_attr("container.id"), None);

    let receiver = Receiver::start();
    let g = guard_on(
        sending_to(
            &receiver,
            "http/protobuf",
            &[("FERROTEL_RESOURCE_DETECTORS", "none")],
        ),
        root.path(),
        &Captured::default(),
    );
    record_all(&g);
    let span = one_span(&receiver);
    for key in ["host.name", "host.id", "process.pid", "container.id"] {
        assert_eq!(span.resource_attr(key), None, "{key}");
    }
    // service.name and service.instance.id are always there.
    assert!(span.resource_attr("service.name").is_some());
    assert!(span.resource_attr("service.instance.id").is_some());
}

#[test]
fn published_getting_started_file_detects_and_reads_otel_service_name() {
    let receiver = Receiver::start();
    let root = pod_root();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ferrotel-config/tests/testdata/published-otel-getting-started.yaml"
    );
    let vars = [
        ("OTEL_CONFIG_FILE", file),
        ("OTEL_SERVICE_NAME", "inventory"),
    ];
    let logs = Captured::default();
    let g = guard_on(
        sending_to(&receiver, "http/protobuf", &vars),
        root.path(),
        &logs,
    );
    record_all(&g);
    let span = one_span(&receiver);
    assert_eq!(
        span.resource_attr("service.name").as_deref(),
        Some("inventory")
    );
    assert_eq!(span.resource_attr("host.name").as_deref(), Some("ledger-0"));
    assert_eq!(
        span.resource_attr("container.id").as_deref(),
        Some(CONTAINER)
    );
    assert!(span.resource_attr("process.pid").is_some());
    // The file lists no k8s detector.
    assert_eq!(span.resource_attr("k8s.namespace.name"), None);
    drop(g);
    let text = logs.text();
    assert!(
        !text.contains("not support") && !text.contains("detection/development"),
        "{text}"
    );
}
