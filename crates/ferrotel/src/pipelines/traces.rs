//! The trace pipeline: sampler, span limits, batch processor and exporters, from the config.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_config::{Config, OtlpConfig, Sampler as SamplerConfig, TracesExporter};
use ferrotel_otlp::{
    BatchSignal, LossReporter, OtlpSpanExporter, PipelineCounters, RuntimeHttpClient,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, ParentBasedSampler, Sampler, SdkTracerProvider,
    ShouldSample, SimpleSpanProcessor, Span, SpanData, SpanExporter, SpanLimits, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;

use ferrotel_tracer::{Presampler, RuleSampler};

use super::Pipeline;
use crate::error::InitError;

/// Builds the tracer provider and the counters of each of its pipelines. Must run inside the
/// export runtime's context.
pub(crate) fn tracer_provider(
    config: &Config,
    resource: Resource,
    handle: &Handle,
    reporter: &Arc<LossReporter>,
) -> Result<(SdkTracerProvider, Presampler, Vec<Pipeline>), InitError> {
    let mut pipelines = Vec::new();
    let configured = sampler(&config.sampler, config, handle)?;
    // FERROTEL_SAMPLING_RULES take the configured sampler's place for the roots they match.
    // Always a rule sampler, even with no rules: the quiet roots (Raft heartbeats) start no
    // trace unless a rule names them.
    let presampler = Presampler::new(RuleSampler::new(&config.ops.sampling_rules, configured));
    // The Tower layers and ferrotel-ops' instruments decide with the same sampler before
    // they build a span (Guard::server_layer, client_layer, ops).
    let builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(presampler.sampler())
        .with_id_generator(presampler.id_generator());
    let mut builder = builder.with_span_limits(span_limits(config));
    for choice in &config.traces_exporter {
        let batch = &config.batch;
        // One set of counters per pipeline: the exporter counts rejected spans into the same
        // set the processor admits spans into.
        let (name, otlp) = match choice {
            TracesExporter::Otlp => ("otlp", true),
            TracesExporter::Console => ("console", false),
        };
        let pipeline = Pipeline::new(BatchSignal::Spans, name, batch, config, reporter);
        let exporter = if otlp {
            AnySpanExporter::Otlp(Box::new(OtlpSpanExporter::new(
                &config.traces_otlp,
                handle,
                Arc::clone(&pipeline.counters),
            )?))
        } else {
            AnySpanExporter::Console(opentelemetry_stdout::SpanExporter::default())
        };
        let batch_config = BatchConfigBuilder::default()
            .with_max_queue_size(batch.max_queue_size)
            .with_max_export_batch_size(batch.max_export_batch_size)
            .with_scheduled_delay(batch.schedule_delay)
            .build();
        let exporter = pipeline.on_runtime(exporter, handle, batch);
        // A configuration file's `simple` processor exports each span as it ends.
        let simple = config.simple_span_exporters.contains(choice);
        let inner: Box<dyn SpanProcessor> = if simple {
            Box::new(SimpleSpanProcessor::new(exporter))
        } else {
            Box::new(BatchSpanProcessor::new(exporter, batch_config))
        };
        builder = builder.with_span_processor(Counted {
            inner,
            simple,
            counters: Arc::clone(&pipeline.counters),
            value_length_limit: config.limits.span_attribute_value_length,
            shut_down: AtomicBool::new(false),
        });
        pipelines.push(pipeline);
    }
    Ok((builder.build(), presampler, pipelines))
}

/// Admits spans into a batch processor and counts them ([`PipelineCounters::admit`]): a span
/// that would not fit in the queue is refused and counted here, so the SDK's processor, whose
/// channel holds as many spans as the queue, never drops one silently. Also applies the
/// attribute value length limit the SDK lacks.
#[derive(Debug)]
struct Counted {
    inner: Box<dyn SpanProcessor>,
    /// A simple processor waits for each export where the span ends: never on the export
    /// runtime's own thread, which would wait for itself.
    simple: bool,
    counters: Arc<PipelineCounters>,
    value_length_limit: Option<usize>,
    shut_down: AtomicBool,
}

impl SpanProcessor for Counted {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if span.parent_span_id == opentelemetry::trace::SpanId::INVALID {
            // A root: its trace id came from the random generator (see `tracer.rs`).
            span.span_context = crate::tracer::with_random_flag(&span.span_context, true);
        }
        if !self.counters.admit(self.shut_down.load(Ordering::Acquire)) {
            return;
        }
        if let Some(limit) = self.value_length_limit {
            super::limits::truncate_span(&mut span, limit);
        }
        if self.simple && ferrotel_otlp::on_export_thread() {
            self.counters.fail_admitted(
                "a span that ends on ferrotel's export thread is not exported by a simple \
                 processor"
                    .to_owned(),
            );
            return;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn span_limits(config: &Config) -> SpanLimits {
    let limits = &config.limits;
    SpanLimits {
        max_attributes_per_span: saturate(limits.span_attribute_count),
        max_events_per_span: saturate(limits.span_event_count),
        max_links_per_span: saturate(limits.span_link_count),
        max_attributes_per_event: saturate(limits.event_attribute_count),
        max_attributes_per_link: saturate(limits.link_attribute_count),
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn sampler(
    choice: &SamplerConfig,
    config: &Config,
    handle: &Handle,
) -> Result<Box<dyn ShouldSample>, InitError> {
    Ok(match choice {
        SamplerConfig::AlwaysOn => Box::new(Sampler::AlwaysOn),
        SamplerConfig::AlwaysOff => Box::new(Sampler::AlwaysOff),
        SamplerConfig::TraceIdRatio(ratio) => Box::new(Sampler::TraceIdRatioBased(*ratio)),
        SamplerConfig::ParentBased(root) => {
            Box::new(Sampler::ParentBased(sampler(root, config, handle)?))
        }
        SamplerConfig::ParentBasedWith(samplers) => {
            let part = |choice| sampler(choice, config, handle);
            Box::new(
                ParentBasedSampler::new(part(&samplers.root)?)
                    .with_remote_parent_sampled(part(&samplers.remote_parent_sampled)?)
                    .with_remote_parent_not_sampled(part(&samplers.remote_parent_not_sampled)?)
                    .with_local_parent_sampled(part(&samplers.local_parent_sampled)?)
                    .with_local_parent_not_sampled(part(&samplers.local_parent_not_sampled)?),
            )
        }
        SamplerConfig::JaegerRemote {
            endpoint,
            polling_interval,
            initial_sampling_rate,
            parent_based,
        } => {
            let remote = jaeger_remote(
                endpoint,
                *polling_interval,
                *initial_sampling_rate,
                config,
                handle,
            )?;
            if *parent_based {
                Box::new(Sampler::ParentBased(Box::new(remote)))
            } else {
                Box::new(remote)
            }
        }
    })
}

/// The Jaeger remote sampler polls its endpoint on the export runtime and samples with
/// `initial_sampling_rate` until the first strategy arrives.
fn jaeger_remote(
    endpoint: &str,
    polling_interval: Duration,
    initial_sampling_rate: f64,
    config: &Config,
    handle: &Handle,
) -> Result<Sampler, InitError> {
    let plain = OtlpConfig {
        timeout: Some(Duration::from_secs(10)),
        ..config.traces_otlp.clone()
    };
    let client = RuntimeHttpClient::new(&plain, handle.clone())?;
    Sampler::jaeger_remote(
        opentelemetry_sdk::runtime::Tokio,
        JaegerStrategyClient(client),
        Sampler::TraceIdRatioBased(initial_sampling_rate),
        config.service_name.clone(),
    )
    .with_endpoint(endpoint)
    .with_update_interval(polling_interval)
    .build()
    .map_err(|e| {
        InitError::setup(format!(
            "OTEL_TRACES_SAMPLER=jaeger_remote with endpoint {endpoint}: {e}"
        ))
    })
}

/// The remote sampler's HTTP client, with Jaeger's answer made readable by opentelemetry_sdk.
///
/// Jaeger (v2.13 `remote_sampling`, both `/sampling` and `/api/sampling`) writes the strategy
/// enums as numbers (`"strategyType":0`), while opentelemetry_sdk 0.33.1 only parses the names
/// (`"PROBABILISTIC"`), fails on every poll and keeps the initial sampler forever. Found by
/// examples/tests/jaeger_remote_sampling.rs against the real Jaeger.
#[derive(Debug)]
struct JaegerStrategyClient(RuntimeHttpClient);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for JaegerStrategyClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let response = self.0.send_bytes(request).await?;
        let (parts, body) = response.into_parts();
        Ok(http::Response::from_parts(parts, name_strategy_enums(body)))
    }
}

/// Rewrites a numeric `strategyType` (0 probabilistic, 1 rate limiting) to its name; any other
/// body is returned as it came.
fn name_strategy_enums(body: bytes::Bytes) -> bytes::Bytes {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let name = match json.get("strategyType").and_then(serde_json::Value::as_u64) {
        Some(0) => "PROBABILISTIC",
        Some(1) => "RATE_LIMITING",
        _ => return body,
    };
    json["strategyType"] = serde_json::Value::String(name.to_owned());
    serde_json::to_vec(&json).map_or(body, bytes::Bytes::from)
}

#[cfg(test)]
mod strategy_tests {
    use super::name_strategy_enums;

    #[test]
    fn numeric_strategy_types_get_their_names() {
        let named = name_strategy_enums(
            r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":0.5}}"#.into(),
        );
        let json: serde_json::Value = serde_json::from_slice(&named).unwrap_or_default();
        assert_eq!(json["strategyType"], "PROBABILISTIC");
        assert_eq!(json["probabilisticSampling"]["samplingRate"], 0.5);
        let named = name_strategy_enums(r#"{"strategyType":"RATE_LIMITING"}"#.into());
        assert_eq!(&named[..], br#"{"strategyType":"RATE_LIMITING"}"#);
        assert_eq!(&name_strategy_enums("not json".into())[..], b"not json");
    }
}

/// The exporters ferrotel can put behind a batch processor.
#[derive(Debug)]
enum AnySpanExporter {
    Otlp(Box<OtlpSpanExporter>),
    Console(opentelemetry_stdout::SpanExporter),
}

impl SpanExporter for AnySpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            AnySpanExporter::Otlp(e) => e.export(batch).await,
            AnySpanExporter::Console(e) => e.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            AnySpanExporter::Otlp(e) => e.shutdown_with_timeout(timeout),
            AnySpanExporter::Console(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            AnySpanExporter::Otlp(e) => e.force_flush(),
            AnySpanExporter::Console(e) => e.force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            AnySpanExporter::Otlp(e) => e.set_resource(resource),
            AnySpanExporter::Console(e) => e.set_resource(resource),
        }
    }
}
