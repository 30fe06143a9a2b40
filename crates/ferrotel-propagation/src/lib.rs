//! B3 and Jaeger context propagation for OpenTelemetry.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use ferrotel_propagation::{B3Propagator, JaegerPropagator};
//! use opentelemetry::propagation::TextMapPropagator;
//! use opentelemetry::trace::{
//!     SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
//! };
//! use opentelemetry::Context;
//!
//! // A context carrying the span of an outgoing request.
//! let span_context = SpanContext::new(
//!     TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
//!     SpanId::from(0x00f0_67aa_0ba9_02b7),
//!     TraceFlags::SAMPLED,
//!     false,
//!     TraceState::NONE,
//! );
//! let cx = Context::new().with_remote_span_context(span_context);
//!
//! for propagator in [
//!     Box::new(B3Propagator::single()) as Box<dyn TextMapPropagator + Send + Sync>,
//!     Box::new(B3Propagator::multi()),
//!     Box::new(JaegerPropagator::new()),
//! ] {
//!     // Client side: write the headers.
//!     let mut headers = HashMap::new();
//!     propagator.inject_context(&cx, &mut headers);
//!
//!     // Server side: read them back into a remote parent.
//!     let received = propagator.extract_with_context(&Context::new(), &headers);
//!     let span = received.span();
//!     let parent = span.span_context();
//!     assert_eq!(parent.trace_id(), TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736));
//!     assert_eq!(parent.span_id(), SpanId::from(0x00f0_67aa_0ba9_02b7));
//!     assert!(parent.is_sampled() && parent.is_remote());
//! }
//! ```
//!
//! # Why
//!
//! OpenTelemetry's own B3 propagator lives in `opentelemetry-zipkin`, which drags in the
//! Zipkin exporter, and `opentelemetry-jaeger-propagator` trails the OpenTelemetry release
//! ferrotel pins. Both also store the debug flag in a trace-flags bit that W3C Trace Context
//! gives another meaning; here it is a context value ([`DebugFlagExt`]).
//!
//! # What is here
//!
//! * [`B3Propagator`] — `OTEL_PROPAGATORS=b3` ([`B3Propagator::single()`]) and `b3multi`
//!   ([`B3Propagator::multi()`]); see [`b3`] for the exact rules.
//! * [`JaegerPropagator`] — `OTEL_PROPAGATORS=jaeger`, trace context and `uberctx-` baggage;
//!   see [`jaeger`].
//!
//! Both never panic on input: anything malformed leaves the context as it was, so a bad
//! header starts a new trace instead of failing the request.

pub mod b3;
mod carrier;
mod debug_flag;
mod hex;
pub mod jaeger;

pub use b3::{B3Encoding, B3Propagator};
pub use debug_flag::DebugFlagExt;
pub use jaeger::JaegerPropagator;
