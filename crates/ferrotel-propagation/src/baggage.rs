//! [W3C Baggage](https://www.w3.org/TR/baggage/) propagation: the `baggage` header,
//! `OTEL_PROPAGATORS=baggage`.
//!
//! `baggage: key1=value1;property1;property2=x, key2=value2`
//!
//! # Extraction rules
//!
//! * Repeated `baggage` headers are joined in order (read with [`Extractor::get_all`]).
//! * Each member is `key = value *(; property)`, optional whitespace around every part is
//!   trimmed. The key is an RFC 9110 token (not decoded); the value is made of the characters
//!   the specification allows and is percent-decoded (a sequence that is not UTF-8 becomes
//!   U+FFFD). Properties (`key` or `key=value`) are validated the same way and kept, without
//!   whitespace and not decoded, as the member's
//!   [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata), `;`-separated, so that
//!   injection writes them back unchanged.
//! * An invalid member is skipped; the others are kept. A later member with the same key wins.
//! * The members are added to the context's [`Baggage`], keeping what is there (as the
//!   [Jaeger propagator](crate::jaeger) does, so that both can run in one composite
//!   propagator). [`Baggage`]'s own limits apply: at most 64 entries and 8192 bytes of
//!   key + value + metadata; members beyond them are dropped whole.
//!
//! # Injection
//!
//! All members, sorted by key, values percent-encoded (every byte outside the allowed
//! characters, and `%`), properties that are not valid dropped. When the header would hold more
//! than 64 members or 8192 bytes, whole members are dropped — the largest first — until it
//! fits; a member is never cut.
//!
//! # Compared with `opentelemetry_sdk::propagation::BaggagePropagator`
//!
//! The SDK's propagator reads only the first `baggage` header, drops a header over 8192 bytes
//! entirely, cuts a value at its second `=`, replaces the context's baggage, and injects without
//! checking the header's encoded size (its [`Baggage`] limits count the decoded bytes without
//! separators, so the header can exceed 8192 bytes).

use std::borrow::Cow;

use opentelemetry::{
    baggage::{Baggage, BaggageExt},
    propagation::{text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator},
    Context,
};
use percent_encoding::percent_decode_str;

use crate::carrier::{header_values, is_header_token, trim_ows};

/// The baggage header: `baggage`.
pub const BAGGAGE_HEADER: &str = "baggage";
/// Injection writes at most this many members.
pub const MAX_MEMBERS: usize = 64;
/// Injection writes at most this many bytes of header value.
pub const MAX_HEADER_BYTES: usize = 8192;

/// W3C Baggage [`TextMapPropagator`]. See the [module docs](self) for the rules.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::BaggagePropagator;
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert("baggage".to_string(), "user = ada%20l;pii, bad key=1, n=2".to_string());
/// let cx = BaggagePropagator::new().extract_with_context(&Context::new(), &headers);
/// let (value, metadata) = cx.baggage().get_with_metadata("user").unwrap();
/// assert_eq!((value.as_str(), metadata.as_str()), ("ada l", "pii"));
/// assert_eq!(cx.baggage().len(), 2); // `bad key` is skipped
/// ```
#[derive(Clone, Debug)]
pub struct BaggagePropagator {
    fields: [String; 1],
}

impl BaggagePropagator {
    /// A propagator for the `baggage` header.
    pub fn new() -> Self {
        Self {
            fields: [BAGGAGE_HEADER.to_owned()],
        }
    }
}

impl Default for BaggagePropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let mut members: Vec<(&str, String)> = cx
            .baggage()
            .iter()
            .filter(|(key, _)| is_header_token(key.as_str()))
            .map(|(key, (value, metadata))| {
                let mut member = format!("{}={}", key.as_str(), encode_value(value.as_str()));
                for property in metadata.as_str().split(';').filter_map(parse_property) {
                    member.push(';');
                    member.push_str(&property);
                }
                (key.as_str(), member)
            })
            .collect();
        if members.is_empty() {
            return;
        }
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut len = members.iter().map(|(_, m)| m.len()).sum::<usize>() + members.len() - 1;
        while members.len() > MAX_MEMBERS || len > MAX_HEADER_BYTES {
            // The largest member (the last of equal ones) goes first.
            let Some(index) = members
                .iter()
                .enumerate()
                .max_by_key(|(_, (_, member))| member.len())
                .map(|(index, _)| index)
            else {
                return;
            };
            let (_, dropped) = members.remove(index);
            if members.is_empty() {
                return;
            }
            len -= dropped.len() + 1;
        }
        let header: Vec<String> = members.into_iter().map(|(_, member)| member).collect();
        injector.set(BAGGAGE_HEADER, header.join(","));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let headers = header_values(extractor, BAGGAGE_HEADER);
        let mut members = headers
            .iter()
            .flat_map(|header| header.split(','))
            .filter_map(parse_member)
            .peekable();
        if members.peek().is_none() {
            return cx.clone();
        }
        let mut baggage: Baggage = cx
            .baggage()
            .iter()
            .map(|(key, (value, metadata))| (key.clone(), (value.clone(), metadata.clone())))
            .collect();
        for (key, value, properties) in members {
            // Over Baggage's limits the member is dropped whole; nothing to do about it here.
            let _previous = baggage.insert_with_metadata(key.to_owned(), value, properties);
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// `baggage-octet`: visible ASCII but `"`, `,`, `;` and `\`.
fn is_baggage_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// `key = value *(; property)` as the key, the decoded value and the `;`-joined properties.
fn parse_member(member: &str) -> Option<(&str, String, String)> {
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_header_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
    let mut properties = String::new();
    for property in parts {
        let property = parse_property(property)?;
        if !properties.is_empty() {
            properties.push(';');
        }
        properties.push_str(&property);
    }
    Some((key, value, properties))
}

/// A property, `key` or `key = value`, without whitespace; `None` when invalid.
fn parse_property(property: &str) -> Option<Cow<'_, str>> {
    match property.split_once('=') {
        None => {
            let key = trim_ows(property);
            is_header_token(key).then_some(Cow::Borrowed(key))
        }
        Some((key, value)) => {
            let (key, value) = (trim_ows(key), trim_ows(value));
            (is_header_token(key) && value.bytes().all(is_baggage_octet))
                .then(|| Cow::Owned(format!("{key}={value}")))
        }
    }
}

/// Percent-encodes every byte that is not a `baggage-octet`, and `%`.
fn encode_value(value: &str) -> Cow<'_, str> {
    if value.bytes().all(|b| is_baggage_octet(b) && b != b'%') {
        return Cow::Borrowed(value);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if is_baggage_octet(byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn members() {
        let parsed = parse_member(" k = v%2C1 ; p1 ; p2 = x ").unwrap();
        assert_eq!(parsed, ("k", "v,1".to_owned(), "p1;p2=x".to_owned()));
        assert_eq!(parse_member("k=").unwrap().1, "");
        assert_eq!(parse_member("k=a=b").unwrap().1, "a=b");
        assert_eq!(parse_member("k=%FF").unwrap().1, "\u{FFFD}");
        assert_eq!(parse_member("k=%zz").unwrap().1, "%zz");
        for bad in [
            "", "k", "=v", "k k=v", "k=v v", "k=\"v\"", "k=v\\", "k=v;", "k=v;p p",
        ] {
            assert!(parse_member(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn encoding_round_trips() {
        for value in ["plain", "a b,c;d\"e\\f%g", "é✓", ""] {
            let encoded = encode_value(value);
            assert!(encoded.bytes().all(is_baggage_octet), "{encoded}");
            assert_eq!(percent_decode_str(&encoded).decode_utf8_lossy(), value);
        }
    }
}
