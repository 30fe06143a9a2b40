//! ferrotel's own metrics about its pipelines, after the semantic conventions for SDK metrics
//! (`otel.sdk.*`, status Development), so a dashboard can show that telemetry is failing:
//!
//! | metric | instrument | what |
//! |---|---|---|
//! | `otel.sdk.processor.span.processed` | Counter `{span}` | spans handed to the exporter; with `error.type=queue_full` / `already_shutdown` the ones dropped |
//! | `otel.sdk.processor.span.queue.size` | UpDownCounter `{span}` | spans waiting in the queue |
//! | `otel.sdk.processor.span.queue.capacity` | UpDownCounter `{span}` | `OTEL_BSP_MAX_QUEUE_SIZE` |
//! | `otel.sdk.exporter.span.exported` | Counter `{span}` | finished exports; `error.type` set on failures (`timeout`, `export_failed`) |
//! | `otel.sdk.exporter.span.inflight` | UpDownCounter `{span}` | spans in an unfinished export |
//! | `otel.sdk.processor.log.processed`, `….log.queue.size`, `….log.queue.capacity`, `otel.sdk.exporter.log.exported`, `….log.inflight` | as for spans, `{log_record}` | the log record pipelines (`OTEL_BLRP_MAX_QUEUE_SIZE`) |
//! | `otel.sdk.exporter.metric_data_point.exported` | Counter `{data_point}` | likewise for data points; partial-success rejections as `error.type=rejected` |
//! | `otel.sdk.exporter.metric_data_point.inflight` | UpDownCounter `{data_point}` | data points in an unfinished export |
//!
//! Every point carries `otel.component.type` and `otel.component.name`. The values are read
//! from the same counters as [`crate::Guard::stats`], at each collection.

use ferrotel_otlp::OtlpMetricExporter;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;

use super::Pipeline;

const ERROR_TYPE: &str = "error.type";
const COMPONENT_TYPE: &str = "otel.component.type";
const COMPONENT_NAME: &str = "otel.component.name";

fn component(kind: &'static str, index: usize) -> [KeyValue; 2] {
    [
        KeyValue::new(COMPONENT_TYPE, kind),
        KeyValue::new(COMPONENT_NAME, format!("{kind}/{index}")),
    ]
}

fn with_error(base: &[KeyValue; 2], error: &'static str) -> [KeyValue; 3] {
    [
        base[0].clone(),
        base[1].clone(),
        KeyValue::new(ERROR_TYPE, error),
    ]
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What one kind of pipeline (spans or log records) is called in the metrics.
struct Signal {
    /// `span` or `log`, as in `otel.sdk.processor.span.processed`.
    name: &'static str,
    unit: &'static str,
    processor: &'static str,
    /// The component type of an `otlp` exporter; `console` is `console_{name}_exporter`.
    otlp_exporter: &'static str,
    console_exporter: &'static str,
}

/// Registers the instruments on `provider`; their callbacks read `pipelines` (spans),
/// `log_pipelines` and `metric`.
pub(crate) fn register(
    provider: &SdkMeterProvider,
    pipelines: &[Pipeline],
    span_exporter_type: &'static str,
    log_pipelines: &[Pipeline],
    log_exporter_type: &'static str,
    metric: &[(OtlpMetricExporter, &'static str)],
) {
    let meter = provider.meter_with_scope(crate::tracer::scope("ferrotel"));
    let spans = Signal {
        name: "span",
        unit: "{span}",
        processor: "batching_span_processor",
        otlp_exporter: span_exporter_type,
        console_exporter: "console_span_exporter",
    };
    let logs = Signal {
        name: "log",
        unit: "{log_record}",
        processor: "batching_log_processor",
        otlp_exporter: log_exporter_type,
        console_exporter: "console_log_exporter",
    };
    for (signal, pipelines) in [(&spans, pipelines), (&logs, log_pipelines)] {
        for (index, pipeline) in pipelines.iter().enumerate() {
            register_pipeline(&meter, signal, index, pipeline);
        }
    }
    for (index, (exporter, kind)) in metric.iter().enumerate() {
        let attrs = component(kind, index);
        let (e, a) = (exporter.clone(), attrs.clone());
        meter
            .u64_observable_counter("otel.sdk.exporter.metric_data_point.exported")
            .with_unit("{data_point}")
            .with_description("The number of metric data points for which the export has finished")
            .with_callback(move |observer| {
                let stats = e.stats();
                let rejected = stats.rejected_points.min(stats.points_exported);
                observer.observe(stats.points_exported - rejected, &a);
                observer.observe(rejected, &with_error(&a, "rejected"));
                observer.observe(stats.points_failed, &with_error(&a, "export_failed"));
            })
            .build();
        let (e, a) = (exporter.clone(), attrs);
        meter
            .i64_observable_up_down_counter("otel.sdk.exporter.metric_data_point.inflight")
            .with_unit("{data_point}")
            .with_description(
                "The number of metric data points passed to the exporter and not exported yet",
            )
            .with_callback(move |observer| observer.observe(signed(e.stats().points_in_flight), &a))
            .build();
    }
}

/// The processor and exporter instruments of one span or log record pipeline.
fn register_pipeline(
    meter: &opentelemetry::metrics::Meter,
    signal: &Signal,
    index: usize,
    pipeline: &Pipeline,
) {
    let processor = component(signal.processor, index);
    let exporter_kind = if pipeline.exporter == "otlp" {
        signal.otlp_exporter
    } else {
        signal.console_exporter
    };
    let exporter = component(exporter_kind, index);

    let (c, attrs) = (pipeline.counters.clone(), processor.clone());
    meter
        .u64_observable_counter(format!("otel.sdk.processor.{}.processed", signal.name))
        .with_unit(signal.unit)
        .with_description("The number of items for which the processing has finished")
        .with_callback(move |observer| {
            let s = c.snapshot("");
            observer.observe(s.exported + s.failed + s.in_flight, &attrs);
            observer.observe(s.dropped_queue_full, &with_error(&attrs, "queue_full"));
            observer.observe(
                s.dropped_after_shutdown,
                &with_error(&attrs, "already_shutdown"),
            );
        })
        .build();
    let (c, attrs) = (pipeline.counters.clone(), processor.clone());
    meter
        .i64_observable_up_down_counter(format!("otel.sdk.processor.{}.queue.size", signal.name))
        .with_unit(signal.unit)
        .with_description("The number of items in the queue of the processor")
        .with_callback(move |observer| {
            observer.observe(signed(c.snapshot("").in_queue), &attrs);
        })
        .build();
    let (capacity, attrs) = (pipeline.counters.snapshot("").capacity, processor);
    meter
        .i64_observable_up_down_counter(format!(
            "otel.sdk.processor.{}.queue.capacity",
            signal.name
        ))
        .with_unit(signal.unit)
        .with_description("The maximum number of items the queue can hold")
        .with_callback(move |observer| observer.observe(signed(capacity), &attrs))
        .build();
    let (c, attrs) = (pipeline.counters.clone(), exporter.clone());
    meter
        .u64_observable_counter(format!("otel.sdk.exporter.{}.exported", signal.name))
        .with_unit(signal.unit)
        .with_description("The number of items for which the export has finished")
        .with_callback(move |observer| {
            let (failed, timeout) = c.failures();
            observer.observe(c.snapshot("").exported, &attrs);
            observer.observe(timeout, &with_error(&attrs, "timeout"));
            observer.observe(
                failed.saturating_sub(timeout),
                &with_error(&attrs, "export_failed"),
            );
        })
        .build();
    let (c, attrs) = (pipeline.counters.clone(), exporter);
    meter
        .i64_observable_up_down_counter(format!("otel.sdk.exporter.{}.inflight", signal.name))
        .with_unit(signal.unit)
        .with_description("The number of items passed to the exporter and not exported yet")
        .with_callback(move |observer| {
            observer.observe(signed(c.snapshot("").in_flight), &attrs);
        })
        .build();
}
