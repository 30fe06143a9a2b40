//! The tracer's pieces, in one place: how ferrotel decides sampling and builds its spans.
//!
//! ```
//! use ferrotel_config::parse_sampling_rules;
//! use ferrotel_propagation::w3c::RANDOM_TRACE_ID;
//! use ferrotel_tracer::{scope, Level2TracerProvider, Presampled, Presampler, RuleSampler};
//! use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
//! use opentelemetry::Context;
//! use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
//!
//! // Roots named `nfs.GETATTR` are never kept; everything else follows the configured sampler.
//! let rules = parse_sampling_rules("nfs.GETATTR=0").unwrap();
//! let presampler = Presampler::new(RuleSampler::new(
//!     &rules,
//!     Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
//! ));
//! let sdk = SdkTracerProvider::builder()
//!     .with_sampler(presampler.sampler())
//!     .with_id_generator(presampler.id_generator())
//!     .build();
//! let provider = Level2TracerProvider::new(sdk);
//! let tracer = provider.tracer_with_scope(scope("my-service"));
//!
//! // An instrument asks first: a dropped root costs no SDK span at all.
//! let decided = presampler.decide(&Context::new(), "nfs.GETATTR", &SpanKind::Server, &[]);
//! assert!(matches!(decided, Presampled::Dropped(_)));
//!
//! let span = tracer.start("nfs.READ");
//! assert!(span.span_context().is_sampled());
//! // A root's trace id is random, and its context says so (W3C Trace Context Level 2).
//! assert_eq!(span.span_context().trace_flags() & RANDOM_TRACE_ID, RANDOM_TRACE_ID);
//! ```
//!
//! - [`Presampler`] decides sampling before a span is built, so an unsampled span costs
//!   neither the SDK's span builder nor a boxed span; ferrotel's Tower layers and operation
//!   instruments ask it first.
//! - [`RuleSampler`] applies the per-operation rules of `FERROTEL_SAMPLING_RULES` to root
//!   spans and the configured sampler to the rest.
//! - [`RandomFlagSpan`] keeps the W3C Level 2 random-trace-id flag on a span whose tracer
//!   loses it; [`Level2Tracer`] hands out such spans for the SDK's tracer.
//! - [`SCHEMA_URL`] and [`scope`]: the one schema URL and instrumentation scope of every span
//!   and metric ferrotel records.

mod presampler;
mod random_flag;
mod rule_sampler;
mod scope;
mod tracer;

pub use presampler::{Presampled, PresampledIds, PresampledSampler, Presampler};
pub use random_flag::{random_under, with_random_flag, RandomFlagSpan};
pub use rule_sampler::{RuleSampler, QUIET_ROOTS};
pub use scope::{scope, SCHEMA_URL};
pub use tracer::{Level2Span, Level2Tracer, Level2TracerProvider};
