//! The OpenMetrics and Prometheus text renderers fed arbitrary metric names, units, label keys
//! and values: they never panic, and every line they write is one line (no name or value can
//! inject another sample).
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}');
    let name = parts.next().unwrap_or_default().to_owned();
    let unit = parts.next().unwrap_or_default().to_owned();
    let mut attributes = Vec::new();
    while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
        attributes.push(KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..Default::default()
        });
    }
    let metric = Metric {
        name: name.clone(),
        unit,
        description: name,
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes,
                value: Some(number_data_point::Value::AsDouble(1.5)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![metric],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    for page in [
        ferrotel_prometheus::render_openmetrics(&request),
        ferrotel_prometheus::render_prometheus_text(&request),
    ] {
        for line in page.lines() {
            // Every line is a comment, a sample or the end marker.
            assert!(
                line.starts_with('#') || line.contains(' ') || line.is_empty(),
                "malformed line {line:?}"
            );
        }
    }
});
