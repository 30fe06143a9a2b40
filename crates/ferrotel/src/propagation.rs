//! The propagator `OTEL_PROPAGATORS` asks for, composed in the order given. `tracecontext`
//! and `baggage` are ferrotel's W3C Level 2 propagators, not the SDK's.

use ferrotel_config::Propagator;
use ferrotel_propagation::{
    B3Propagator, BaggagePropagator, JaegerPropagator, TraceContextPropagator, XrayPropagator,
};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};

/// One propagator that injects and extracts every configured format. An empty list (the value
/// `none`) gives a propagator that does nothing.
pub(crate) fn composite(choices: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = choices
        .iter()
        .map(|choice| -> Box<dyn TextMapPropagator + Send + Sync> {
            match choice {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(B3Propagator::single()),
                Propagator::B3Multi => Box::new(B3Propagator::multi()),
                Propagator::Jaeger => Box::new(JaegerPropagator::new()),
                Propagator::Xray => Box::new(XrayPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

/// The guard's propagator, shared with the global one so it is built once.
#[derive(Debug)]
pub(crate) struct Shared(pub(crate) std::sync::Arc<TextMapCompositePropagator>);

impl TextMapPropagator for Shared {
    fn inject_context(
        &self,
        cx: &opentelemetry::Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> opentelemetry::Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}
