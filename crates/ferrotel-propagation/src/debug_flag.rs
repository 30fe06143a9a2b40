//! The B3 / Jaeger *debug* flag, carried in the [`Context`].
//!
//! Both formats can mark a request as *debug*: sample it and keep it whatever the sampler says.
//! OpenTelemetry's [`TraceFlags`](opentelemetry::trace::TraceFlags) have no such bit (W3C gives
//! `0x02` another meaning), so — like the Java and Go propagators — the flag travels as a
//! context value next to the span. Extraction sets it, injection reads it, and because child
//! contexts inherit their parent's values it reaches the outgoing requests of the same trace.

use opentelemetry::Context;

/// Context value holding the debug flag of the last successful extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DebugFlag(bool);

mod private {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
    impl Sealed for opentelemetry::Context {}
}

/// Reads and sets the B3 / Jaeger debug flag on a [`Context`].
///
/// [`B3Propagator`](crate::B3Propagator) and [`JaegerPropagator`](crate::JaegerPropagator) set
/// it on extraction and honour it on injection (B3 `d` / `X-B3-Flags: 1`, Jaeger flag `0x02`).
/// A debug request is always sampled.
///
/// ```
/// use ferrotel_propagation::DebugFlagExt;
/// use opentelemetry::Context;
///
/// let cx = Context::new().with_debug_flag(true);
/// assert!(cx.debug_flag());
/// assert!(!Context::new().debug_flag());
/// ```
pub trait DebugFlagExt: private::Sealed {
    /// Returns a copy of this context with the debug flag set to `debug`.
    fn with_debug_flag(&self, debug: bool) -> Self;

    /// Whether the debug flag is set (`false` when it was never set).
    fn debug_flag(&self) -> bool;
}

impl DebugFlagExt for Context {
    fn with_debug_flag(&self, debug: bool) -> Self {
        self.with_value(DebugFlag(debug))
    }

    fn debug_flag(&self) -> bool {
        self.get::<DebugFlag>().is_some_and(|flag| flag.0)
    }
}
