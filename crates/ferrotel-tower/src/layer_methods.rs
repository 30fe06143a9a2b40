//! The builder methods the server and client layers share, written once.

/// Expands the constructor, the shared setters, `Default` and `tower::Layer` for a layer type
/// with fields `settings: Settings` and `built: Built`. A setter stores a value and forgets
/// what an earlier `layer` built; the shared state is built at the next `layer`.
macro_rules! layer_methods {
    ($layer:ident, $service:ident, $side:expr, $propagator_doc:literal) => {
        impl Default for $layer {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $layer {
            /// A layer on the global tracer, meter, exemplar store and propagator.
            pub fn new() -> Self {
                $layer {
                    settings: $crate::shared::Settings::default(),
                    built: $crate::shared::Built::default(),
                }
            }

            fn set(mut self, f: impl FnOnce(&mut $crate::shared::Settings)) -> Self {
                f(&mut self.settings);
                self.built = $crate::shared::Built::default();
                self
            }

            /// Spans go to this provider instead of the global one.
            pub fn tracer_provider<P>(self, provider: &P) -> Self
            where
                P: opentelemetry::trace::TracerProvider,
                P::Tracer: opentelemetry::trace::Tracer + Send + Sync + 'static,
                <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
            {
                self.set(|s| s.tracer_provider(provider))
            }

            /// Decides sampling with `presampler` before a span is built, so an unsampled
            /// call builds no SDK span. It must be the presampler the tracer provider given to
            /// [`Self::tracer_provider`] was built with (`ferrotel::init()`'s guard sets both);
            /// one the provider does not use is noticed at the first kept span, and the
            /// provider decides alone from then on.
            pub fn presampler(self, presampler: ferrotel_tracer::Presampler) -> Self {
                self.set(|s| s.presampler(presampler))
            }

            /// Metrics go to this provider instead of the global one.
            pub fn meter_provider<M: opentelemetry::metrics::MeterProvider>(
                self,
                provider: &M,
            ) -> Self {
                self.set(|s| s.meter_provider(provider))
            }

            /// Duration samples offer exemplars to this store instead of the global one
            /// (`ferrotel::init()` installs the global store with
            /// `OTEL_METRICS_EXEMPLAR_FILTER`).
            pub fn exemplars(self, exemplars: ferrotel_metrics::Exemplars) -> Self {
                self.set(|s| s.exemplars(exemplars))
            }

            #[doc = $propagator_doc]
            pub fn propagator(
                self,
                propagator: std::sync::Arc<
                    dyn opentelemetry::propagation::TextMapPropagator + Send + Sync,
                >,
            ) -> Self {
                self.set(|s| s.propagator(propagator))
            }

            /// `RpcSemconv::Dup` also emits the pre-1.37 names (`rpc.system`, `rpc.service`,
            /// integer `rpc.grpc.status_code`, `rpc.*.duration` in ms); see
            /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
            pub fn semconv(self, semconv: ferrotel_config::RpcSemconv) -> Self {
                self.set(|s| s.semconv = semconv)
            }

            /// Also skips requests for which `skip` returns `true`.
            pub fn skip(
                self,
                skip: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
            ) -> Self {
                let skip: $crate::shared::SkipFn = std::sync::Arc::new(skip);
                self.set(|s| s.skip = Some(skip))
            }

            /// Instruments health checks and reflection too (skipped by default).
            pub fn include_health_and_reflection(self) -> Self {
                self.set(|s| s.skip_defaults = false)
            }
        }

        impl<S> tower::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service::new(inner, self.built.get_or_build(&self.settings, $side))
            }
        }
    };
}

pub(crate) use layer_methods;
