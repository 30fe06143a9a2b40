//! `http::HeaderMap` as a propagation carrier. Extraction sees every value of a repeated header
//! (`get_all`), which the W3C rules need: two `traceparent` headers are invalid, several
//! `tracestate` headers are joined. gRPC metadata travels as HTTP/2 headers, so the same
//! carrier serves tonic.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation fields from request or response headers.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // A known name skips parsing the key on every lookup.
        match known_name(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        }
        .and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all = match known_name(key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        };
        // An empty `Vec` (no allocation) says "absent" without sending the propagator back to
        // `get` for a second lookup.
        Some(all.iter().filter_map(|v| v.to_str().ok()).collect())
    }
}

/// Writes propagation fields into request headers. Invalid names or values are skipped: a
/// propagator's output must never fail a request.
///
/// `traceparent` is marked never-indexed for HPACK: its value is new on every request, so
/// putting it in the connection's dynamic table only evicts the headers that do repeat.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

/// The fields the W3C, baggage, B3 and Jaeger propagators write, named without parsing: the
/// names are constants, built at compile time.
fn known_name(key: &str) -> Option<HeaderName> {
    const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    const B3: HeaderName = HeaderName::from_static("b3");
    const UBER_TRACE_ID: HeaderName = HeaderName::from_static("uber-trace-id");
    Some(match key {
        "traceparent" => TRACEPARENT,
        "tracestate" => TRACESTATE,
        "baggage" => BAGGAGE,
        "b3" => B3,
        "uber-trace-id" => UBER_TRACE_ID,
        _ => return None,
    })
}

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = match known_name(key) {
            Some(name) => name,
            None => match HeaderName::from_bytes(key.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        // Takes the string's buffer instead of copying it.
        let Ok(mut value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)) else {
            return;
        };
        if name == "traceparent" {
            value.set_sensitive(true);
        }
        self.0.insert(name, value);
    }
}
