use std::sync::Arc;

use ferrotel_config::RpcSemconv;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Tracer, TracerProvider};
use tower::Layer;

use super::ClientService;
use crate::shared::{Settings, Shared, Side, SkipFn};

/// Instruments a gRPC (tonic) or HTTP client:
/// `ServiceBuilder::new().layer(ClientLayer::new().target(&uri)).service(channel)`.
///
/// Per request it opens a CLIENT span under the current context (so it is a child of whatever
/// span the caller is in), injects that context (traceparent, tracestate, baggage) into the
/// request headers with the configured propagator (by default the global one), and ends the span
/// and records `rpc.client.call.duration` (or `http.client.request.duration`) when the response
/// body ends, with the status from the trailers. Every non-OK gRPC status is an error here.
///
/// Tracer and meter are taken from the OpenTelemetry globals when the layer is built, unless set
/// with [`ClientLayer::tracer_provider`] / [`ClientLayer::meter_provider`]: build layers after
/// `ferrotel::init()`.
#[derive(Clone, Debug)]
pub struct ClientLayer {
    shared: Arc<Shared>,
    settings: Settings,
}

impl Default for ClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientLayer {
    /// A layer on the global tracer, meter and propagator.
    pub fn new() -> Self {
        let settings = Settings::default();
        ClientLayer {
            shared: settings.build(Side::Client),
            settings,
        }
    }

    fn rebuild(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.settings);
        self.shared = self.settings.build(Side::Client);
        self
    }

    /// Spans go to this provider instead of the global one.
    pub fn tracer_provider<P>(self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Tracer + Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        self.rebuild(|s| s.tracer_provider(provider))
    }

    /// Duration samples offer exemplars to this store instead of the global one
    /// (`ferrotel::init()` installs the global store with `OTEL_METRICS_EXEMPLAR_FILTER`).
    pub fn exemplars(self, exemplars: ferrotel_metrics::Exemplars) -> Self {
        self.rebuild(|s| s.exemplars(exemplars))
    }

    /// Metrics go to this provider instead of the global one.
    pub fn meter_provider<M: MeterProvider>(self, provider: &M) -> Self {
        self.rebuild(|s| s.meter_provider(provider))
    }

    /// Injects with this propagator instead of the global one.
    pub fn propagator(self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) -> Self {
        self.rebuild(|s| s.propagator(propagator))
    }

    /// `RpcSemconv::Dup` also emits the pre-1.37 names (`rpc.system`, `rpc.service`, integer
    /// `rpc.grpc.status_code`, `rpc.client.duration` in ms); see `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn semconv(self, semconv: RpcSemconv) -> Self {
        self.rebuild(|s| s.semconv = semconv)
    }

    /// The server this client talks to (the channel's URI); gives `server.address` and
    /// `server.port`, which a tonic channel does not put on the request.
    pub fn target(self, target: &http::Uri) -> Self {
        let target = target.clone();
        self.rebuild(|s| s.target = Some(target))
    }

    /// Also skips requests for which `skip` returns `true`.
    pub fn skip(
        self,
        skip: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        let skip: SkipFn = Arc::new(skip);
        self.rebuild(|s| s.skip = Some(skip))
    }

    /// Instruments health checks and reflection too (skipped by default).
    pub fn include_health_and_reflection(self) -> Self {
        self.rebuild(|s| s.skip_defaults = false)
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService::new(inner, Arc::clone(&self.shared))
    }
}
