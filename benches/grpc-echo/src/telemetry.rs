//! The cases and the telemetry each one runs with.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrotel::config::Env;
use ferrotel::opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use ferrotel::opentelemetry::trace::TracerProvider as _;
use ferrotel::opentelemetry_sdk::error::OTelSdkResult;
use ferrotel::opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use ferrotel::propagators::{BaggagePropagator, TraceContextPropagator};
use ferrotel::tower::{ClientLayer, ServerLayer};
use ferrotel::tracer::Presampler;
use ferrotel::Guard;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;

/// Where the spans go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Export {
    /// A batch processor over an exporter that counts the spans and drops them.
    Discard,
    /// ferrotel's OTLP/gRPC pipeline to the receiver process.
    Otlp,
}

/// What instruments the client and the server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// No layers at all.
    Bare,
    /// A fixed `traceparent` sent and parsed, nothing else: the floor (see [`crate::header`]).
    BareHeader,
    /// ferrotel's `ServerLayer` and `ClientLayer`, sampling this fraction of traces.
    Ferrotel { ratio: f64, export: Export },
    /// `tonic-tracing-opentelemetry`'s server and client `OtelGrpcLayer`s, through a `tracing`
    /// subscriber with tracing-opentelemetry's layer, 100% sampled.
    DavidB { export: Export },
}

/// One benchmark case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    /// Short name for `--cases`.
    pub(crate) id: &'static str,
    /// Name in the table.
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

/// Every case, in the order they run.
pub(crate) const CASES: [Case; 10] = [
    Case {
        id: "bare",
        name: "bare tonic (baseline)",
        kind: Kind::Bare,
    },
    Case {
        id: "bare-header",
        name: "bare tonic + traceparent sent and parsed (floor)",
        kind: Kind::BareHeader,
    },
    Case {
        id: "f0-noop",
        name: "ferrotel 0%, no-op export",
        kind: Kind::Ferrotel {
            ratio: 0.0,
            export: Export::Discard,
        },
    },
    Case {
        id: "f1-noop",
        name: "ferrotel 1%, no-op export",
        kind: Kind::Ferrotel {
            ratio: 0.01,
            export: Export::Discard,
        },
    },
    Case {
        id: "f100-noop",
        name: "ferrotel 100%, no-op export",
        kind: Kind::Ferrotel {
            ratio: 1.0,
            export: Export::Discard,
        },
    },
    Case {
        id: "f0-otlp",
        name: "ferrotel 0%, OTLP/gRPC",
        kind: Kind::Ferrotel {
            ratio: 0.0,
            export: Export::Otlp,
        },
    },
    Case {
        id: "f1-otlp",
        name: "ferrotel 1%, OTLP/gRPC",
        kind: Kind::Ferrotel {
            ratio: 0.01,
            export: Export::Otlp,
        },
    },
    Case {
        id: "f100-otlp",
        name: "ferrotel 100%, OTLP/gRPC",
        kind: Kind::Ferrotel {
            ratio: 1.0,
            export: Export::Otlp,
        },
    },
    Case {
        id: "davidb-noop",
        name: "tonic-tracing-opentelemetry 100%, no-op",
        kind: Kind::DavidB {
            export: Export::Discard,
        },
    },
    Case {
        id: "davidb-otlp",
        name: "tonic-tracing-opentelemetry 100%, OTLP/gRPC",
        kind: Kind::DavidB {
            export: Export::Otlp,
        },
    },
];

impl Case {
    /// Whether the case exports to the receiver process.
    pub(crate) fn needs_receiver(&self) -> bool {
        matches!(
            self.kind,
            Kind::Ferrotel {
                export: Export::Otlp,
                ..
            } | Kind::DavidB {
                export: Export::Otlp
            }
        )
    }
}

/// A span exporter that counts what it is given and drops it.
#[derive(Clone, Default)]
struct Discard {
    spans: Arc<AtomicU64>,
}

impl fmt::Debug for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discard")
            .field("spans", &self.spans.load(Ordering::Relaxed))
            .finish()
    }
}

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The tracer provider of a case and what it owns.
pub(crate) enum Provider {
    /// Built here: the sampler, and the SDK's batch processor over [`Discard`].
    Discard {
        provider: SdkTracerProvider,
        spans: Arc<AtomicU64>,
        /// For ferrotel's layers, as `ferrotel::init()` builds its provider: they decide
        /// sampling before building a span.
        presampler: Option<Presampler>,
    },
    /// Built by `ferrotel::builder()` from `OTEL_*` settings, exporting over OTLP/gRPC.
    Otlp(Box<Guard>),
}

impl Provider {
    fn new(
        ratio: f64,
        export: Export,
        endpoint: Option<&str>,
        presample: bool,
    ) -> Result<Provider, String> {
        match export {
            Export::Discard => {
                let exporter = Discard::default();
                let spans = Arc::clone(&exporter.spans);
                // The SDK's batch processor with its defaults, as ferrotel configures it when
                // no OTEL_BSP_* variable is set.
                let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio)));
                let builder = SdkTracerProvider::builder()
                    .with_span_processor(BatchSpanProcessor::builder(exporter).build());
                let (builder, presampler) = if presample {
                    let presampler = Presampler::new(sampler);
                    let builder = builder
                        .with_sampler(presampler.sampler())
                        .with_id_generator(presampler.id_generator());
                    (builder, Some(presampler))
                } else {
                    (builder.with_sampler(sampler), None)
                };
                Ok(Provider::Discard {
                    provider: builder.build(),
                    spans,
                    presampler,
                })
            }
            Export::Otlp => {
                let endpoint = endpoint.ok_or("no receiver endpoint for an OTLP case")?;
                let ratio = ratio.to_string();
                let env = Env::from_pairs([
                    ("OTEL_SERVICE_NAME", "bench-grpc"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", ratio.as_str()),
                    ("OTEL_METRICS_EXPORTER", "none"),
                    ("OTEL_LOG_LEVEL", "warn"),
                ])
                .with_executable_name("ferrotel-bench-grpc");
                let guard = ferrotel::builder()
                    .env(env)
                    .install_subscriber(false)
                    .install_globals(false)
                    .shutdown_timeout(Duration::from_secs(30))
                    .try_init()
                    .map_err(|e| format!("ferrotel init: {e}"))?;
                if guard.providers().tracer_provider().is_none() {
                    return Err("ferrotel built no tracer provider".to_string());
                }
                Ok(Provider::Otlp(Box::new(guard)))
            }
        }
    }

    fn sdk(&self) -> Option<&SdkTracerProvider> {
        match self {
            Provider::Discard { provider, .. } => Some(provider),
            Provider::Otlp(guard) => guard.providers().tracer_provider(),
        }
    }

    /// Flushes and shuts down; says what became of the spans.
    fn finish(self) -> String {
        match self {
            Provider::Discard {
                provider, spans, ..
            } => {
                let flushed = provider.shutdown();
                let n = spans.load(Ordering::Relaxed);
                match flushed {
                    Ok(()) => format!("{n} spans built and discarded"),
                    Err(e) => format!("{n} spans built and discarded; shutdown: {e}"),
                }
            }
            Provider::Otlp(guard) => {
                // Flushed first, so the counts are final rather than a snapshot of the queue.
                let flushed = guard.flush();
                let stats = guard.stats().spans;
                let report = guard.shutdown();
                let after: Vec<String> = stats
                    .iter()
                    .map(|s| {
                        format!(
                            "{} spans queued, {} exported, {} failed, {} dropped (queue full)",
                            s.queued, s.exported, s.failed, s.unaccounted
                        )
                    })
                    .collect();
                let mut note = after.join("; ");
                if !flushed.problems.is_empty() {
                    note.push_str(&format!(" (flush: {})", flushed.problems.join("; ")));
                }
                if !report.problems.is_empty() {
                    note.push_str(&format!(" (shutdown: {})", report.problems.join("; ")));
                }
                note
            }
        }
    }
}

/// `layer` with `presampler` set, when there is one.
fn with_presampler<L>(
    layer: L,
    presampler: &Option<Presampler>,
    set: impl FnOnce(L, Presampler) -> L,
) -> L {
    match presampler {
        Some(p) => set(layer, p.clone()),
        None => layer,
    }
}

/// W3C trace context and baggage, held by ferrotel's layers (no global lock per request).
fn propagator() -> Arc<dyn TextMapPropagator + Send + Sync> {
    Arc::new(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]))
}

/// The telemetry one case runs with.
pub(crate) enum Telemetry {
    /// No layers.
    Bare,
    /// The `traceparent` layer pair of [`crate::header`].
    BareHeader,
    /// ferrotel's layers on this provider.
    Ferrotel(Provider),
    /// davidB's layers, and the `tracing` dispatcher whose OpenTelemetry layer makes the spans.
    DavidB {
        provider: Provider,
        dispatch: tracing::Dispatch,
    },
}

impl Telemetry {
    /// Builds the telemetry of `case`; `endpoint` is the receiver's, for OTLP cases.
    pub(crate) fn new(case: &Case, endpoint: Option<&str>) -> Result<Telemetry, String> {
        match case.kind {
            Kind::Bare => Ok(Telemetry::Bare),
            Kind::BareHeader => Ok(Telemetry::BareHeader),
            Kind::Ferrotel { ratio, export } => Ok(Telemetry::Ferrotel(Provider::new(
                ratio, export, endpoint, true,
            )?)),
            Kind::DavidB { export } => {
                let provider = Provider::new(1.0, export, endpoint, false)?;
                let tracer = provider
                    .sdk()
                    .ok_or("no tracer provider for tonic-tracing-opentelemetry")?
                    .tracer("bench-grpc");
                // davidB's spans are TRACE-level on the `otel::tracing` target; its own
                // `init-tracing-opentelemetry` enables exactly that next to an INFO default,
                // so the h2/hyper/tonic debug and trace callsites stay off.
                let filter = Targets::new()
                    .with_target("otel::tracing", LevelFilter::TRACE)
                    .with_default(LevelFilter::INFO);
                let subscriber = tracing_subscriber::registry()
                    .with(filter)
                    .with(ferrotel::tracing_opentelemetry::layer().with_tracer(tracer));
                Ok(Telemetry::DavidB {
                    provider,
                    dispatch: tracing::Dispatch::new(subscriber),
                })
            }
        }
    }

    /// ferrotel's server layer, on this case's provider: the guard's for the OTLP cases. The
    /// no-op cases share one bare SDK provider with davidB's no-op case, which a guard cannot
    /// take, so their layers are set up by hand as the guard would (provider, presampler).
    pub(crate) fn ferrotel_server(&self) -> Option<ServerLayer> {
        match self {
            Telemetry::Ferrotel(Provider::Otlp(guard)) => Some(guard.server_layer()),
            Telemetry::Ferrotel(Provider::Discard {
                provider,
                presampler,
                ..
            }) => Some(with_presampler(
                ServerLayer::new()
                    .tracer_provider(provider)
                    .propagator(propagator()),
                presampler,
                ServerLayer::presampler,
            )),
            _ => None,
        }
    }

    /// ferrotel's client layer for `target`, on this case's provider.
    pub(crate) fn ferrotel_client(&self, target: &http::Uri) -> Option<ClientLayer> {
        match self {
            Telemetry::Ferrotel(Provider::Otlp(guard)) => Some(guard.client_layer(target)),
            Telemetry::Ferrotel(Provider::Discard {
                provider,
                presampler,
                ..
            }) => Some(with_presampler(
                ClientLayer::new()
                    .target(target)
                    .tracer_provider(provider)
                    .propagator(propagator()),
                presampler,
                ClientLayer::presampler,
            )),
            _ => None,
        }
    }

    /// The dispatcher the runtime's threads must use, if any.
    pub(crate) fn dispatch(&self) -> Option<&tracing::Dispatch> {
        match self {
            Telemetry::DavidB { dispatch, .. } => Some(dispatch),
            _ => None,
        }
    }

    /// Flushes and shuts down; says what became of the spans.
    pub(crate) fn finish(self) -> String {
        match self {
            Telemetry::Bare | Telemetry::BareHeader => String::new(),
            Telemetry::Ferrotel(provider) => provider.finish(),
            Telemetry::DavidB { provider, dispatch } => {
                drop(dispatch);
                provider.finish()
            }
        }
    }
}
