//! `render_openmetrics` / `render_prometheus_text` on hand-built OTLP requests: names, units,
//! suffixes, types, buckets, exemplar placement, escaping, `target_info`, `# EOF` — and both
//! outputs fed to `promtool` when it is installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

use std::io::Write;
use std::process::{Command, Stdio};

use ferrotel_prometheus::{render_openmetrics, render_prometheus_text};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram,
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;
const TRACE: [u8; 16] = [0x0a; 16];
const SPAN: [u8; 8] = [0x0b; 8];

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn request(
    resource: Vec<KeyValue>,
    scope: Option<(&str, &str)>,
    metrics: Vec<Metric>,
) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: scope.map(|(name, version)| InstrumentationScope {
                    name: name.into(),
                    version: version.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn just(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    request(Vec::new(), None, metrics)
}

fn metric(name: &str, unit: &str, description: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        description: description.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn int_point(attributes: Vec<KeyValue>, value: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    }
}

fn double_point(attributes: Vec<KeyValue>, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn sum(monotonic: bool, temporality: i32, points: Vec<NumberDataPoint>) -> metric::Data {
    metric::Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    })
}

fn gauge(points: Vec<NumberDataPoint>) -> metric::Data {
    metric::Data::Gauge(Gauge {
        data_points: points,
    })
}

fn exemplar(value: f64, time_unix_nano: u64, trace: &[u8], span: &[u8]) -> Exemplar {
    Exemplar {
        value: Some(exemplar::Value::AsDouble(value)),
        time_unix_nano,
        trace_id: trace.to_vec(),
        span_id: span.to_vec(),
        ..Default::default()
    }
}

/// Bounds 0.1, 0.5, 1; counts per bucket 1, 2, 3, 4 (10 in all).
fn histogram(exemplars: Vec<Exemplar>) -> metric::Data {
    metric::Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            attributes: vec![kv("rpc.method", "Get")],
            count: 10,
            sum: Some(12.5),
            explicit_bounds: vec![0.1, 0.5, 1.0],
            bucket_counts: vec![1, 2, 3, 4],
            exemplars,
            ..Default::default()
        }],
        aggregation_temporality: CUMULATIVE,
    })
}

fn hex(byte: u8, n: usize) -> String {
    format!("{byte:02x}").repeat(n)
}

/// A request with one of everything, used by the golden and the promtool tests.
fn kitchen_sink() -> ExportMetricsServiceRequest {
    request(
        vec![
            kv("service.name", "kv-store"),
            kv("service.instance.id", "node-1"),
        ],
        Some(("ferrotel.test", "1.2.3")),
        vec![
            metric(
                "raft.proposals",
                "{proposal}",
                "Proposals submitted",
                sum(
                    true,
                    CUMULATIVE,
                    vec![int_point(vec![kv("raft.role", "leader")], 42)],
                ),
            ),
            metric(
                "storage.disk.used",
                "By",
                "Bytes on disk",
                sum(false, CUMULATIVE, vec![int_point(Vec::new(), 1024)]),
            ),
            metric(
                "cache.hit_rate",
                "1",
                "Share of reads served from cache",
                gauge(vec![double_point(Vec::new(), 0.75)]),
            ),
            metric(
                "rpc.server.duration",
                "s",
                "Time serving RPCs",
                histogram(vec![exemplar(
                    0.5,
                    1_700_000_000_250_000_000,
                    &TRACE,
                    &SPAN,
                )]),
            ),
        ],
    )
}

#[test]
fn openmetrics_golden() {
    let expected = format!(
        r#"# HELP raft_proposals Proposals submitted
# TYPE raft_proposals counter
raft_proposals_total{{raft_role="leader",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"}} 42
# HELP storage_disk_used_bytes Bytes on disk
# TYPE storage_disk_used_bytes gauge
# UNIT storage_disk_used_bytes bytes
storage_disk_used_bytes{{otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"}} 1024
# HELP cache_hit_rate_ratio Share of reads served from cache
# TYPE cache_hit_rate_ratio gauge
# UNIT cache_hit_rate_ratio ratio
cache_hit_rate_ratio{{otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"}} 0.75
# HELP rpc_server_duration_seconds Time serving RPCs
# TYPE rpc_server_duration_seconds histogram
# UNIT rpc_server_duration_seconds seconds
rpc_server_duration_seconds_bucket{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="0.1"}} 1
rpc_server_duration_seconds_bucket{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="0.5"}} 3 # {{trace_id="{trace}",span_id="{span}"}} 0.5 1700000000.25
rpc_server_duration_seconds_bucket{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="1.0"}} 6
rpc_server_duration_seconds_bucket{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="+Inf"}} 10
rpc_server_duration_seconds_sum{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"}} 12.5
rpc_server_duration_seconds_count{{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"}} 10
# HELP target Target metadata
# TYPE target info
target_info{{service_instance_id="node-1",service_name="kv-store"}} 1
# EOF
"#,
        trace = hex(0x0a, 16),
        span = hex(0x0b, 8),
    );
    assert_eq!(render_openmetrics(&kitchen_sink()), expected);
}

#[test]
fn prometheus_text_golden() {
    let expected = r#"# HELP raft_proposals_total Proposals submitted
# TYPE raft_proposals_total counter
raft_proposals_total{raft_role="leader",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"} 42
# HELP storage_disk_used_bytes Bytes on disk
# TYPE storage_disk_used_bytes gauge
storage_disk_used_bytes{otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"} 1024
# HELP cache_hit_rate_ratio Share of reads served from cache
# TYPE cache_hit_rate_ratio gauge
cache_hit_rate_ratio{otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"} 0.75
# HELP rpc_server_duration_seconds Time serving RPCs
# TYPE rpc_server_duration_seconds histogram
rpc_server_duration_seconds_bucket{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="0.1"} 1
rpc_server_duration_seconds_bucket{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="0.5"} 3
rpc_server_duration_seconds_bucket{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="1.0"} 6
rpc_server_duration_seconds_bucket{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3",le="+Inf"} 10
rpc_server_duration_seconds_sum{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"} 12.5
rpc_server_duration_seconds_count{rpc_method="Get",otel_scope_name="ferrotel.test",otel_scope_version="1.2.3"} 10
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_instance_id="node-1",service_name="kv-store"} 1
"#;
    assert_eq!(render_prometheus_text(&kitchen_sink()), expected);
}

#[test]
fn unit_suffixes_and_total() {
    let text = render_openmetrics(&just(vec![
        metric("http.client.duration", "ms", "", histogram(Vec::new())),
        metric(
            "net.io",
            "By",
            "",
            sum(true, CUMULATIVE, vec![int_point(Vec::new(), 7)]),
        ),
        metric(
            "jobs_total",
            "{job}",
            "",
            sum(true, CUMULATIVE, vec![int_point(Vec::new(), 1)]),
        ),
        metric("speed", "m/s", "", gauge(vec![int_point(Vec::new(), 3)])),
        metric("9.bad-name", "", "", gauge(vec![int_point(Vec::new(), 1)])),
    ]));
    for line in [
        "# TYPE http_client_duration_milliseconds histogram\n",
        "# UNIT http_client_duration_milliseconds milliseconds\n",
        "http_client_duration_milliseconds_count{rpc_method=\"Get\"} 10\n",
        "# TYPE net_io_bytes counter\n# UNIT net_io_bytes bytes\nnet_io_bytes_total 7\n",
        "# TYPE jobs counter\njobs_total 1\n",
        "# TYPE speed_meters_per_second gauge\n",
        "# TYPE _9_bad_name gauge\n_9_bad_name 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn histogram_buckets_are_cumulative_and_inf_is_last() {
    let text = render_prometheus_text(&just(vec![metric("lat", "", "", histogram(Vec::new()))]));
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("lat_bucket"))
        .collect();
    assert_eq!(
        buckets,
        [
            "lat_bucket{rpc_method=\"Get\",le=\"0.1\"} 1",
            "lat_bucket{rpc_method=\"Get\",le=\"0.5\"} 3",
            "lat_bucket{rpc_method=\"Get\",le=\"1.0\"} 6",
            "lat_bucket{rpc_method=\"Get\",le=\"+Inf\"} 10",
        ]
    );
    assert!(!text.contains("_created"));
}

#[test]
fn exemplars_land_on_their_bucket() {
    let other_trace = [0x0c; 16];
    let text = render_openmetrics(&just(vec![metric(
        "lat",
        "",
        "",
        histogram(vec![
            // Below the first bound.
            exemplar(0.05, 1_000_000_000, &TRACE, &SPAN),
            // Exactly on a bound: belongs to that bucket (value <= bound).
            exemplar(0.5, 2_000_000_000, &TRACE, &SPAN),
            // Two in (0.5, 1]: the later one wins, whatever the order they come in.
            exemplar(0.9, 4_000_000_000, &other_trace, &SPAN),
            exemplar(0.7, 3_000_000_000, &TRACE, &SPAN),
            // Above the last bound: the +Inf bucket; no trace → empty label set.
            exemplar(7.0, 5_000_000_000, &[], &[]),
        ]),
    )]));
    let bucket = |le: &str| {
        text.lines()
            .find(|l| l.contains(&format!("le=\"{le}\"")))
            .unwrap_or_else(|| panic!("no le={le} in\n{text}"))
            .to_owned()
    };
    let ids = |trace: &str| format!("{{trace_id=\"{trace}\",span_id=\"{}\"}}", hex(0x0b, 8));
    assert_eq!(
        bucket("0.1"),
        format!(
            "lat_bucket{{rpc_method=\"Get\",le=\"0.1\"}} 1 # {} 0.05 1",
            ids(&hex(0x0a, 16))
        )
    );
    assert_eq!(
        bucket("0.5"),
        format!(
            "lat_bucket{{rpc_method=\"Get\",le=\"0.5\"}} 3 # {} 0.5 2",
            ids(&hex(0x0a, 16))
        )
    );
    assert_eq!(
        bucket("1.0"),
        format!(
            "lat_bucket{{rpc_method=\"Get\",le=\"1.0\"}} 6 # {} 0.9 4",
            ids(&hex(0x0c, 16))
        )
    );
    assert_eq!(
        bucket("+Inf"),
        "lat_bucket{rpc_method=\"Get\",le=\"+Inf\"} 10 # {} 7.0 5"
    );
    assert_eq!(
        text.matches(" # {").count(),
        4,
        "one exemplar per bucket line:\n{text}"
    );

    // Prometheus text has no exemplars.
    let classic = render_prometheus_text(&just(vec![metric(
        "lat",
        "",
        "",
        histogram(vec![exemplar(0.05, 1, &TRACE, &SPAN)]),
    )]));
    assert!(
        !classic.contains("trace_id") && !classic.contains(" # "),
        "{classic}"
    );
}

#[test]
fn counters_carry_their_latest_exemplar_and_gauges_none() {
    let mut point = int_point(Vec::new(), 3);
    point.exemplars = vec![
        exemplar(1.0, 2_000_000_000, &TRACE, &SPAN),
        exemplar(2.0, 1_000_000_000, &[7; 16], &SPAN),
    ];
    let mut gauge_point = int_point(Vec::new(), 3);
    gauge_point.exemplars = point.exemplars.clone();
    let text = render_openmetrics(&just(vec![
        metric("ops", "", "", sum(true, CUMULATIVE, vec![point])),
        metric("level", "", "", gauge(vec![gauge_point])),
    ]));
    assert!(text.contains(&format!(
        "ops_total 3 # {{trace_id=\"{}\",span_id=\"{}\"}} 1.0 2\n",
        hex(0x0a, 16),
        hex(0x0b, 8)
    )));
    assert!(text.contains("level 3\n"), "{text}");
}

#[test]
fn exemplar_labels_stay_within_128_chars() {
    let mut with_attrs = exemplar(0.05, 0, &TRACE, &SPAN);
    with_attrs.filtered_attributes = vec![kv("user", "alice"), kv("long", &"x".repeat(100))];
    let text = render_openmetrics(&just(vec![metric(
        "lat",
        "",
        "",
        histogram(vec![with_attrs]),
    )]));
    let line = text.lines().find(|l| l.contains("le=\"0.1\"")).unwrap();
    let labels = line.split(" # ").nth(1).unwrap();
    // ids (63 chars) + user=alice (9) fit; the 104-char attribute does not. No time → none written.
    assert_eq!(
        labels,
        format!(
            "{{trace_id=\"{}\",span_id=\"{}\",user=\"alice\"}} 0.05",
            hex(0x0a, 16),
            hex(0x0b, 8)
        )
    );
}

#[test]
fn label_values_and_help_are_escaped() {
    let text = render_openmetrics(&just(vec![metric(
        "m",
        "",
        "line one\nback\\slash \"quoted\"",
        gauge(vec![int_point(vec![kv("path", "C:\\dir\n\"x\"")], 1)]),
    )]));
    assert!(
        text.contains("# HELP m line one\\nback\\\\slash \\\"quoted\\\"\n"),
        "{text}"
    );
    assert!(
        text.contains("m{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n"),
        "{text}"
    );
    let classic = render_prometheus_text(&just(vec![metric(
        "m",
        "",
        "a\\b\nc \"q\"",
        gauge(vec![int_point(Vec::new(), 1)]),
    )]));
    assert!(classic.contains("# HELP m a\\\\b\\nc \"q\"\n"), "{classic}");
}

#[test]
fn attributes_become_labels() {
    let array = KeyValue {
        key: "tags".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(any_value::Value::StringValue("a".into())),
                    },
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                ],
            })),
        }),
        ..Default::default()
    };
    let text = render_prometheus_text(&just(vec![metric(
        "m",
        "",
        "",
        gauge(vec![int_point(
            vec![
                kv("a.b", "1"),
                kv("a_b", "2"),
                kv("0x", "z"),
                array,
                kv("__x", "r"),
            ],
            1,
        )]),
    )]));
    // Colliding keys are joined with `;` in key order; arrays are JSON.
    assert!(
        text.contains(r#"m{a_b="1;2",key_0x="z",key__x="r",tags="[\"a\",2]"} 1"#),
        "{text}"
    );
}

#[test]
fn target_info_and_scope_labels() {
    let text = render_openmetrics(&request(
        vec![kv("service.name", "svc")],
        Some(("my.lib", "")),
        vec![metric("up", "", "", gauge(vec![int_point(Vec::new(), 1)]))],
    ));
    assert!(
        text.contains("up{otel_scope_name=\"my.lib\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE target info\ntarget_info{service_name=\"svc\"} 1\n# EOF\n"),
        "{text}"
    );
    // No resource attributes → no target_info; the output still ends with # EOF.
    let empty = render_openmetrics(&just(Vec::new()));
    assert_eq!(empty, "# EOF\n");
    assert_eq!(render_prometheus_text(&just(Vec::new())), "");
}

#[test]
fn unsupported_metrics_are_skipped() {
    let exponential = metric::Data::ExponentialHistogram(ExponentialHistogram {
        data_points: Vec::new(),
        aggregation_temporality: DELTA,
    });
    let req = just(vec![
        metric("expo", "", "", exponential),
        metric(
            "delta.count",
            "",
            "",
            sum(true, DELTA, vec![int_point(Vec::new(), 1)]),
        ),
        metric("kept", "", "", gauge(vec![int_point(Vec::new(), 1)])),
    ]);
    let om = render_openmetrics(&req);
    assert_eq!(om, "# TYPE kept gauge\nkept 1\n# EOF\n");
    let text = render_prometheus_text(&req);
    assert!(
        text.contains("# skipped metric \"expo\": delta temporality"),
        "{text}"
    );
    assert!(
        text.contains("# skipped metric \"delta.count\": delta temporality"),
        "{text}"
    );
    assert!(text.ends_with("# TYPE kept gauge\nkept 1\n"), "{text}");
}

#[test]
fn exponential_histograms_are_written_as_classic_buckets_at_their_boundaries() {
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;
    // Scale 1: base sqrt(2); positive buckets 2..=4 hold (2, 2.83], (2.83, 4], (4, 5.66].
    let point = ExponentialHistogramDataPoint {
        count: 9,
        sum: Some(30.0),
        scale: 1,
        zero_count: 1,
        zero_threshold: 0.0,
        positive: Some(Buckets {
            offset: 2,
            bucket_counts: vec![3, 0, 4],
        }),
        negative: Some(Buckets {
            offset: 0,
            bucket_counts: vec![1],
        }),
        ..Default::default()
    };
    let req = just(vec![metric(
        "io.latency",
        "s",
        "",
        metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![point],
            aggregation_temporality: CUMULATIVE,
        }),
    )]);
    let text = render_prometheus_text(&req);
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("io_latency_seconds_bucket"))
        .collect();
    assert_eq!(
        buckets,
        [
            "io_latency_seconds_bucket{le=\"-1.0\"} 1",
            "io_latency_seconds_bucket{le=\"0.0\"} 2",
            "io_latency_seconds_bucket{le=\"2.8284271247461903\"} 5",
            "io_latency_seconds_bucket{le=\"4.0\"} 5",
            "io_latency_seconds_bucket{le=\"5.656854249492381\"} 9",
            "io_latency_seconds_bucket{le=\"+Inf\"} 9",
        ],
        "{text}"
    );
    assert!(
        text.contains("# TYPE io_latency_seconds histogram"),
        "{text}"
    );
    assert!(text.contains("io_latency_seconds_count 9"), "{text}");
    assert!(text.contains("io_latency_seconds_sum 30"), "{text}");
}

#[test]
fn special_floats() {
    let text = render_openmetrics(&just(vec![metric(
        "f",
        "",
        "",
        gauge(vec![
            double_point(vec![kv("k", "nan")], f64::NAN),
            double_point(vec![kv("k", "inf")], f64::INFINITY),
            double_point(vec![kv("k", "neg")], f64::NEG_INFINITY),
        ]),
    )]));
    for line in [
        "f{k=\"nan\"} NaN\n",
        "f{k=\"inf\"} +Inf\n",
        "f{k=\"neg\"} -Inf\n",
    ] {
        assert!(text.contains(line), "{text}");
    }
}

/// The same metric name in two scopes makes one family; a clash of types keeps the first.
#[test]
fn families_are_merged_across_scopes() {
    let mut req = just(vec![metric(
        "m",
        "",
        "first",
        gauge(vec![int_point(Vec::new(), 1)]),
    )]);
    req.resource_metrics[0].scope_metrics.push(ScopeMetrics {
        scope: Some(InstrumentationScope {
            name: "other".into(),
            ..Default::default()
        }),
        metrics: vec![
            metric("m", "", "", gauge(vec![int_point(Vec::new(), 2)])),
            metric(
                "m",
                "",
                "",
                sum(true, CUMULATIVE, vec![int_point(Vec::new(), 3)]),
            ),
        ],
        ..Default::default()
    });
    let text = render_openmetrics(&req);
    assert_eq!(
        text,
        "# HELP m first\n# TYPE m gauge\nm 1\nm{otel_scope_name=\"other\"} 2\n# EOF\n"
    );
}

// --- promtool ------------------------------------------------------------------------------

const PROMTOOL_HINT: &str = "apt-get install prometheus";

/// Prometheus text passes `promtool check metrics` (parser and linter). promtool 2.42 only
/// parses the classic text format there, so the OpenMetrics output goes through promtool's
/// OpenMetrics parser instead: `promtool tsdb create-blocks-from openmetrics`, which needs a
/// timestamp on every sample, so the test adds one to each sample line first.
#[test]
fn promtool_accepts_both_formats() {
    let Some(promtool) = ferrotel_testkit::external::program("promtool", PROMTOOL_HINT) else {
        return;
    };
    let request = kitchen_sink();

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool check metrics");
    let text = render_prometheus_text(&request);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics rejected:\n{text}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let openmetrics = render_openmetrics(&request);
    let stamped: String = openmetrics
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("{line}\n")
            } else {
                match line.split_once(" # ") {
                    Some((sample, exemplar)) => format!("{sample} 1700000000 # {exemplar}\n"),
                    None => format!("{line} 1700000000\n"),
                }
            }
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("ferrotel-prometheus-om-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("metrics.om");
    std::fs::write(&input, &stamped).unwrap();
    let output = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&input)
        .arg(dir.join("blocks"))
        .output()
        .expect("run promtool tsdb create-blocks-from openmetrics");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "promtool's OpenMetrics parser rejected:\n{stamped}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
