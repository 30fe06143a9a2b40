//! A bounded fuzz of `EntryContext::decode`: arbitrary bytes (and mutations of valid
//! encodings) never panic and allocate at most the documented bound; every context
//! round-trips through encode and decode within the documented sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ferrotel_ops::raft::{EntryContext, ENCODED_LEN, MAX_ENCODED_LEN, MAX_TRACESTATE_LEN};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use proptest::prelude::*;

/// Counts the bytes this thread allocates, so a decode's allocations can be measured.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The documented bound on a decode's allocations: the tracestate text (≤ 512 bytes) held
/// as at most 32 key/value members, with the parser's working vectors. Generous on the
/// bookkeeping, but independent of the input's length.
const DECODE_ALLOCATION_BOUND: usize = 8 * 1024;

fn allocated_by<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (r, ALLOCATED.with(Cell::get) - before)
}

fn member() -> impl Strategy<Value = String> {
    ("[a-z][a-z0-9_*/-]{0,20}", "[!-+--<>-~]{1,150}").prop_map(|(k, v)| format!("{k}={v}"))
}

fn context() -> impl Strategy<Value = EntryContext> {
    (
        any::<u128>().prop_filter("valid trace id", |t| *t != 0),
        any::<u64>().prop_filter("valid span id", |s| *s != 0),
        0u8..4,
        proptest::collection::vec(member(), 0..12),
    )
        .prop_filter_map("valid tracestate", |(t, s, flags, members)| {
            let mut seen = std::collections::HashSet::new();
            let members: Vec<String> = members
                .into_iter()
                .filter(|m| seen.insert(m.split('=').next().unwrap_or_default().to_owned()))
                .collect();
            let trace_state: TraceState = members.join(",").parse().ok()?;
            let sc = SpanContext::new(
                TraceId::from(t),
                SpanId::from(s),
                TraceFlags::new(flags),
                false,
                trace_state,
            );
            EntryContext::from_span_context(&sc)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_allocate_boundedly(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let (result, allocated) = allocated_by(|| EntryContext::decode(&bytes));
        prop_assert!(allocated <= DECODE_ALLOCATION_BOUND, "{allocated} bytes");
        if let Ok(ctx) = result {
            prop_assert!(bytes.len() <= MAX_ENCODED_LEN);
            prop_assert!(ctx.trace_state().header().len() <= MAX_TRACESTATE_LEN);
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        ctx in context(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = ctx.encode();
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] = value;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let (_result, allocated) = allocated_by(|| EntryContext::decode(&bytes));
        prop_assert!(allocated <= DECODE_ALLOCATION_BOUND, "{allocated} bytes");
    }

    #[test]
    fn encode_then_decode_round_trips(ctx in context()) {
        let bytes = ctx.encode();
        prop_assert!(bytes.len() <= MAX_ENCODED_LEN);
        if *ctx.trace_state() == TraceState::NONE {
            prop_assert_eq!(bytes.len(), ENCODED_LEN);
        }
        let back = EntryContext::decode(&bytes).unwrap();
        prop_assert_eq!(back.trace_id(), ctx.trace_id());
        prop_assert_eq!(back.span_id(), ctx.span_id());
        prop_assert_eq!(back.flags(), ctx.flags());
        if ctx.trace_state().header().len() <= MAX_TRACESTATE_LEN {
            prop_assert_eq!(back.trace_state(), ctx.trace_state());
        } else {
            // Whole members kept, in order.
            let kept = back.trace_state().header();
            let original = ctx.trace_state().header();
            let original: Vec<&str> = original.split(',').collect();
            prop_assert!(kept.len() <= MAX_TRACESTATE_LEN);
            for m in kept.split(',').filter(|m| !m.is_empty()) {
                prop_assert!(original.contains(&m));
            }
        }
        let mut appended = vec![0xaa];
        ctx.encode_into(&mut appended);
        prop_assert_eq!(&appended[1..], bytes.as_slice());
    }
}
