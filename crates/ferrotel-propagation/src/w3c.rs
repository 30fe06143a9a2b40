//! [W3C Trace Context Level 2](https://www.w3.org/TR/trace-context-2/) propagation:
//! `traceparent` and `tracestate`, `OTEL_PROPAGATORS=tracecontext`.
//!
//! # Extraction rules
//!
//! `traceparent: {version}-{trace-id}-{parent-id}-{trace-flags}`
//!
//! * Exactly 2, 32, 16 and 2 lower-case hex digits; upper case, other lengths, an all-zero
//!   trace id or parent id, and version `ff` are invalid.
//! * Version `00` allows nothing after the flags (55 characters exactly). A higher version
//!   needs at least 55 characters, and after the flags either the end or a `-` (what follows
//!   is ignored); the context is re-emitted as version `00`.
//! * Optional whitespace (spaces, tabs) around the value is trimmed; whitespace or any other
//!   character outside visible ASCII inside it makes it invalid.
//! * The header present more than once is invalid, even with equal values: the carrier does not
//!   say which one the sender meant. Every value is read through
//!   [`Extractor::get_all`], so carriers that keep repeated headers (HTTP header maps, gRPC
//!   metadata) must implement it.
//! * Flags: `0x01` sampled and `0x02` random trace id are kept in the span's
//!   [`TraceFlags`] (OpenTelemetry's SDK propagator drops `0x02`); other bits are cleared.
//! * An invalid `traceparent` leaves the context unchanged (a new trace starts) and the
//!   `tracestate` is not read. Nothing half-parsed is ever stored.
//!
//! `tracestate` (read only with a valid `traceparent`; repeated headers are joined in order
//! with `,`) follows [`W3cTraceState`]'s grammar. Empty members are skipped; a repeated key keeps
//! its first member and the rest is inherited; an invalid member or more than 32 members
//! discard the whole tracestate, never the `traceparent`. The list is kept in the context in full; the span context's
//! [`TraceState`](opentelemetry::trace::TraceState) gets the members it can hold (see
//! [`W3cTraceState`] for why both exist, and [`W3cTraceStateExt`] for how they are reconciled).
//!
//! # Injection
//!
//! For a valid span context, `traceparent` as version `00` with the sampled and random flags,
//! and `tracestate` ([`W3cTraceStateExt::w3c_trace_state`]) when not empty, truncated to 512
//! characters by whole members ([`W3cTraceState::header`]). Nothing otherwise.
//!
//! # Compared with `opentelemetry_sdk::propagation::TraceContextPropagator`
//!
//! The SDK's propagator reads only the first `traceparent` and `tracestate`, does not check the
//! field lengths exactly, drops the random flag, keeps a tracestate of more than 32 members
//! (truncated), rejects Level 2 keys its `TraceState` cannot hold, and
//! writes an empty `tracestate` header and more than 512 characters of it.

use opentelemetry::{
    propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId},
    Context,
};

use crate::carrier::{header_values, trim_ows};
use crate::hex::{parse_hex, HexCase};
use crate::tracestate::{with_extracted, W3cTraceState, W3cTraceStateExt};

/// The trace context header: `traceparent`.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The vendor-specific trace state header: `tracestate`.
pub const TRACESTATE_HEADER: &str = "tracestate";
/// Trace flag `0x02` (Level 2): the trace id's right-most 7 bytes are random.
pub const RANDOM_TRACE_ID: TraceFlags = TraceFlags::new(0x02);

/// The flags this propagator understands; other bits are cleared.
const KNOWN_FLAGS: u8 = 0x01 | 0x02;
/// Length of a version `00` traceparent.
const TRACEPARENT_LEN: usize = 55;

/// W3C Trace Context Level 2 [`TextMapPropagator`]. See the [module docs](self) for the rules.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::TraceContextPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_string(),
/// );
/// let propagator = TraceContextPropagator::new();
/// let cx = propagator.extract_with_context(&Context::new(), &headers);
/// assert!(cx.span().span_context().is_sampled());
///
/// let mut out = HashMap::new();
/// propagator.inject_context(&cx, &mut out);
/// assert_eq!(out["traceparent"], headers["traceparent"]); // the random flag survives
/// ```
#[derive(Clone, Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl TraceContextPropagator {
    /// A propagator for the `traceparent` and `tracestate` headers.
    pub fn new() -> Self {
        Self {
            fields: [TRACEPARENT_HEADER.to_owned(), TRACESTATE_HEADER.to_owned()],
        }
    }
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

/// `00-{trace id}-{span id}-{flags}`, hex-formatted in a stack buffer: one allocation, the
/// `String` the injector takes, instead of `format!`'s growth and formatter calls per request.
fn traceparent(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'-'; TRACEPARENT_LEN];
    buf[0] = b'0';
    buf[1] = b'0';
    let mut put = |at: usize, bytes: &[u8]| {
        for (i, byte) in bytes.iter().enumerate() {
            buf[at + 2 * i] = HEX[usize::from(byte >> 4)];
            buf[at + 2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
    };
    put(3, &trace_id);
    put(36, &span_id);
    put(53, &[flags]);
    // Only ASCII hex digits and dashes were written, so this never falls back.
    std::str::from_utf8(&buf)
        .map(str::to_owned)
        .unwrap_or_default()
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT_HEADER,
            traceparent(
                span_context.trace_id().to_bytes(),
                span_context.span_id().to_bytes(),
                span_context.trace_flags().to_u8() & KNOWN_FLAGS,
            ),
        );
        let trace_state = cx.w3c_trace_state().header();
        if !trace_state.is_empty() {
            injector.set(TRACESTATE_HEADER, trace_state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let &[traceparent] = header_values(extractor, TRACEPARENT_HEADER).as_slice() else {
            return cx.clone(); // absent, or repeated
        };
        let Some(parent) = parse_traceparent(traceparent) else {
            return cx.clone();
        };
        let list = W3cTraceState::parse_headers(header_values(extractor, TRACESTATE_HEADER))
            .unwrap_or_default();
        let trace_state = list.to_trace_state();
        let span_context = SpanContext::new(
            parent.trace_id,
            parent.span_id,
            parent.flags,
            true,
            trace_state.clone(),
        );
        with_extracted(
            cx.with_remote_span_context(span_context),
            parent.trace_id,
            list,
            trace_state,
        )
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// The fields of a valid `traceparent`.
#[derive(Debug, PartialEq, Eq)]
struct Traceparent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
}

/// Parses a `traceparent` value; see the module docs for the rules.
fn parse_traceparent(value: &str) -> Option<Traceparent> {
    let value = trim_ows(value);
    let bytes = value.as_bytes();
    // Visible ASCII only: no inner whitespace, and byte offsets are char boundaries.
    if bytes.len() < TRACEPARENT_LEN || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return None;
    }
    let hex = |start: usize, digits: usize| {
        parse_hex(value.get(start..start + digits)?, digits, HexCase::Lower)
    };
    let version = hex(0, 2)?;
    if version == 0xff {
        return None;
    }
    if [2, 35, 52].iter().any(|&i| bytes.get(i) != Some(&b'-')) {
        return None;
    }
    match bytes.get(TRACEPARENT_LEN) {
        None => {}
        Some(b'-') if version != 0 => {}
        Some(_) => return None,
    }
    let trace_id = hex(3, 32)?;
    let span_id = u64::try_from(hex(36, 16)?).ok()?;
    let flags = u8::try_from(hex(53, 2)?).ok()?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(Traceparent {
        trace_id: TraceId::from(trace_id),
        span_id: SpanId::from(span_id),
        flags: TraceFlags::new(flags & KNOWN_FLAGS),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_matches_the_formatted_one() {
        let trace_id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
        let span_id = 0x00f0_67aa_0ba9_02b7_u64;
        for flags in [0u8, 1, 2, 3] {
            assert_eq!(
                traceparent(trace_id.to_be_bytes(), span_id.to_be_bytes(), flags),
                format!("00-{trace_id:032x}-{span_id:016x}-{flags:02x}")
            );
        }
    }

    #[test]
    fn parses_fields() {
        let parent =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").unwrap();
        assert_eq!(
            parent.trace_id,
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(parent.span_id, SpanId::from(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parent.flags, TraceFlags::new(0x03));
        assert!(parse_traceparent("").is_none());
        assert!(parse_traceparent(&"é".repeat(40)).is_none());
    }
}
