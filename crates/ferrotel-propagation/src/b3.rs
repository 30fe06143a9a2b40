//! [B3](https://github.com/openzipkin/b3-propagation) propagation, as used by Zipkin, Envoy
//! and many service meshes.
//!
//! Two encodings exist:
//!
//! * single header — `b3: {TraceId}-{SpanId}-{SamplingState}-{ParentSpanId}`, the last two
//!   optional; sampling state `1` (accept), `0` (deny) or `d` (debug);
//! * multiple headers — `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` (`1`/`0`),
//!   `X-B3-Flags` (`1` = debug) and `X-B3-ParentSpanId`.
//!
//! [`B3Propagator`] extracts both (the single header wins when it is present and valid) and
//! injects the encoding it was built for: [`B3Propagator::single()`] for
//! `OTEL_PROPAGATORS=b3`, [`B3Propagator::multi()`] for `OTEL_PROPAGATORS=b3multi`.
//!
//! # Extraction rules
//!
//! * Ids are lower-hex, as the B3 specification says: a trace id of exactly 16 or 32 digits
//!   (16 digits are left-padded with zeros to 128 bits), a span id of exactly 16 digits,
//!   neither all zeros. Upper-case hex is rejected, like Brave (Zipkin's reference tracer) and
//!   OpenTelemetry Go do.
//! * A parent span id, when present, must be a valid span id too, but is otherwise ignored:
//!   OpenTelemetry never shares one span id between client and server.
//! * Debug (`d` or `X-B3-Flags: 1`) implies sampled and is kept in the context
//!   ([`DebugFlagExt`]) so that injection propagates it.
//! * `X-B3-Sampled` also accepts the legacy `true` / `false`, as the specification
//!   encourages; `X-B3-Flags` values other than `1` are ignored, as it allows.
//! * An absent sampling state (a *deferred* decision) extracts as not sampled: OpenTelemetry
//!   has no deferred state (Java and JavaScript do the same).
//! * The lone single-header forms `b3: 0`, `b3: 1` and `b3: d` (a decision without ids) are
//!   understood but cannot be expressed as an OpenTelemetry span context, so they leave the
//!   context unchanged (and the multi headers are still tried).
//! * Anything malformed — wrong length, non-hex, zero ids, missing or extra parts, unknown
//!   sampling state, a header repeated with different values — leaves the context unchanged.
//!
//! Header names are written in lower case (`x-b3-traceid`), which HTTP treats as equal and
//! HTTP/2 and gRPC metadata require.

use opentelemetry::{
    propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
    Context,
};

use crate::carrier::read_header;
use crate::debug_flag::DebugFlagExt;
use crate::hex::{parse_hex, HexCase};

/// Single-header name: `b3`.
pub const SINGLE_HEADER: &str = "b3";
/// Multi-header trace id: `x-b3-traceid`.
pub const TRACE_ID_HEADER: &str = "x-b3-traceid";
/// Multi-header span id: `x-b3-spanid`.
pub const SPAN_ID_HEADER: &str = "x-b3-spanid";
/// Multi-header sampling decision (`1` / `0`): `x-b3-sampled`.
pub const SAMPLED_HEADER: &str = "x-b3-sampled";
/// Multi-header debug flag (`1`): `x-b3-flags`.
pub const FLAGS_HEADER: &str = "x-b3-flags";
/// Multi-header parent span id, read (validated) but never written: `x-b3-parentspanid`.
pub const PARENT_SPAN_ID_HEADER: &str = "x-b3-parentspanid";

/// Which B3 encoding [`B3Propagator`] injects. Extraction always accepts both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum B3Encoding {
    /// The single `b3` header (the OpenTelemetry default, `OTEL_PROPAGATORS=b3`).
    #[default]
    SingleHeader,
    /// The `X-B3-*` headers (`OTEL_PROPAGATORS=b3multi`).
    MultipleHeader,
    /// Both at once, for migrations where some receivers read only one of them.
    SingleAndMultiHeader,
}

impl B3Encoding {
    fn injects_single(self) -> bool {
        matches!(self, Self::SingleHeader | Self::SingleAndMultiHeader)
    }

    fn injects_multi(self) -> bool {
        matches!(self, Self::MultipleHeader | Self::SingleAndMultiHeader)
    }
}

/// B3 [`TextMapPropagator`]: extracts single and multi-header B3, injects the configured
/// [`B3Encoding`]. See the [module docs](self) for the exact rules.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::B3Propagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "b3".to_string(),
///     "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".to_string(),
/// );
/// let cx = B3Propagator::single().extract_with_context(&Context::new(), &headers);
/// let span = cx.span();
/// assert!(span.span_context().is_remote() && span.span_context().is_sampled());
/// ```
#[derive(Clone, Debug)]
pub struct B3Propagator {
    encoding: B3Encoding,
    fields: Vec<String>,
}

impl B3Propagator {
    /// A propagator injecting `encoding`.
    pub fn new(encoding: B3Encoding) -> Self {
        let mut fields = Vec::new();
        if encoding.injects_single() {
            fields.push(SINGLE_HEADER.to_owned());
        }
        if encoding.injects_multi() {
            fields.extend(
                [
                    TRACE_ID_HEADER,
                    SPAN_ID_HEADER,
                    SAMPLED_HEADER,
                    FLAGS_HEADER,
                ]
                .map(String::from),
            );
        }
        Self { encoding, fields }
    }

    /// Injects the single `b3` header (`OTEL_PROPAGATORS=b3`).
    pub fn single() -> Self {
        Self::new(B3Encoding::SingleHeader)
    }

    /// Injects the `X-B3-*` headers (`OTEL_PROPAGATORS=b3multi`).
    pub fn multi() -> Self {
        Self::new(B3Encoding::MultipleHeader)
    }

    /// The encoding this propagator injects.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }
}

impl Default for B3Propagator {
    /// The single-header encoding, the default the OpenTelemetry specification asks for.
    fn default() -> Self {
        Self::single()
    }
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        // Without ids there is nothing to continue; a lone `b3: 0` would tell every receiver to
        // stop sampling, so nothing is written.
        if !span_context.is_valid() {
            return;
        }
        let trace_id = format!("{:032x}", span_context.trace_id());
        let span_id = format!("{:016x}", span_context.span_id());
        let debug = cx.debug_flag();
        let sampled = if span_context.is_sampled() { "1" } else { "0" };

        injector.reserve(self.fields.len());
        if self.encoding.injects_single() {
            let state = if debug { "d" } else { sampled };
            injector.set(SINGLE_HEADER, format!("{trace_id}-{span_id}-{state}"));
        }
        if self.encoding.injects_multi() {
            injector.set(TRACE_ID_HEADER, trace_id);
            injector.set(SPAN_ID_HEADER, span_id);
            if debug {
                // "Debug implies an accept decision, so don't also send X-B3-Sampled."
                injector.set(FLAGS_HEADER, "1".to_owned());
            } else {
                injector.set(SAMPLED_HEADER, sampled.to_owned());
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let extracted = read_header(extractor, SINGLE_HEADER)
            .ok()
            .flatten()
            .and_then(parse_single_header)
            .or_else(|| parse_multi_header(extractor));
        match extracted {
            Some(b3) => cx
                .with_remote_span_context(b3.span_context())
                .with_debug_flag(b3.debug),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// A successfully extracted B3 context.
#[derive(Debug)]
struct B3Context {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    debug: bool,
}

impl B3Context {
    fn span_context(&self) -> SpanContext {
        let flags = TraceFlags::default().with_sampled(self.sampled || self.debug);
        SpanContext::new(self.trace_id, self.span_id, flags, true, TraceState::NONE)
    }
}

/// A trace id: exactly 16 or 32 lower-hex digits, not all zero.
fn parse_trace_id(digits: &str) -> Option<TraceId> {
    if digits.len() != 16 && digits.len() != 32 {
        return None;
    }
    let id = parse_hex(digits, 32, HexCase::Lower)?;
    (id != 0).then(|| TraceId::from(id))
}

/// A span id: exactly 16 lower-hex digits, not all zero.
fn parse_span_id(digits: &str) -> Option<SpanId> {
    if digits.len() != 16 {
        return None;
    }
    let id = u64::try_from(parse_hex(digits, 16, HexCase::Lower)?).ok()?;
    (id != 0).then(|| SpanId::from(id))
}

/// `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`.
///
/// The lone forms `0` / `1` / `d` carry no ids and yield `None` like malformed values.
fn parse_single_header(value: &str) -> Option<B3Context> {
    let mut parts = value.split('-');
    let trace_id = parse_trace_id(parts.next()?)?;
    let span_id = parse_span_id(parts.next()?)?;
    let (sampled, debug) = match parts.next() {
        None => (false, false), // deferred
        Some("0") => (false, false),
        Some("1") => (true, false),
        Some("d") => (true, true),
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        parse_span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(B3Context {
        trace_id,
        span_id,
        sampled,
        debug,
    })
}

/// The `X-B3-*` headers; trace and span id are required.
fn parse_multi_header(extractor: &dyn Extractor) -> Option<B3Context> {
    let header = |name| read_header(extractor, name).ok();
    let trace_id = parse_trace_id(header(TRACE_ID_HEADER)??)?;
    let span_id = parse_span_id(header(SPAN_ID_HEADER)??)?;
    if let Some(parent) = header(PARENT_SPAN_ID_HEADER)? {
        parse_span_id(parent)?;
    }
    // Any X-B3-Flags value but `1` "can be ignored", so an ambiguous one is ignored too.
    let debug = header(FLAGS_HEADER).flatten() == Some("1");
    let sampled = if debug {
        true // debug implies accept; X-B3-Sampled should not even be sent
    } else {
        match header(SAMPLED_HEADER)? {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return None,
        }
    };
    Some(B3Context {
        trace_id,
        span_id,
        sampled,
        debug,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_header_parts() {
        let ok = parse_single_header("0000000000000001-0000000000000002");
        assert!(ok.is_some_and(|b3| !b3.sampled && !b3.debug));
        assert!(parse_single_header("0").is_none());
        assert!(parse_single_header("d").is_none());
        assert!(parse_single_header("").is_none());
    }
}
