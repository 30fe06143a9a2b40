//! [Jaeger](https://www.jaegertracing.io/docs/latest/client-libraries/#propagation-format)
//! propagation: `uber-trace-id` and `uberctx-*` baggage headers.
//!
//! `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`
//!
//! * trace id: 1 to 32 hex digits, left-padded with zeros to 128 bits, not zero;
//! * span id: 1 to 16 hex digits, not zero;
//! * parent span id: 1 to 16 hex digits, deprecated — validated, ignored, and written as `0`;
//! * flags: 1 or 2 hex digits; `0x01` sampled, `0x02` debug (kept in the context with
//!   [`DebugFlagExt`], and implying sampled), other bits ignored.
//!
//! Jaeger ids are plain base 16, so upper-case digits are accepted on extraction; injection
//! writes lower case, a 32-digit trace id and a 16-digit span id. A value without `:` whose
//! separators are URL-encoded (`%3A`, as some HTTP clients send it) is accepted too.
//!
//! Baggage travels as one header per item, `uberctx-{key}: {url-encoded value}`. Extraction
//! lower-cases the key (header names are case-insensitive), URL-decodes the value (`+` is a
//! space; an undecodable value is kept as it is, as Jaeger's clients do) and adds the items to
//! the context's [`Baggage`], keeping items already there. Injection writes every baggage item
//! whose key is a valid header name.
//!
//! A present but malformed `uber-trace-id` (or one repeated with different values) leaves the
//! context unchanged, baggage included; without `uber-trace-id` the baggage headers alone are
//! still extracted, since Jaeger allows baggage without a trace.

use std::borrow::Cow;

use opentelemetry::{
    baggage::{Baggage, BaggageExt},
    propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
    Context,
};

use crate::carrier::{is_header_token, read_header};
use crate::debug_flag::DebugFlagExt;
use crate::hex::{parse_hex, HexCase};

/// The trace context header: `uber-trace-id`.
pub const TRACE_CONTEXT_HEADER: &str = "uber-trace-id";
/// Prefix of the baggage headers: `uberctx-`.
pub const BAGGAGE_HEADER_PREFIX: &str = "uberctx-";

const FLAG_SAMPLED: u8 = 0x01;
const FLAG_DEBUG: u8 = 0x02;

/// Jaeger [`TextMapPropagator`] for `uber-trace-id` and `uberctx-*` baggage. See the
/// [module docs](self) for the exact rules.
///
/// [`fields()`](TextMapPropagator::fields) reports `uber-trace-id` only: the baggage header
/// names depend on the baggage keys and cannot be listed in advance.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::JaegerPropagator;
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert("uber-trace-id".to_string(), "4d2:17c29:0:1".to_string());
/// headers.insert("uberctx-user".to_string(), "ada%20l".to_string());
/// let cx = JaegerPropagator::new().extract_with_context(&Context::new(), &headers);
/// assert!(cx.span().span_context().is_sampled());
/// assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("ada l"));
/// ```
#[derive(Clone, Debug)]
pub struct JaegerPropagator {
    fields: [String; 1],
}

impl JaegerPropagator {
    /// A propagator using the standard `uber-trace-id` and `uberctx-` header names.
    pub fn new() -> Self {
        Self {
            fields: [TRACE_CONTEXT_HEADER.to_owned()],
        }
    }
}

impl Default for JaegerPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if span_context.is_valid() {
            let mut flags = 0;
            if span_context.is_sampled() {
                flags |= FLAG_SAMPLED;
            }
            if cx.debug_flag() {
                flags |= FLAG_DEBUG | FLAG_SAMPLED;
            }
            injector.set(
                TRACE_CONTEXT_HEADER,
                format!(
                    "{:032x}:{:016x}:0:{flags:x}",
                    span_context.trace_id(),
                    span_context.span_id()
                ),
            );
        }
        for (key, (value, _metadata)) in cx.baggage() {
            if is_header_token(key.as_str()) {
                injector.set(
                    &format!("{BAGGAGE_HEADER_PREFIX}{}", key.as_str()),
                    url_encode(value.as_str()),
                );
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = match read_header(extractor, TRACE_CONTEXT_HEADER) {
            Ok(None) => cx.clone(),
            Ok(Some(value)) => match parse_uber_trace_id(value) {
                Some((span_context, debug)) => cx
                    .with_remote_span_context(span_context)
                    .with_debug_flag(debug),
                None => return cx.clone(),
            },
            Err(_ambiguous) => return cx.clone(),
        };
        let items = extract_baggage(extractor);
        if !items.is_empty() {
            cx = merge_baggage(&cx, items);
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Parses `{trace-id}:{span-id}:{parent-span-id}:{flags}` into a remote span context and the
/// debug flag.
fn parse_uber_trace_id(value: &str) -> Option<(SpanContext, bool)> {
    let value: Cow<'_, str> = if value.contains(':') {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.replace("%3A", ":").replace("%3a", ":"))
    };
    let mut parts = value.split(':');
    let trace_id = parse_hex(parts.next()?, 32, HexCase::Any)?;
    let span_id = u64::try_from(parse_hex(parts.next()?, 16, HexCase::Any)?).ok()?;
    parse_hex(parts.next()?, 16, HexCase::Any)?; // deprecated parent span id
    let flags = u8::try_from(parse_hex(parts.next()?, 2, HexCase::Any)?).ok()?;
    if parts.next().is_some() || trace_id == 0 || span_id == 0 {
        return None;
    }
    let debug = flags & FLAG_DEBUG != 0;
    let sampled = debug || flags & FLAG_SAMPLED != 0;
    let span_context = SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::default().with_sampled(sampled),
        true,
        TraceState::NONE,
    );
    Some((span_context, debug))
}

/// The `uberctx-*` headers as lower-cased keys and decoded values.
fn extract_baggage(extractor: &dyn Extractor) -> Vec<(String, String)> {
    let prefix_len = BAGGAGE_HEADER_PREFIX.len();
    extractor
        .keys()
        .into_iter()
        .filter_map(|header| {
            let (prefix, key) = header.split_at_checked(prefix_len)?;
            if !prefix.eq_ignore_ascii_case(BAGGAGE_HEADER_PREFIX) || !is_header_token(key) {
                return None;
            }
            let value = read_header(extractor, header).ok()??;
            Some((key.to_ascii_lowercase(), url_decode(value)))
        })
        .collect()
}

/// The context's baggage plus `items` (which win on equal keys); [`Baggage`]'s own limits
/// apply, items beyond them are dropped whole.
fn merge_baggage(cx: &Context, items: Vec<(String, String)>) -> Context {
    let mut baggage: Baggage = cx
        .baggage()
        .iter()
        .map(|(key, (value, metadata))| (key.clone(), (value.clone(), metadata.clone())))
        .collect();
    for (key, value) in items {
        let _previous = baggage.insert(key, value);
    }
    cx.with_baggage(baggage)
}

/// Percent-encodes everything but the URL unreserved characters `A-Za-z0-9-._~`.
fn url_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// URL-decodes `%XX` escapes and `+` (a space), like Go's `url.QueryUnescape` that Jaeger's
/// clients use; a value with a broken escape or invalid UTF-8 is returned unchanged.
fn url_decode(value: &str) -> String {
    fn decode(value: &str) -> Option<String> {
        let mut bytes = Vec::with_capacity(value.len());
        let mut input = value.bytes();
        while let Some(byte) = input.next() {
            bytes.push(match byte {
                b'+' => b' ',
                b'%' => {
                    let high = char::from(input.next()?).to_digit(16)?;
                    let low = char::from(input.next()?).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()?
                }
                other => other,
            });
        }
        String::from_utf8(bytes).ok()
    }
    decode(value).unwrap_or_else(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_coding_round_trips() {
        for value in ["", "plain", "a b+c", "100%", "é/ü:;,=", "\u{1F600}"] {
            assert_eq!(url_decode(&url_encode(value)), value);
        }
        assert_eq!(url_decode("a+b%2Bc"), "a b+c");
        assert_eq!(url_decode("50%"), "50%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(url_decode("%ff"), "%ff"); // not UTF-8
    }

    #[test]
    fn header_tokens() {
        assert!(is_header_token("user-id_2"));
        assert!(!is_header_token(""));
        assert!(!is_header_token("a b"));
        assert!(!is_header_token("a:b"));
    }
}
