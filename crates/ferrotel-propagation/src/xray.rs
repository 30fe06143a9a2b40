//! [AWS X-Ray](https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader)
//! propagation: the `X-Amzn-Trace-Id` header.
//!
//! `X-Amzn-Trace-Id: Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={0|1}`
//!
//! * `Root`: version `1`, then the trace id's first 8 hex digits (X-Ray's epoch seconds; opaque
//!   to propagation), then its other 24; lower-case hex, exact lengths, not zero;
//! * `Parent`: the span id, 16 lower-case hex digits, not zero;
//! * `Sampled`: `1` or `0`; absent means not sampled. `?` (the sender asks the receiver to
//!   decide) is accepted as not sampled, so the receiver's sampler decides.
//!
//! Parts are separated by `;`, spaces and tabs around a part are ignored, and an empty part
//! (a trailing `;`) is skipped. Other keys (`Self`, `Lineage`, custom data) are allowed and
//! ignored. `Root` and `Parent` are both required; a part without `=`, a repeated `Root`,
//! `Parent` or `Sampled`, or any malformed value makes the whole header invalid, and so does
//! the header repeated with different values. An invalid header leaves the context as it was,
//! so the request starts a new trace.
//!
//! Injection writes the three parts for a valid span context, nothing otherwise. The header
//! name is written in lower case, as gRPC metadata requires; HTTP matches it in any case.

use opentelemetry::{
    propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
    Context,
};

use crate::carrier::{read_header, trim_ows};
use crate::hex::{parse_hex, HexCase};

/// The trace header: `x-amzn-trace-id` (`X-Amzn-Trace-Id`).
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// The only `Root` version there is.
const ROOT_VERSION: &str = "1";

/// AWS X-Ray [`TextMapPropagator`] for `X-Amzn-Trace-Id`. See the [module docs](self) for the
/// exact rules.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::XrayPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "x-amzn-trace-id".to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
/// );
/// let cx = XrayPropagator::new().extract_with_context(&Context::new(), &headers);
/// let span = cx.span();
/// let parent = span.span_context();
/// assert_eq!(parent.trace_id(), TraceId::from(0x5759e988_bd862e3f_e1be46a9_94272793));
/// assert_eq!(parent.span_id(), SpanId::from(0x53995c3f42cd8ad8));
/// assert!(parent.is_sampled() && parent.is_remote());
/// ```
#[derive(Clone, Debug)]
pub struct XrayPropagator {
    fields: [String; 1],
}

impl XrayPropagator {
    /// A propagator using the standard `X-Amzn-Trace-Id` header.
    pub fn new() -> Self {
        Self {
            fields: [TRACE_HEADER.to_owned()],
        }
    }
}

impl Default for XrayPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let trace_id = format!("{:032x}", span_context.trace_id());
        let (epoch, unique) = trace_id.split_at(8);
        injector.set(
            TRACE_HEADER,
            format!(
                "Root={ROOT_VERSION}-{epoch}-{unique};Parent={:016x};Sampled={}",
                span_context.span_id(),
                u8::from(span_context.is_sampled())
            ),
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match read_header(extractor, TRACE_HEADER) {
            Ok(Some(value)) => match parse_trace_header(value) {
                Some(span_context) => cx.with_remote_span_context(span_context),
                None => cx.clone(),
            },
            Ok(None) | Err(_) => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Parses `Root=…;Parent=…;Sampled=…` into a remote span context.
fn parse_trace_header(value: &str) -> Option<SpanContext> {
    let (mut root, mut parent, mut sampled) = (None, None, None);
    for part in value.split(';') {
        let part = trim_ows(part);
        if part.is_empty() {
            continue;
        }
        let (key, value) = part.split_once('=')?;
        let slot = match key {
            "Root" => &mut root,
            "Parent" => &mut parent,
            "Sampled" => &mut sampled,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let trace_id = parse_root(root?)?;
    let span_id = parse_span_id(parent?)?;
    let sampled = match sampled {
        None | Some("0") | Some("?") => false,
        Some("1") => true,
        Some(_) => return None,
    };
    Some(SpanContext::new(
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::default().with_sampled(sampled),
        true,
        TraceState::NONE,
    ))
}

/// `1-{8 hex}-{24 hex}` as a non-zero 128-bit trace id.
fn parse_root(root: &str) -> Option<u128> {
    let mut parts = root.split('-');
    let (version, epoch, unique) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != ROOT_VERSION || epoch.len() != 8 || unique.len() != 24 {
        return None;
    }
    let epoch = parse_hex(epoch, 8, HexCase::Lower)?;
    let unique = parse_hex(unique, 24, HexCase::Lower)?;
    let trace_id = (epoch << 96) | unique;
    (trace_id != 0).then_some(trace_id)
}

/// 16 hex digits as a non-zero span id.
fn parse_span_id(parent: &str) -> Option<u64> {
    if parent.len() != 16 {
        return None;
    }
    let span_id = u64::try_from(parse_hex(parent, 16, HexCase::Lower)?).ok()?;
    (span_id != 0).then_some(span_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_parent_parse_strictly() {
        assert_eq!(
            parse_root("1-5759e988-bd862e3fe1be46a994272793"),
            Some(0x5759_e988_bd86_2e3f_e1be_46a9_9427_2793)
        );
        for bad in [
            "",
            "1",
            "1-5759e988",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759E988-bd862e3fe1be46a994272793",
            "1-5759e98-bd862e3fe1be46a9942727930",
            "1-5759e988-bd862e3fe1be46a99427279",
            "1-5759e988-bd862e3fe1be46a994272793-",
            "1-00000000-000000000000000000000000",
            "1-+759e988-bd862e3fe1be46a994272793",
            "01-5759e988-bd862e3fe1be46a994272793",
        ] {
            assert_eq!(parse_root(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_span_id("53995c3f42cd8ad8"),
            Some(0x5399_5c3f_42cd_8ad8)
        );
        for bad in [
            "",
            "0000000000000000",
            "53995C3F42CD8AD8",
            "53995c3f42cd8ad",
            "53995c3f42cd8ad8a",
        ] {
            assert_eq!(parse_span_id(bad), None, "{bad:?}");
        }
    }
}
