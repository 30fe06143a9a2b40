//! Context propagators, from [`OTEL_PROPAGATORS`](crate::vars::OTEL_PROPAGATORS).

use crate::parse::keyword_enum;

keyword_enum! {
    /// A context propagator ferrotel can install.
    ///
    /// The specification also knows `ottrace`; ferrotel does not support it, so it is reported
    /// and dropped (see [`UNSUPPORTED_PROPAGATORS`]).
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
        /// `xray`: AWS X-Ray's `X-Amzn-Trace-Id`.
        Xray => "xray",
    }
}

/// Propagator names the specification defines but ferrotel does not implement.
pub const UNSUPPORTED_PROPAGATORS: &[&str] = &["ottrace"];

/// The default list: `tracecontext,baggage`.
pub fn default_propagators() -> Vec<Propagator> {
    vec![Propagator::TraceContext, Propagator::Baggage]
}
