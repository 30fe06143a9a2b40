//! The JSON log line: one flat object per line, in the shape log pipelines (Loki, ELK, Fluentd)
//! expect from a service.
//!
//! ```text
//! {"timestamp":"…","level":"INFO","service":"ingestion-service","message":"Asset uploaded successfully",
//!  "target":"ingest::api","trace_id":"…","span_id":"…","asset_id":"asset-456","duration_ms":150,
//!  "request_id":"req-123"}
//! ```
//!
//! The fixed keys ([`FIXED_KEYS`]) come first, then the event's fields, then the fields of the
//! current span and its parents, innermost first. A name already written is not written again,
//! so the innermost value wins; a field named like a fixed key is written under
//! [`COLLISION_PREFIX`] instead of being lost. Every key and string goes through `serde_json`.

use std::error::Error;
use std::fmt::{self, Write as _};

use serde_json::Value;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::format::{current_ids, DispatchCell};

/// The keys every line owns, in the order they are written. `trace_id` and `span_id` are
/// written only inside a sampled span, but stay reserved so a field cannot pass for them.
pub(crate) const FIXED_KEYS: [&str; 7] = [
    "timestamp",
    "level",
    "service",
    "message",
    "target",
    "trace_id",
    "span_id",
];

/// What a field named like a fixed key is written under: `message` becomes `field.message`.
pub(crate) const COLLISION_PREFIX: &str = "field.";

/// The JSON event format; see the [module docs](self).
pub(crate) struct JsonLine {
    /// `service.name`, already a JSON string.
    service: String,
    dispatch: DispatchCell,
}

impl JsonLine {
    pub(crate) fn new(service: &str, dispatch: DispatchCell) -> Self {
        Self {
            service: json_string(service),
            dispatch,
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = FieldValues::default();
        event.record(&mut fields);

        let mut line = Line::default();
        let mut time = String::with_capacity(32);
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        line.fixed("timestamp", &json_string(&time));
        line.fixed("level", &json_string(meta.level().as_str()));
        line.fixed("service", &self.service);
        let message = match fields.message.take() {
            Some(Value::String(text)) => text,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        line.fixed("message", &json_string(&message));
        line.fixed("target", &json_string(meta.target()));
        let ids = self
            .dispatch
            .get()
            .and_then(WeakDispatch::upgrade)
            .and_then(|dispatch| current_ids(ctx, &dispatch));
        if let Some((trace_id, span_id)) = ids {
            line.fixed("trace_id", &format!("\"{trace_id}\""));
            line.fixed("span_id", &format!("\"{span_id}\""));
        }
        for (name, value) in &fields.values {
            line.field(name, value);
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                // Fields this formatter did not write (another formatter's text) are skipped.
                let Ok(values) = serde_json::from_str::<SpanFields>(stored) else {
                    continue;
                };
                for (name, value) in &values {
                    line.field(name, value);
                }
            }
        }
        writer.write_str(&line.finish())
    }
}

/// A line being written: the object so far and the keys already in it.
#[derive(Default)]
struct Line {
    text: String,
    keys: Vec<String>,
}

impl Line {
    /// Writes a fixed key with `value`, already JSON.
    fn fixed(&mut self, key: &str, value: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        self.text.push('"');
        self.text.push_str(key);
        self.text.push_str("\":");
        self.text.push_str(value);
    }

    /// Writes a field unless a field of that name was written before (the innermost wins).
    fn field(&mut self, name: &str, value: &Value) {
        let key = if FIXED_KEYS.contains(&name) {
            format!("{COLLISION_PREFIX}{name}")
        } else {
            name.to_owned()
        };
        if self.keys.contains(&key) {
            return;
        }
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        self.text.push_str(&json_string(&key));
        self.text.push(':');
        self.text.push_str(&value.to_string());
        self.keys.push(key);
    }

    /// The finished line, newline included, with the characters `serde_json` leaves raw but a
    /// terminal would act on (DEL and the C1 controls) escaped: the line cannot drive a
    /// terminal, and it decodes to the same values.
    fn finish(mut self) -> String {
        if self.text.is_empty() {
            self.text.push('{');
        }
        self.text.push_str("}\n");
        if !self.text.chars().any(is_terminal_control) {
            return self.text;
        }
        let mut escaped = String::with_capacity(self.text.len() + 16);
        for ch in self.text.chars() {
            if is_terminal_control(ch) {
                let _ = write!(escaped, "\\u{:04x}", ch as u32);
            } else {
                escaped.push(ch);
            }
        }
        escaped
    }
}

fn is_terminal_control(ch: char) -> bool {
    matches!(ch, '\u{7f}'..='\u{9f}')
}

/// `text` as a JSON string, quotes included.
fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// The JSON span field formatter: each span's fields are kept as a JSON array of
/// `[name, value]` pairs, in the order they were recorded, a re-recorded field replacing its
/// old value (an array keeps the order a JSON object would lose).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JsonSpanFields;

/// A span's stored fields.
type SpanFields = Vec<(String, Value)>;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut values = FieldValues::default();
        fields.record(&mut values);
        let text = serde_json::to_string(&values.into_pairs()).map_err(|_| fmt::Error)?;
        writer.write_str(&text)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut all: SpanFields = if current.fields.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&current.fields).map_err(|_| fmt::Error)?
        };
        let mut values = FieldValues::default();
        fields.record(&mut values);
        for (name, value) in values.into_pairs() {
            match all.iter_mut().find(|(old, _)| *old == name) {
                Some(slot) => slot.1 = value,
                None => all.push((name, value)),
            }
        }
        current.fields = serde_json::to_string(&all).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// A record's fields as JSON values, in order; `message` apart. `log.*` fields (the `log`
/// crate's metadata, already in the level and target) are left out, and raw identifiers lose
/// their `r#`.
#[derive(Default)]
struct FieldValues {
    message: Option<Value>,
    values: Vec<(String, Value)>,
}

impl FieldValues {
    /// All the fields, `message` first when there is one.
    fn into_pairs(self) -> SpanFields {
        let mut all = self.values;
        if let Some(message) = self.message {
            all.insert(0, ("message".to_owned(), message));
        }
        all
    }

    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if name == "message" {
            self.message = Some(value);
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.values.push((name.to_owned(), value));
    }
}

impl Visit for FieldValues {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // NaN and the infinities are no JSON numbers: they are written as text.
        let value = serde_json::Number::from_f64(value)
            .map_or_else(|| Value::from(value.to_string()), Value::Number);
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value =
            i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.put(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value =
            u64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::from);
        self.put(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
        let mut sources = Vec::new();
        let mut next = value.source();
        while let Some(err) = next {
            sources.push(Value::from(err.to_string()));
            next = err.source();
        }
        if !sources.is_empty() && !field.name().starts_with("log.") {
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.values
                .push((format!("{name}.sources"), Value::Array(sources)));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The lines `log` writes through the JSON layer (no tracer, so no ids), raw and parsed.
    fn lines(log: impl FnOnce()) -> Vec<(String, Value)> {
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .fmt_fields(JsonSpanFields)
            .event_format(JsonLine::new("svc \"quoted\"", DispatchCell::default()))
            .with_writer({
                let buffer = buffer.clone();
                move || buffer.clone()
            });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|raw| {
                let value = serde_json::from_str(raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
                (raw.to_owned(), value)
            })
            .collect()
    }

    fn keys(raw: &str, value: &Value) -> Vec<String> {
        let mut keys: Vec<(usize, String)> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| {
                (
                    raw.find(&format!("{}:", json_string(k))).unwrap(),
                    k.clone(),
                )
            })
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn fixed_keys_then_event_fields_then_spans_innermost_first() {
        let out = lines(|| {
            let outer = tracing::info_span!("outer", request_id = "req-outer", zone = "eu");
            let _outer = outer.enter();
            let inner = tracing::info_span!(
                "inner",
                request_id = "req-123",
                late = tracing::field::Empty
            );
            let _inner = inner.enter();
            inner.record("late", 7);
            inner.record("late", 8);
            tracing::info!(
                asset_id = "asset-456",
                duration_ms = 150,
                "Asset uploaded successfully"
            );
            tracing::warn!(zone = "event wins", "second");
        });
        let (raw, line) = &out[0];
        assert_eq!(
            keys(raw, line),
            [
                "timestamp",
                "level",
                "service",
                "message",
                "target",
                "asset_id",
                "duration_ms",
                "request_id",
                "late",
                "zone"
            ],
            "{raw}"
        );
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["service"], "svc \"quoted\"");
        assert_eq!(line["message"], "Asset uploaded successfully");
        assert_eq!(line["target"], module_path!());
        assert_eq!(line["duration_ms"], 150);
        assert_eq!(line["request_id"], "req-123");
        assert_eq!(line["late"], 8, "a re-recorded field replaces its value");
        assert_eq!(line["zone"], "eu");
        let (raw, line) = &out[1];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["zone"], "event wins", "{raw}");
    }

    #[test]
    fn fields_named_like_fixed_keys_are_kept_under_a_prefix() {
        let out = lines(|| {
            let span = tracing::info_span!(
                "s",
                message = "span message",
                timestamp = 1,
                trace_id = "not a trace"
            );
            let _span = span.enter();
            let inner = tracing::info_span!("inner", level = "inner level");
            let _inner = inner.enter();
            tracing::error!(
                level = "custom",
                target = "mine",
                service = "other",
                span_id = 3,
                "real"
            );
        });
        let (raw, line) = &out[0];
        let object = line.as_object().unwrap();
        assert_eq!(line["message"], "real");
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["service"], "svc \"quoted\"");
        assert_eq!(line["target"], module_path!());
        assert_eq!(
            line["field.level"], "custom",
            "the event's field is innermost: {raw}"
        );
        assert_eq!(line["field.target"], "mine");
        assert_eq!(line["field.service"], "other");
        assert_eq!(line["field.span_id"], 3);
        assert_eq!(line["field.message"], "span message");
        assert_eq!(line["field.timestamp"], 1);
        assert_eq!(line["field.trace_id"], "not a trace");
        assert!(
            !object.contains_key("trace_id") && !object.contains_key("span_id"),
            "{raw}"
        );
        // No key twice: a parser keeping the last one would hide the first.
        let keys = keys(raw, line);
        assert_eq!(keys.len(), raw.matches("\":").count(), "{raw}");
    }

    #[test]
    fn values_keep_their_json_types_and_foreign_text_is_escaped() {
        #[derive(Debug)]
        struct Failure(&'static str, Option<Box<Failure>>);
        impl fmt::Display for Failure {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl Error for Failure {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                self.1.as_deref().map(|e| e as &(dyn Error + 'static))
            }
        }
        let out = lines(|| {
            let chain = Failure("outer", Some(Box::new(Failure("root \"cause\"", None))));
            tracing::info!(
                n = -3i64,
                big = u64::MAX,
                huge = i128::MIN,
                f = 0.5f64,
                nan = f64::NAN,
                ok = true,
                dbg = ?Some("x"),
                r#type = "raw",
                err = &chain as &(dyn Error + 'static),
                "quote \" backslash \\ newline \n esc \x1b[31m c1 \u{9b} del \x7f"
            );
            tracing::info!(count = 1);
        });
        let (raw, line) = &out[0];
        assert_eq!(
            line.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !FIXED_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<serde_json::Map<_, _>>(),
            json!({
                "n": -3, "big": u64::MAX, "huge": i128::MIN.to_string(), "f": 0.5, "nan": "NaN",
                "ok": true, "dbg": "Some(\"x\")", "type": "raw", "err": "outer",
                "err.sources": ["root \"cause\""]
            })
            .as_object()
            .unwrap()
            .clone(),
            "{raw}"
        );
        assert_eq!(
            line["message"],
            "quote \" backslash \\ newline \n esc \x1b[31m c1 \u{9b} del \x7f"
        );
        assert!(
            !raw.chars().any(|c| c.is_control()),
            "no raw control character reaches the terminal: {raw:?}"
        );
        let (_, line) = &out[1];
        assert_eq!(
            line["message"], "",
            "a line without a message still has the key"
        );
        assert_eq!(line["count"], 1);
    }
}
