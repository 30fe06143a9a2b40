use std::sync::Arc;

use ferrotel_config::RpcSemconv;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Tracer, TracerProvider};
use tower::Layer;

use super::ServerService;
use crate::shared::{Settings, Shared, Side, SkipFn, Trust};

/// Instruments a gRPC (tonic) or HTTP server: `Server::builder().layer(ServerLayer::new())`.
///
/// Per request it extracts the caller's context with the configured propagator (by default the
/// global one `ferrotel::init()` installed), opens a SERVER span named and attributed per the
/// RPC or HTTP semantic conventions, runs the handler with that span current, and ends the span
/// and records `rpc.server.call.duration` (or `http.server.request.duration`) when the response
/// body ends, with the status from the trailers. Health checks and reflection are skipped.
///
/// Tracer and meter are taken from the OpenTelemetry globals when the layer is built, unless set
/// with [`ServerLayer::tracer_provider`] / [`ServerLayer::meter_provider`]: build layers after
/// `ferrotel::init()`.
#[derive(Clone, Debug)]
pub struct ServerLayer {
    shared: Arc<Shared>,
    settings: Settings,
}

impl Default for ServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerLayer {
    /// A layer on the global tracer, meter and propagator, trusting callers' context.
    pub fn new() -> Self {
        let settings = Settings::default();
        ServerLayer {
            shared: settings.build(Side::Server),
            settings,
        }
    }

    fn rebuild(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.settings);
        self.shared = self.settings.build(Side::Server);
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

    /// Extracts with this propagator instead of the global one.
    pub fn propagator(self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) -> Self {
        self.rebuild(|s| s.propagator(propagator))
    }

    /// `RpcSemconv::Dup` also emits the pre-1.37 names (`rpc.system`, `rpc.service`, integer
    /// `rpc.grpc.status_code`, `rpc.server.duration` in ms); see `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn semconv(self, semconv: RpcSemconv) -> Self {
        self.rebuild(|s| s.semconv = semconv)
    }

    /// How far to trust callers; [`Trust::Untrusted`] for public endpoints.
    pub fn trust(self, trust: Trust) -> Self {
        self.rebuild(|s| s.trust = trust)
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

impl<S> Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerService::new(inner, Arc::clone(&self.shared))
    }
}
