//! Shared by the propagator targets: a carrier built from fuzz input, which may repeat a
//! header (the W3C rules treat two `traceparent` headers as invalid and join `tracestate`s).

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;

/// Header name → every value, in order.
#[derive(Default)]
pub struct Headers(pub HashMap<String, Vec<String>>);

impl Extractor for Headers {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        self.0
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
    }
}

/// Splits `data` into lines; each line's first byte picks one of `names`, the rest is the
/// value (lossily UTF-8, as a header value seen as text would be).
pub fn headers(data: &[u8], names: &[&str]) -> Headers {
    let mut headers = Headers::default();
    for line in data.split(|b| *b == b'\n') {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        let name = names[pick as usize % names.len()];
        headers
            .0
            .entry(name.to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value).into_owned());
    }
    headers
}

/// Extraction never panics; what it accepts injects again and extracts to the same span.
pub fn round_trip<P: TextMapPropagator>(propagator: &P, headers: &Headers) {
    let cx = propagator.extract_with_context(&Context::new(), headers);
    let mut out: HashMap<String, String> = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        let again = Headers(out.into_iter().map(|(k, v)| (k, vec![v])).collect());
        let cx2 = propagator.extract_with_context(&Context::new(), &again);
        let span2 = cx2.span();
        let sc2 = span2.span_context();
        assert_eq!(
            sc.trace_id(),
            sc2.trace_id(),
            "trace id survives a round trip"
        );
        assert_eq!(sc.span_id(), sc2.span_id(), "span id survives a round trip");
    }
}
