//! Deciding sampling before a span is built, so that an unsampled span costs neither the SDK's
//! span builder nor a boxed span.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferrotel_propagation::w3c::RANDOM_TRACE_ID;
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SamplingDecision, SamplingResult, ShouldSample,
};

use crate::random_under;

thread_local! {
    /// The decision made for the span this thread is about to build, with its trace id.
    static DECIDED: RefCell<Option<(TraceId, SamplingResult)>> = const { RefCell::new(None) };
}

// The thread-local is reached with `try_with`/`try_borrow*` only: on a thread whose storage is
// being torn down (or in a re-entrant call) nothing is stashed or found, and the SDK decides.

/// Stashes `decision` for the next build on this thread; false when it cannot be kept.
fn stash(trace_id: TraceId, decision: SamplingResult) -> bool {
    DECIDED
        .try_with(|decided| match decided.try_borrow_mut() {
            Ok(mut slot) => {
                *slot = Some((trace_id, decision));
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// Takes the stashed decision: only the one made for `trace_id`, or any with `None`.
fn take_decided(trace_id: Option<TraceId>) -> Option<SamplingResult> {
    DECIDED
        .try_with(|decided| {
            let mut slot = decided.try_borrow_mut().ok()?;
            match slot.as_ref() {
                Some((made_for, _)) if trace_id.is_none_or(|id| id == *made_for) => {
                    slot.take().map(|(_, result)| result)
                }
                _ => None,
            }
        })
        .ok()
        .flatten()
}

/// The trace id of the stashed decision.
fn decided_trace_id() -> Option<TraceId> {
    DECIDED
        .try_with(|decided| Some(decided.try_borrow().ok()?.as_ref()?.0))
        .ok()
        .flatten()
}

/// A tracer provider's sampler, shared with the instruments that decide before they build.
/// Cheap to clone.
///
/// The SDK (0.33.1) asks its sampler only from inside `Tracer::build_with_context`, after the
/// builder, its attribute `Vec` and the span are made, and it ignores a decision made
/// elsewhere. A [`Presampler`] owns the provider's sampler and id generator instead: an
/// instrument asks it first, and for a dropped span it puts a non-recording span context
/// straight into the context. For a span that is kept, the decision and its trace id are handed
/// to the SDK's next build on the same thread through [`PresampledSampler`] and
/// [`PresampledIds`], so the sampler is asked exactly once per span (a rate-limiting sampler
/// counts each span once) and a root keeps the trace id its decision was made on (a ratio rule
/// gives every process the same answer for that trace).
///
/// ferrotel's facade builds its tracer provider this way and hands the presampler to its Tower
/// layers and its NFS, storage and Raft instruments; the [crate docs](crate) show it at work.
#[derive(Clone)]
pub struct Presampler {
    sampler: Arc<dyn ShouldSample>,
    ids: RandomIdGenerator,
    /// Cleared when a kept span's build did not take its decision: the provider was not built
    /// with this presampler's halves, so deciding first would ask two samplers for one span.
    in_use: Arc<AtomicBool>,
}

impl fmt::Debug for Presampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presampler")
            .field("sampler", &self.sampler)
            .finish()
    }
}

/// What [`Presampler::decide`] found.
#[derive(Debug)]
pub enum Presampled {
    /// Not sampled: the context of the non-recording span to use instead of building one, its
    /// random-trace-id flag set as the instruments' spans carry it.
    Dropped(SpanContext),
    /// Recorded: build the span with the provider's tracer, now, on this thread.
    Build,
}

impl Presampler {
    /// Decides with `sampler` (the provider's whole sampler: rules, parent-based, ratio, …).
    pub fn new(sampler: impl ShouldSample + 'static) -> Self {
        Presampler {
            sampler: Arc::new(sampler),
            ids: RandomIdGenerator::default(),
            in_use: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Decides with a boxed sampler (as configuration code builds them).
    pub fn boxed(sampler: Box<dyn ShouldSample>) -> Self {
        Presampler {
            sampler: Arc::from(sampler),
            ids: RandomIdGenerator::default(),
            in_use: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The sampler to build the tracer provider with.
    pub fn sampler(&self) -> PresampledSampler {
        PresampledSampler {
            sampler: Arc::clone(&self.sampler),
        }
    }

    /// The id generator to build the tracer provider with.
    pub fn id_generator(&self) -> PresampledIds {
        PresampledIds {
            ids: RandomIdGenerator::default(),
        }
    }

    /// Decides a span named `name` under `parent` with the attributes it is created with.
    /// After [`Presampled::Build`], build the span now, on this thread, with the provider's
    /// tracer, then call [`Presampler::built`] ([`Presampler::start_context`] does both).
    pub fn decide(
        &self,
        parent: &Context,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
    ) -> Presampled {
        if parent.is_telemetry_suppressed() || !self.in_use.load(Ordering::Relaxed) {
            // The SDK gives a suppressed span an empty context; let it. Without the provider's
            // cooperation the SDK decides alone.
            return Presampled::Build;
        }
        let parent_span = parent.span();
        let psc = parent_span.span_context();
        let trace_id = if psc.is_valid() {
            psc.trace_id()
        } else {
            self.ids.new_trace_id()
        };
        let result =
            self.sampler
                .should_sample(Some(parent), trace_id, name, kind, attributes, &[]);
        if result.decision == SamplingDecision::Drop {
            // As the SDK makes a dropped span's context (not sampled, not remote), with the W3C
            // Level 2 random flag a root or a random parent's child carries.
            let flags = if random_under(parent) {
                RANDOM_TRACE_ID
            } else {
                TraceFlags::default()
            };
            return Presampled::Dropped(SpanContext::new(
                trace_id,
                self.ids.new_span_id(),
                flags,
                false,
                result.trace_state,
            ));
        }
        // Not kept (a thread in teardown): the SDK decides alone, as without a presampler.
        let _ = stash(trace_id, result);
        Presampled::Build
    }

    /// After a build: a decision the SDK did not take means the provider does not use this
    /// presampler (or is shut down), so the SDK decides alone from now on.
    pub fn built(&self) {
        if take_decided(None).is_some() {
            self.in_use.store(false, Ordering::Relaxed);
        }
    }

    /// A context holding a new span under `parent`: a dropped span's context without building
    /// anything, or the context `build` returns (it builds the span with the provider's tracer,
    /// on this thread, now).
    pub fn start_context(
        &self,
        parent: &Context,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        build: impl FnOnce() -> Context,
    ) -> Context {
        match self.decide(parent, name, kind, attributes) {
            Presampled::Dropped(sc) => parent.with_remote_span_context(sc),
            Presampled::Build => {
                let cx = build();
                self.built();
                cx
            }
        }
    }
}

/// The sampler half of a [`Presampler`]: returns the decision already made for the span being
/// built, and asks the provider's sampler for every other span (`tracing` spans, spans started
/// on the tracer directly).
#[derive(Clone)]
pub struct PresampledSampler {
    sampler: Arc<dyn ShouldSample>,
}

impl fmt::Debug for PresampledSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresampledSampler")
            .field("sampler", &self.sampler)
            .finish()
    }
}

impl ShouldSample for PresampledSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        match take_decided(Some(trace_id)) {
            Some(result) => result,
            None => self.sampler.should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            ),
        }
    }
}

/// The id generator half of a [`Presampler`]: a root being built after a decision gets the
/// trace id the decision was made on; every other id is random.
#[derive(Debug)]
pub struct PresampledIds {
    ids: RandomIdGenerator,
}

impl IdGenerator for PresampledIds {
    fn new_trace_id(&self) -> TraceId {
        decided_trace_id().unwrap_or_else(|| self.ids.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.ids.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::sync::atomic::AtomicUsize;

    use opentelemetry::trace::{Span as _, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

    /// Keeps every other span and counts how often it is asked.
    #[derive(Debug, Clone, Default)]
    struct EveryOther(Arc<AtomicUsize>);

    impl ShouldSample for EveryOther {
        fn should_sample(
            &self,
            _: Option<&Context>,
            _: TraceId,
            _: &str,
            _: &SpanKind,
            _: &[KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            SamplingResult {
                decision: if n.is_multiple_of(2) {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            }
        }
    }

    #[test]
    fn the_sampler_is_asked_once_per_span_and_a_kept_root_keeps_its_trace_id() {
        let asked = EveryOther::default();
        let presampler = Presampler::new(asked.clone());
        let provider = SdkTracerProvider::builder()
            .with_sampler(presampler.sampler())
            .with_id_generator(presampler.id_generator())
            .build();
        let tracer = provider.tracer("t");
        let parent = Context::new();
        // Kept: built by the SDK with the decided trace id; the sampler is not asked again.
        let Presampled::Build = presampler.decide(&parent, "a", &SpanKind::Server, &[]) else {
            panic!("the first span is kept");
        };
        let decided = decided_trace_id().unwrap();
        let span = tracer.build_with_context(tracer.span_builder("a"), &parent);
        assert!(span.is_recording());
        assert_eq!(span.span_context().trace_id(), decided);
        assert_eq!(asked.0.load(Ordering::Relaxed), 1);
        assert!(decided_trace_id().is_none(), "the decision was taken");
        // Dropped: no SDK span at all, a valid unsampled context.
        let Presampled::Dropped(sc) = presampler.decide(&parent, "b", &SpanKind::Server, &[])
        else {
            panic!("the second span is dropped");
        };
        assert!(sc.is_valid() && !sc.is_sampled() && !sc.is_remote());
        assert_eq!(asked.0.load(Ordering::Relaxed), 2);
        // A span the instruments did not decide goes to the sampler as usual.
        let other = tracer.start("c");
        assert!(other.is_recording());
        assert_eq!(asked.0.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_provider_built_without_the_presampler_makes_it_step_aside() {
        let asked = EveryOther::default();
        let presampler = Presampler::new(asked.clone());
        // The provider decides with its own sampler, not the presampler's halves.
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .build();
        let tracer = provider.tracer("t");
        let parent = Context::new();
        let Presampled::Build = presampler.decide(&parent, "a", &SpanKind::Server, &[]) else {
            panic!("the first span is kept");
        };
        let _span = tracer.build_with_context(tracer.span_builder("a"), &parent);
        presampler.built();
        assert!(decided_trace_id().is_none());
        // From now on the provider decides alone: the presampler neither asks nor drops.
        for _ in 0..4 {
            assert!(matches!(
                presampler.decide(&parent, "b", &SpanKind::Server, &[]),
                Presampled::Build
            ));
        }
        assert_eq!(asked.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_reentrant_or_torn_down_stash_is_a_miss_not_a_panic() {
        DECIDED.with(|decided| {
            let _held = decided.borrow_mut();
            assert!(!stash(
                TraceId::from(1u128),
                SamplingResult {
                    decision: SamplingDecision::RecordAndSample,
                    attributes: Vec::new(),
                    trace_state: TraceState::default(),
                }
            ));
            assert!(take_decided(None).is_none());
            assert!(decided_trace_id().is_none());
        });
    }

    #[test]
    fn a_child_of_a_dropped_parent_keeps_its_trace_id() {
        let presampler = Presampler::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        let Presampled::Dropped(root) =
            presampler.decide(&Context::new(), "root", &SpanKind::Server, &[])
        else {
            panic!("dropped");
        };
        let parent = Context::new().with_remote_span_context(root.clone());
        let Presampled::Dropped(child) =
            presampler.decide(&parent, "child", &SpanKind::Internal, &[])
        else {
            panic!("dropped");
        };
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.span_id(), root.span_id());
    }
}
