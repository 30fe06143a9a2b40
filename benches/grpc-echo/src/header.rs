//! The `bare-header` case: the least any layer that propagates W3C trace context pays on this
//! stack. The client puts one fixed, valid `traceparent` on every request; the server reads it
//! and parses it. No span, no sampler, no metric, no wrapped future or body.
//!
//! The header is sent never-indexed, as ferrotel sends it: a real `traceparent` is unique per
//! request, so h2 must code it in full each time. A fixed value left indexable would sit in the
//! connection's HPACK table after the first request and cost one byte from then on, a floor no
//! propagating layer can reach.
//!
//! The parse is this module's own, minimal one (length, dashes, lower-case hex through a table,
//! non-zero ids): what any W3C extractor must check, without building an OpenTelemetry
//! `Context`, which is ferrotel's work above the floor.

use std::task::{Context as TaskContext, Poll};

use http::header::{HeaderName, HeaderValue};
use tower::{Layer, Service};

/// The header's name, built at compile time.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A valid version-00 `traceparent`, sampled, with the random flag: what ferrotel's client
/// writes, in length and shape.
const VALUE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

/// Client side: inserts the fixed `traceparent`.
#[derive(Clone, Debug)]
pub(crate) struct InjectLayer {
    value: HeaderValue,
}

impl InjectLayer {
    pub(crate) fn new() -> Self {
        let mut value = HeaderValue::from_static(VALUE);
        value.set_sensitive(true);
        Self { value }
    }
}

impl<S> Layer<S> for InjectLayer {
    type Service = Inject<S>;

    fn layer(&self, inner: S) -> Inject<S> {
        Inject {
            inner,
            value: self.value.clone(),
        }
    }
}

/// See [`InjectLayer`].
#[derive(Clone, Debug)]
pub(crate) struct Inject<S> {
    inner: S,
    value: HeaderValue,
}

impl<S, B> Service<http::Request<B>> for Inject<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> S::Future {
        request
            .headers_mut()
            .insert(TRACEPARENT.clone(), self.value.clone());
        self.inner.call(request)
    }
}

/// Server side: reads and parses `traceparent`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ParseLayer;

impl<S> Layer<S> for ParseLayer {
    type Service = Parse<S>;

    fn layer(&self, inner: S) -> Parse<S> {
        Parse { inner }
    }
}

/// See [`ParseLayer`].
#[derive(Clone, Debug)]
pub(crate) struct Parse<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Parse<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> S::Future {
        let parsed = request
            .headers()
            .get(&TRACEPARENT)
            .and_then(|v| parse(v.as_bytes()));
        // Kept observable, so the parse is not optimised away.
        std::hint::black_box(parsed);
        self.inner.call(request)
    }
}

/// Nibble value of each byte, or `INVALID` for anything but `0-9a-f`.
const INVALID: u8 = 0xff;
static NIBBLE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// `digits` as a number, if every byte is a lower-case hex digit.
fn hex(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &b| {
        let nibble = NIBBLE[usize::from(b)];
        (nibble != INVALID).then_some((acc << 4) | u128::from(nibble))
    })
}

/// (trace id, span id, flags) of a version-00 `traceparent`.
fn parse(value: &[u8]) -> Option<(u128, u64, u8)> {
    if value.len() != 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    if hex(&value[0..2])? != 0 {
        return None;
    }
    let trace_id = hex(&value[3..35])?;
    let span_id = u64::try_from(hex(&value[36..52])?).ok()?;
    let flags = u8::try_from(hex(&value[53..55])?).ok()?;
    (trace_id != 0 && span_id != 0).then_some((trace_id, span_id, flags))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_the_value_sent_and_refuses_bad_ones() {
        assert_eq!(
            parse(super::VALUE.as_bytes()),
            Some((
                0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
                0x00f0_67aa_0ba9_02b7,
                0x03
            ))
        );
        assert_eq!(
            parse(b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-03"),
            None
        );
        assert_eq!(
            parse(b"00-00000000000000000000000000000000-00f067aa0ba902b7-03"),
            None
        );
        assert_eq!(
            parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
            None
        );
        assert_eq!(parse(b"00-4bf9"), None);
    }
}
