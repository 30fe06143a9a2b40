//! `tracer_provider`, `meter_provider` and `logger_provider`: each as the variables of its
//! signal. A provider that is absent means no exporter for that signal (the schema's noop
//! provider).

use super::exporter::{self, Exporters};
use super::sampler;
use super::walk::{Section, Walk};
use super::yaml::Value;
use crate::vars::{self, LOGS, LOG_BATCH, METRICS, TRACES};

/// The log record limit variables, read by the logs pipeline.
pub(crate) const LOG_RECORD_LIMITS: [&str; 2] = [
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
];

/// `tracer_provider`, or `none` for its exporters when absent.
pub(crate) fn tracer(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut provider) = walk.child_section(root, "tracer_provider") else {
        walk.set(
            TRACES.exporter,
            "none".to_owned(),
            1,
            "(no tracer_provider)",
        );
        return;
    };
    exporter::processors(walk, &mut provider, &TRACES, &[], true);
    if let Some(mut limits) = walk.child_section(&mut provider, "limits") {
        for (key, var) in [
            (
                "attribute_value_length_limit",
                vars::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            ),
            (
                "attribute_count_limit",
                vars::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
            ),
            ("event_count_limit", vars::OTEL_SPAN_EVENT_COUNT_LIMIT),
            ("link_count_limit", vars::OTEL_SPAN_LINK_COUNT_LIMIT),
            (
                "event_attribute_count_limit",
                vars::OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
            ),
            (
                "link_attribute_count_limit",
                vars::OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
            ),
        ] {
            walk.integer_to(&mut limits, key, var);
        }
        walk.finish(
            limits,
            &[
                "attribute_value_length_limit",
                "attribute_count_limit",
                "event_count_limit",
                "link_count_limit",
                "event_attribute_count_limit",
                "link_attribute_count_limit",
            ],
            &[],
        );
    }
    match provider.take("sampler") {
        Some(entry) if entry.value.value != Value::Null => {
            let path = provider.child("sampler");
            sampler::read(walk, &entry.value, &path, entry.line);
        }
        _ => walk.set(
            vars::OTEL_TRACES_SAMPLER,
            "parentbased_always_on".to_owned(),
            provider.line,
            &provider.child("sampler"),
        ),
    }
    if let Some(mut generator) = walk.child_section(&mut provider, "id_generator") {
        // `random` is what the SDK does; anything else is a plugin ferrotel does not have.
        if generator.take("random").is_none() && generator.is_empty() {
            walk.invalid(
                generator.line,
                &generator.path,
                String::new(),
                "random",
                None,
            );
        }
        walk.finish(generator, &["random"], &[]);
    }
    walk.finish(
        provider,
        &["processors", "limits", "sampler", "id_generator"],
        &["tracer_configurator/development"],
    );
}

/// `meter_provider`, or `none` for its exporters when absent.
pub(crate) fn meter(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut provider) = walk.child_section(root, "meter_provider") else {
        walk.set(
            METRICS.exporter,
            "none".to_owned(),
            1,
            "(no meter_provider)",
        );
        return;
    };
    let mut chosen = Exporters::default();
    let readers_path = provider.child("readers");
    let line = provider.line;
    match walk.child_list(&mut provider, "readers") {
        Some((items, path, _)) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                let Some(entry) = walk.single_key(item, &item_path, &["periodic", "pull"], &[])
                else {
                    continue;
                };
                let reader_path = format!("{item_path}.{}", entry.key);
                let Some(reader) = walk.section(entry, reader_path) else {
                    continue;
                };
                if entry.key == "periodic" {
                    periodic(walk, reader, &mut chosen);
                } else {
                    pull(walk, reader, &mut chosen);
                }
            }
        }
        None => walk.invalid(
            line,
            &readers_path,
            String::new(),
            "a list of readers",
            Some("readers is required".to_owned()),
        ),
    }
    chosen.finish(walk, &METRICS, line, &readers_path);
    walk.text_to(
        &mut provider,
        "exemplar_filter",
        vars::OTEL_METRICS_EXEMPLAR_FILTER,
    );
    super::views::views(walk, &mut provider);
    walk.finish(
        provider,
        &["readers", "exemplar_filter", "views"],
        &["meter_configurator/development"],
    );
}

/// A `periodic` reader: interval, timeout and a push exporter.
fn periodic(walk: &mut Walk<'_>, mut reader: Section<'_>, chosen: &mut Exporters) {
    walk.integer_to(&mut reader, "interval", vars::OTEL_METRIC_EXPORT_INTERVAL);
    walk.integer_to(&mut reader, "timeout", vars::OTEL_METRIC_EXPORT_TIMEOUT);
    match reader.take("exporter") {
        Some(entry) => {
            exporter::exporter(
                walk,
                &entry.value,
                &reader.child("exporter"),
                &METRICS,
                chosen,
                &mut metric_exporter_extras,
            );
        }
        None => walk.invalid(
            reader.line,
            &reader.child("exporter"),
            String::new(),
            "an exporter",
            Some("the exporter is required".to_owned()),
        ),
    }
    super::views::cardinality_limits(walk, &mut reader);
    walk.finish(
        reader,
        &["interval", "timeout", "exporter", "cardinality_limits"],
        &["producers", "max_export_batch_size/development"],
    );
}

/// Temporality and histogram aggregation of the OTLP and console metric exporters.
fn metric_exporter_extras(walk: &mut Walk<'_>, exporter: &mut Section<'_>) {
    if let Some((temporality, line)) = walk.text(exporter, "temporality_preference") {
        let path = exporter.child("temporality_preference");
        // The variable spells `low_memory` without the underscore.
        let value = if temporality == "low_memory" {
            "lowmemory".to_owned()
        } else {
            temporality
        };
        walk.set(
            vars::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
            value,
            line,
            &path,
        );
    }
    walk.text_to(
        exporter,
        "default_histogram_aggregation",
        vars::OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
    );
}

/// A `pull` reader: the Prometheus exporter, served on `host:port`.
fn pull(walk: &mut Walk<'_>, mut reader: Section<'_>, chosen: &mut Exporters) {
    if let Some(entry) = reader.take("exporter") {
        let path = reader.child("exporter");
        let known = ["prometheus/development"];
        if let Some(kind) = walk.single_key(&entry.value, &path, &known, &[]) {
            let prometheus_path = format!("{path}.{}", kind.key);
            if let Some(mut prometheus) = walk.section(kind, prometheus_path) {
                let host = walk.text(&mut prometheus, "host");
                let port = walk.integer(&mut prometheus, "port");
                let host_text = match host.as_ref().map(|(host, _)| host.as_str()) {
                    None | Some("localhost") => "127.0.0.1".to_owned(),
                    Some(host) if host.contains(':') => format!("[{host}]"),
                    Some(host) => host.to_owned(),
                };
                let port = port.map_or(9464, |(port, _)| port);
                walk.set(
                    vars::FERROTEL_METRICS_ADDR,
                    format!("{host_text}:{port}"),
                    kind.line,
                    &prometheus.path.clone(),
                );
                chosen.add("prometheus");
                walk.finish(
                    prometheus,
                    &["host", "port"],
                    &[
                        "scope_info_enabled",
                        "target_info_enabled/development",
                        "resource_constant_labels",
                        "translation_strategy",
                    ],
                );
            }
        }
    }
    super::views::cardinality_limits(walk, &mut reader);
    walk.finish(reader, &["exporter", "cardinality_limits"], &["producers"]);
}

/// `logger_provider`, as the variables of the logs signal (`OTEL_LOGS_EXPORTER`,
/// `OTEL_BLRP_*`, `OTEL_EXPORTER_OTLP_LOGS_*`, `OTEL_LOGRECORD_*`); `none` when absent.
pub(crate) fn logger(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut provider) = walk.child_section(root, "logger_provider") else {
        walk.set(LOGS.exporter, "none".to_owned(), 1, "(no logger_provider)");
        return;
    };
    exporter::processors(
        walk,
        &mut provider,
        &LOGS,
        &["event_to_span_event_bridge/development"],
        false,
    );
    if let Some(mut limits) = walk.child_section(&mut provider, "limits") {
        let [length, count] = LOG_RECORD_LIMITS;
        walk.integer_to(&mut limits, "attribute_value_length_limit", length);
        walk.integer_to(&mut limits, "attribute_count_limit", count);
        walk.finish(
            limits,
            &["attribute_value_length_limit", "attribute_count_limit"],
            &[],
        );
    }
    walk.finish(
        provider,
        &["processors", "limits"],
        &["logger_configurator/development"],
    );
}

/// The logs signal's variable names, for [`LoggerProviderSection`](super::LoggerProviderSection).
pub(crate) fn is_logs_var(var: &str) -> bool {
    var == LOGS.exporter
        || var.starts_with("OTEL_EXPORTER_OTLP_LOGS_")
        || [
            LOG_BATCH.schedule_delay,
            LOG_BATCH.export_timeout,
            LOG_BATCH.max_queue_size,
            LOG_BATCH.max_export_batch_size,
        ]
        .contains(&var)
        || LOG_RECORD_LIMITS.contains(&var)
}
