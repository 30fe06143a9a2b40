//! What a layer and its services share: tracer, meter instruments, propagator and policies.
//! Built once per layer, at its first `Layer::layer`; every request reads it through an `Arc`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use ferrotel_config::RpcSemconv;
use ferrotel_metrics::{Exemplars, Histogram};
use ferrotel_tracer::Presampler;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope};

use crate::carrier::{HeaderExtractor, HeaderInjector};
use crate::semconv;

/// Which side of a call a layer instruments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// How far a server trusts what callers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trust {
    /// Continue the caller's trace and keep its baggage (the default: internal services).
    #[default]
    Trusted,
    /// Public endpoints: start a new trace whose root links to the caller's context, and drop
    /// the caller's baggage, so outsiders can neither steer sampling nor inject baggage.
    Untrusted,
}

/// A predicate on the request head: `true` means "do not instrument this request".
pub type SkipFn = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

/// The route a server request matched, such as `/volumes/{id}` (`http.route`), read from its
/// URI and extensions; `None` when the request matched none. It must name the route's
/// template, never the raw path: it becomes a metric attribute.
pub type RouteFn =
    Arc<dyn for<'a> Fn(&'a http::Uri, &'a http::Extensions) -> Option<&'a str> + Send + Sync>;

/// gRPC health checks and reflection are skipped unless asked otherwise.
pub(crate) const DEFAULT_SKIPPED_SERVICES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The duration histograms of one side.
/// They are built through the exemplar store, so every duration sample can carry the trace
/// behind it.
pub(crate) struct Instruments {
    pub(crate) rpc: Histogram,
    pub(crate) http: Histogram,
    /// The old millisecond metric, only with `rpc/dup`.
    pub(crate) rpc_old_ms: Option<Histogram>,
}

impl Instruments {
    fn new(meter: &Meter, exemplars: &Exemplars, side: Side, semconv: RpcSemconv) -> Self {
        let (rpc, http, old) = match side {
            Side::Server => (
                semconv::RPC_SERVER_CALL_DURATION,
                semconv::HTTP_SERVER_REQUEST_DURATION,
                semconv::RPC_SERVER_DURATION_OLD,
            ),
            Side::Client => (
                semconv::RPC_CLIENT_CALL_DURATION,
                semconv::HTTP_CLIENT_REQUEST_DURATION,
                semconv::RPC_CLIENT_DURATION_OLD,
            ),
        };
        let seconds = |name: &'static str, description: &'static str| {
            exemplars
                .f64_histogram(meter, name)
                .with_scope(SCOPE)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(semconv::DURATION_BUCKETS.to_vec())
                .build()
        };
        Instruments {
            rpc: seconds(
                rpc,
                "Duration of RPCs, measured until the last response frame.",
            ),
            http: seconds(
                http,
                "Duration of HTTP requests, until the response body ends.",
            ),
            rpc_old_ms: (semconv == RpcSemconv::Dup).then(|| {
                exemplars
                    .f64_histogram(meter, old)
                    .with_scope(SCOPE)
                    .with_unit("ms")
                    .with_description("Duration of RPCs (pre-1.37 semantic conventions).")
                    .with_boundaries(semconv::DURATION_BUCKETS_MS.to_vec())
                    .build()
            }),
        }
    }
}

/// Everything a request needs from its layer.
pub(crate) struct Shared {
    pub(crate) side: Side,
    pub(crate) tracer: Arc<BoxedTracer>,
    /// Decides before a span is built; set with the provider the tracer comes from.
    pub(crate) presampler: Option<Presampler>,
    pub(crate) propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) instruments: Instruments,
    pub(crate) semconv: RpcSemconv,
    pub(crate) trust: Trust,
    pub(crate) skip_defaults: bool,
    pub(crate) skip: Option<SkipFn>,
    pub(crate) route: Option<RouteFn>,
    pub(crate) target: Option<http::Uri>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("side", &self.side)
            .field("semconv", &self.semconv)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Whether a request is left alone.
    pub(crate) fn skips<B>(&self, request: &http::Request<B>) -> bool {
        let path = request.uri().path();
        if self.skip_defaults && DEFAULT_SKIPPED_SERVICES.iter().any(|p| path.starts_with(p)) {
            return true;
        }
        match &self.skip {
            None => false,
            Some(skip) => {
                // The predicate sees the head only; rebuild a parts view without the body.
                let mut head = http::Request::builder()
                    .method(request.method().clone())
                    .uri(request.uri().clone())
                    .version(request.version())
                    .body(())
                    .map(|r| r.into_parts().0)
                    .unwrap_or_else(|_| http::Request::new(()).into_parts().0);
                head.headers = request.headers().clone();
                skip(&head)
            }
        }
    }

    /// The route of a server request, interned (bounded: past the bound it is owned).
    pub(crate) fn route<B>(&self, request: &http::Request<B>) -> Option<Cow<'static, str>> {
        let route = match &self.route {
            Some(route) => route(request.uri(), request.extensions()),
            None => matched_path(request.extensions()),
        }?;
        Some(crate::intern::NAMES.get(route))
    }

    pub(crate) fn extract(&self, headers: &http::HeaderMap) -> Context {
        let extractor = HeaderExtractor(headers);
        match &self.propagator {
            Some(p) => p.extract_with_context(&Context::new(), &extractor),
            None => global::get_text_map_propagator(|p| {
                p.extract_with_context(&Context::new(), &extractor)
            }),
        }
    }

    pub(crate) fn inject(&self, cx: &Context, headers: &mut http::HeaderMap) {
        let mut injector = HeaderInjector(headers);
        match &self.propagator {
            Some(p) => p.inject_context(cx, &mut injector),
            None => global::get_text_map_propagator(|p| p.inject_context(cx, &mut injector)),
        }
    }
}

/// The route axum's router matched, when the `axum` feature is on.
#[cfg(feature = "axum")]
fn matched_path(extensions: &http::Extensions) -> Option<&str> {
    extensions
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_path(_: &http::Extensions) -> Option<&str> {
    None
}

/// The settings both layers share: plain values, stored by the setters. Nothing is built
/// from them until [`Built::get_or_build`] runs, at the layer's first `Layer::layer`.
#[derive(Clone)]
pub(crate) struct Settings {
    tracer: Option<Arc<BoxedTracer>>,
    presampler: Option<Presampler>,
    meter: Option<Meter>,
    exemplars: Option<Exemplars>,
    propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) semconv: RpcSemconv,
    pub(crate) trust: Trust,
    pub(crate) skip_defaults: bool,
    pub(crate) skip: Option<SkipFn>,
    pub(crate) route: Option<RouteFn>,
    pub(crate) target: Option<http::Uri>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tracer: None,
            presampler: None,
            meter: None,
            exemplars: None,
            propagator: None,
            semconv: RpcSemconv::Stable,
            trust: Trust::Trusted,
            skip_defaults: true,
            skip: None,
            route: None,
            target: None,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("semconv", &self.semconv)
            .field("trust", &self.trust)
            .field("skip_defaults", &self.skip_defaults)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The state a layer builds from its settings, once: the first `Layer::layer` builds it and
/// every later call (and every clone of the layer made before a setter ran) shares it, so a
/// layer registers its instruments once whatever number of services it wraps.
#[derive(Clone, Default)]
pub(crate) struct Built(Arc<OnceLock<Arc<Shared>>>);

impl Built {
    /// The shared state of `settings`, built now if this is the first call.
    pub(crate) fn get_or_build(&self, settings: &Settings, side: Side) -> Arc<Shared> {
        Arc::clone(self.0.get_or_init(|| settings.build(side)))
    }
}

impl fmt::Debug for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Built")
            .field(&self.0.get().is_some())
            .finish()
    }
}

/// The instrumentation scope of every span and metric the layers make.
const SCOPE: &str = "ferrotel-tower";

fn scope() -> InstrumentationScope {
    ferrotel_tracer::scope(SCOPE)
}

impl Settings {
    pub(crate) fn tracer_provider<P>(&mut self, provider: &P)
    where
        P: TracerProvider,
        P::Tracer: Tracer + Send + Sync + 'static,
        <P::Tracer as Tracer>::Span: Send + Sync + 'static,
    {
        let tracer = provider.tracer_with_scope(scope());
        self.tracer = Some(Arc::new(BoxedTracer::new(Box::new(tracer))));
    }

    pub(crate) fn presampler(&mut self, presampler: Presampler) {
        self.presampler = Some(presampler);
    }

    pub(crate) fn meter_provider<M: MeterProvider>(&mut self, provider: &M) {
        self.meter = Some(provider.meter_with_scope(scope()));
    }

    pub(crate) fn exemplars(&mut self, exemplars: Exemplars) {
        self.exemplars = Some(exemplars);
    }

    pub(crate) fn propagator(&mut self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) {
        self.propagator = Some(propagator);
    }

    /// Builds the shared state; the globals are read now for what was not set.
    fn build(&self, side: Side) -> Arc<Shared> {
        let tracer = match &self.tracer {
            Some(t) => Arc::clone(t),
            None => Arc::new(global::tracer_provider().tracer_with_scope(scope())),
        };
        let meter = self
            .meter
            .clone()
            .unwrap_or_else(|| global::meter_with_scope(scope()));
        let exemplars = self.exemplars.clone().unwrap_or_else(Exemplars::global);
        Arc::new(Shared {
            side,
            tracer,
            presampler: self.presampler.clone(),
            propagator: self.propagator.clone(),
            instruments: Instruments::new(&meter, &exemplars, side, self.semconv),
            semconv: self.semconv,
            trust: self.trust,
            skip_defaults: self.skip_defaults,
            skip: self.skip.clone(),
            route: self.route.clone(),
            target: self.target.clone(),
        })
    }
}
