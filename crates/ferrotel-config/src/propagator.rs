//! Context propagators, from [`OTEL_PROPAGATORS`](crate::vars::OTEL_PROPAGATORS).

use crate::parse::keyword_enum;

keyword_enum! {
    /// A context propagator ferrotel can install.
    ///
    /// The specification also knows `xray` and `ottrace`; ferrotel does not support them, so they
    /// are reported and dropped (see [`UNSUPPORTED_PROPAGATORS`]).
    pub enum Propagator {
        /// `tracecontext`: W3C Trace Context (`traceparent`, `tracestate`).
        #[default]
        TraceContext => "tracecontext",
        /// `baggage`: W3C Baggage.
        Baggage => "baggage",
        /// `b3`: B3 single header.
        B3 => "b3",
        /// `b3multi`: B3 multiple headers.
        B3Multi => "b3multi",
        /// `jaeger`: `uber-trace-id`.
        Jaeger => "jaeger",
    }
}

/// Propagator names the specification defines but ferrotel does not implement.
pub const UNSUPPORTED_PROPAGATORS: &[&str] = &["xray", "ottrace"];

/// The default list: `tracecontext,baggage`.
pub fn default_propagators() -> Vec<Propagator> {
    vec![Propagator::TraceContext, Propagator::Baggage]
}
