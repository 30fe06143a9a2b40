//! The `tracing` subscriber ferrotel installs: one filter, the OpenTelemetry span layer, the
//! log line layer (text or JSON, with the trace and span ids) and the bridge that turns events
//! into OpenTelemetry log records.

mod fields;
mod format;
mod json;

pub use format::RUST_LOG;

use std::sync::Arc;

use ferrotel_config::redact::Redactor;
use ferrotel_config::{Config, Env};
use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer as _, Registry};

use crate::pipelines::Pipelines;
use format::{DispatchCell, FilterSpec, Traced};

/// Builds the subscriber over `pipelines`, writing log lines to `writer` (stdout when `None`).
/// Problems worth a warning are added to `notes`.
pub(crate) fn build(
    env: &Env,
    config: &Config,
    pipelines: &Pipelines,
    writer: Option<BoxMakeWriter>,
    notes: &mut Vec<String>,
) -> tracing::Dispatch {
    let (filter, filter_note) = FilterSpec::read(env, config.log_level.as_str());
    notes.extend(filter_note);
    let cell = DispatchCell::default();
    let writer = writer.unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout));
    let writer = format::scrubbing(writer, Redactor::from_config(config));
    // With the SDK disabled nothing needs spans, so the log layer takes events only: every
    // span callsite is then never enabled, and instrumentation costs next to nothing.
    // (An absent layer must not even be an `Option` layer: `None` still asks for spans.)
    let events_only = config.sdk_disabled;
    let dispatch = match &pipelines.tracer_provider {
        Some(provider) => {
            // One filter in front of every layer, rather than a copy per layer: each per-layer
            // filter costs the registry its bookkeeping on every span, and each `EnvFilter` a
            // lock and a lookup at every span's creation, enter, exit and close. Every layer
            // here took the same directives, so the admitted spans and events are the same.
            // The span layer needs it: without a filter every span of h2, hyper and tower
            // (TRACE and DEBUG level) would be exported, flooding the queue.
            let spans = span_layer(provider);
            let fmt = format::fmt_layer::<Traced>(
                config.log_format,
                &config.service_name,
                Arc::clone(&cell),
                writer,
            );
            // The logs signal: every event the filter admits, as an OpenTelemetry log record
            // (the appender reads the ids from the context of the entered span; it does
            // nothing with spans).
            let records = pipelines
                .logger_provider
                .as_ref()
                .map(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new);
            tracing::Dispatch::new(
                tracing_subscriber::registry()
                    .with(filter.global())
                    .with(spans)
                    .with(fmt)
                    .with(records),
            )
        }
        None => {
            let fmt = format::fmt_layer::<Registry>(
                config.log_format,
                &config.service_name,
                Arc::clone(&cell),
                writer,
            );
            let lines = format::log_filter(filter.build(), events_only);
            tracing::Dispatch::new(tracing_subscriber::registry().with(fmt.with_filter(lines)))
        }
    };
    let _ = cell.set(dispatch.downgrade());
    dispatch
}

/// The OpenTelemetry span layer on `provider`. busy_ns/idle_ns, thread and target attributes
/// are not semantic conventions and cost a clock read or an allocation per span; `code.*`
/// locations stay.
pub(crate) fn span_layer<S>(
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, crate::tracer::Level2Tracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_target(false)
        .with_tracer(crate::tracer::Level2Tracer::new(
            provider.tracer_with_scope(crate::tracer::scope("ferrotel")),
        ))
}
