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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ferrotel_propagation::{TraceContextPropagator, W3cTraceStateExt as _};
    use opentelemetry::propagation::TextMapPropagator as _;
    use opentelemetry::trace::TraceContextExt as _;
    use opentelemetry::Context;

    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn extract(map: &HeaderMap) -> Context {
        TraceContextPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(map))
    }

    #[test]
    fn an_absent_header_is_an_empty_list_and_a_present_one_every_value() {
        let map = headers(&[("tracestate", "a=1"), ("tracestate", "b=2")]);
        let extractor = HeaderExtractor(&map);
        assert_eq!(extractor.get_all("traceparent"), Some(vec![]));
        assert_eq!(extractor.get_all("x-unknown"), Some(vec![]));
        assert_eq!(extractor.get_all("tracestate"), Some(vec!["a=1", "b=2"]));
        assert_eq!(extractor.get("tracestate"), Some("a=1"));
    }

    #[test]
    fn w3c_extraction_through_the_header_map() {
        // One traceparent, tracestate split over two headers: joined in order.
        let cx = extract(&headers(&[
            ("traceparent", TP),
            ("tracestate", "a=1"),
            ("tracestate", "b=2"),
        ]));
        let span = cx.span();
        assert!(span.span_context().is_remote() && span.span_context().is_sampled());
        assert_eq!(cx.w3c_trace_state().header(), "a=1,b=2");
        // Without tracestate: the parent, with an empty list.
        let cx = extract(&headers(&[("traceparent", TP)]));
        assert!(cx.span().span_context().is_valid());
        assert!(cx.w3c_trace_state().is_empty());
        // Two traceparent headers are invalid: no parent.
        let cx = extract(&headers(&[("traceparent", TP), ("traceparent", TP)]));
        assert!(!cx.span().span_context().is_valid());
        // No traceparent at all: no parent.
        let cx = extract(&headers(&[("tracestate", "a=1")]));
        assert!(!cx.span().span_context().is_valid());
    }
}
