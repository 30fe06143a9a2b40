//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` / `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, which the
//! Rust SDK does not implement: string values (and strings in arrays) longer than the limit are
//! cut to it, on span, event and link attributes, before the span is queued for export.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Cuts every over-long string attribute of `span` to `limit` characters.
pub(crate) fn truncate_span(span: &mut SpanData, limit: usize) {
    truncate_all(&mut span.attributes, limit);
    for event in &mut span.events.events {
        truncate_all(&mut event.attributes, limit);
    }
    for link in &mut span.links.links {
        truncate_all(&mut link.attributes, limit);
    }
}

fn truncate_all(attributes: &mut [KeyValue], limit: usize) {
    for kv in attributes {
        match &mut kv.value {
            Value::String(s) => {
                if let Some(cut) = truncated(s.as_str(), limit) {
                    *s = StringValue::from(cut);
                }
            }
            Value::Array(Array::String(values)) => {
                for s in values {
                    if let Some(cut) = truncated(s.as_str(), limit) {
                        *s = StringValue::from(cut);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The first `limit` characters of `s`, when `s` is longer; never splits a character.
fn truncated(s: &str, limit: usize) -> Option<String> {
    if s.len() <= limit {
        return None; // byte length bounds char length
    }
    let (end, _) = s.char_indices().nth(limit)?;
    Some(s[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_strings_and_string_arrays_on_char_boundaries() {
        let mut attrs = vec![
            KeyValue::new("short", "abc"),
            KeyValue::new("long", "héllo wörld"),
            KeyValue::new("n", 123_456_789_i64),
            KeyValue::new(
                "list",
                Value::Array(Array::String(vec!["ééééé".into(), "ok".into()])),
            ),
        ];
        truncate_all(&mut attrs, 3);
        assert_eq!(attrs[0].value.as_str(), "abc");
        assert_eq!(attrs[1].value.as_str(), "hél");
        assert_eq!(attrs[2].value, Value::I64(123_456_789));
        assert_eq!(
            attrs[3].value,
            Value::Array(Array::String(vec!["ééé".into(), "ok".into()]))
        );
    }
}
