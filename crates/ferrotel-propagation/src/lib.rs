//! W3C Trace Context, W3C Baggage, B3, Jaeger and AWS X-Ray context propagation for
//! OpenTelemetry.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use ferrotel_propagation::w3c::RANDOM_TRACE_ID;
//! use ferrotel_propagation::{
//!     B3Propagator, JaegerPropagator, TraceContextPropagator, XrayPropagator,
//! };
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
//!     TraceFlags::SAMPLED | RANDOM_TRACE_ID, // W3C Level 2: the trace id is random
//!     false,
//!     TraceState::NONE,
//! );
//! let cx = Context::new().with_remote_span_context(span_context);
//!
//! for propagator in [
//!     Box::new(TraceContextPropagator::new()) as Box<dyn TextMapPropagator + Send + Sync>,
//!     Box::new(B3Propagator::single()),
//!     Box::new(B3Propagator::multi()),
//!     Box::new(JaegerPropagator::new()),
//!     Box::new(XrayPropagator::new()),
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
//! gives another meaning; here it is a context value ([`DebugFlagExt`]). X-Ray's propagator
//! lives in `opentelemetry-aws`, with the AWS exporter's release cadence.
//!
//! For W3C, `opentelemetry_sdk::propagation::{TraceContextPropagator, BaggagePropagator}` work
//! for the common case. Use ferrotel's [`TraceContextPropagator`] and [`BaggagePropagator`]
//! instead when requests may carry repeated headers (the SDK reads only the first), when the
//! Level 2 *random trace id* flag must survive (the SDK drops it), when tracestate keys use the
//! Level 2 grammar (`a@b@c`, long vendor parts), or when strictness matters: exact field
//! lengths, a repeated `traceparent` rejected, a tracestate of more than 32 members
//! discarded (a repeated key keeps its first member, the rest is inherited), and outgoing headers kept within the 512-character (tracestate)
//! and 64-member / 8192-byte (baggage) limits by dropping whole members. Their module docs
//! ([`w3c`], [`baggage`]) list every difference.
//!
//! # What is here
//!
//! * [`TraceContextPropagator`] — `OTEL_PROPAGATORS=tracecontext`, W3C Trace Context Level 2;
//!   see [`w3c`]. The full tracestate list is [`W3cTraceState`], read with
//!   [`W3cTraceStateExt`].
//! * [`BaggagePropagator`] — `OTEL_PROPAGATORS=baggage`, W3C Baggage; see [`baggage`].
//! * [`B3Propagator`] — `OTEL_PROPAGATORS=b3` ([`B3Propagator::single()`]) and `b3multi`
//!   ([`B3Propagator::multi()`]); see [`b3`] for the exact rules.
//! * [`JaegerPropagator`] — `OTEL_PROPAGATORS=jaeger`, trace context and `uberctx-` baggage;
//!   see [`jaeger`].
//! * [`XrayPropagator`] — `OTEL_PROPAGATORS=xray`, AWS X-Ray's `X-Amzn-Trace-Id`; see [`xray`].
//!
//! All of them never panic on input: anything malformed leaves the context as it was, so a bad
//! header starts a new trace instead of failing the request. They read repeated headers through
//! [`Extractor::get_all`](opentelemetry::propagation::Extractor::get_all), so a carrier that
//! holds them (an HTTP header map, gRPC metadata) should implement it; header names are matched
//! however the carrier matches them (HTTP carriers: case-insensitively).

pub mod b3;
pub mod baggage;
mod carrier;
mod debug_flag;
mod hex;
pub mod jaeger;
mod tracestate;
pub mod w3c;
pub mod xray;

pub use b3::{B3Encoding, B3Propagator};
pub use baggage::BaggagePropagator;
pub use debug_flag::DebugFlagExt;
pub use jaeger::JaegerPropagator;
pub use tracestate::{InvalidTraceState, W3cTraceState, W3cTraceStateExt};
pub use w3c::TraceContextPropagator;
pub use xray::XrayPropagator;
