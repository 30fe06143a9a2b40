//! Span and event fields as log text: exactly what tracing-subscriber's `DefaultFields` writes
//! with ANSI off, without its styling.
//!
//! The fmt layer formats every new span's fields as soon as the span is created (for the log
//! lines that may follow), sampled or not. `DefaultFields` paints each field name through
//! `nu_ansi_term` even when ANSI is off, which cost ~1,150 of the ~1,650 instructions that
//! formatting a one-field span took (BENCHMARKS.md). [`PlainFields`] writes the same bytes
//! directly.

use std::error::Error;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// The text log layer's field formatter; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PlainFields;

impl<'a> MakeVisitor<Writer<'a>> for PlainFields {
    type Visitor = PlainVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> PlainVisitor<'a> {
        PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// Writes `name=value` pairs separated by single spaces; the `message` field bare.
pub(crate) struct PlainVisitor<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    fn write_pair(&mut self, name: &str, value: &dyn fmt::Debug) -> fmt::Result {
        self.writer.write_str(name)?;
        self.writer.write_char('=')?;
        write!(self.writer, "{value:?}")
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        let sanitize = self.writer.sanitizes_ansi_escapes();
        let shown = Escaped::new(value, sanitize);
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!(
                    "{shown} {}.sources={}",
                    field.name(),
                    Sources { source, sanitize }
                ),
            ),
            None => self.record_debug(field, &format_args!("{shown}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        // The `log` crate's metadata, already in the line's level and target (tracing-log).
        if name.starts_with("log.") {
            return;
        }
        if self.is_empty {
            self.is_empty = false;
        } else if let Err(err) = self.writer.write_char(' ') {
            self.result = Err(err);
            return;
        }
        self.result = match name {
            "message" => {
                let sanitize = self.writer.sanitizes_ansi_escapes();
                write!(self.writer, "{:?}", Escaped::new(value, sanitize))
            }
            _ => self.write_pair(name.strip_prefix("r#").unwrap_or(name), value),
        };
    }
}

impl VisitOutput<fmt::Result> for PlainVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// A value written with terminal control characters escaped, when the writer asks for it (as
/// tracing-subscriber escapes messages and errors, so a log line cannot drive a terminal).
struct Escaped<T> {
    value: T,
    sanitize: bool,
}

impl<T> Escaped<T> {
    fn new(value: T, sanitize: bool) -> Self {
        Escaped { value, sanitize }
    }
}

impl<T: fmt::Debug> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sanitize {
            write!(EscapingWriter(f), "{:?}", self.value)
        } else {
            write!(f, "{:?}", self.value)
        }
    }
}

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sanitize {
            write!(EscapingWriter(f), "{}", self.value)
        } else {
            write!(f, "{}", self.value)
        }
    }
}

/// Escapes the C0 characters that start terminal sequences, DEL, and the C1 controls.
struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            match ch {
                '\x1b' => self.0.write_str("\\x1b")?,
                '\x07' => self.0.write_str("\\x07")?,
                '\x08' => self.0.write_str("\\x08")?,
                '\x0c' => self.0.write_str("\\x0c")?,
                '\x7f' => self.0.write_str("\\x7f")?,
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", ch as u32)?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

/// An error's chain of sources as a list, starting at its first source.
struct Sources<'a> {
    source: &'a (dyn Error + 'static),
    sanitize: bool,
}

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut next = Some(self.source);
        while let Some(err) = next {
            list.entry(&format_args!("{}", Escaped::new(err, self.sanitize)));
            next = err.source();
        }
        list.finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing::field;
    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::fmt::FormatFields;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

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

    #[test]
    fn writes_what_default_fields_writes() {
        let plain = same_as_default(|| {
            let chain = Failure("outer", Some(Box::new(Failure("middle \x1b[31m", None))));
            let outer = tracing::info_span!(
                "outer",
                a = 1,
                r#type = "kind",
                late = tracing::field::Empty
            );
            let _outer = outer.enter();
            outer.record("late", 7u64);
            let inner = tracing::info_span!("inner", b = -2i64, big = 1i128 << 100, f = 0.5f64);
            inner.record("b", 3);
            let _inner = inner.enter();
            tracing::info!("plain message");
            tracing::info!(s = "str", owned = %String::from("disp"), ok = true, dbg = ?Some(4), "with fields");
            tracing::warn!("escapes: \x1b[31m red \x07 bell \u{9b} c1 \x7f del");
            tracing::error!(err = &chain as &(dyn Error + 'static), "chained");
            tracing::error!(err = &Failure("alone \x08", None) as &(dyn Error + 'static));
            tracing::info!(message = "as a field", n = 1);
            tracing::info!(other = "no message at all");
            tracing::info!(log.target = "from::log", log.line = 7, "bridged");
        });
        let module = module_path!();
        assert!(
            plain.contains(&format!(
                " INFO outer{{a=1 type=\"kind\" late=7}}:inner{{b=-2 big=1267650600228229401496703205376 f=0.5 b=3}}: {module}: with fields s=\"str\" owned=disp ok=true dbg=Some(4)\n"
            )),
            "{plain}"
        );
        assert!(
            plain.contains(": escapes: \\x1b[31m red \\x07 bell \\u{9b} c1 \\x7f del\n"),
            "{plain}"
        );
        assert!(
            plain.contains(": chained err=outer err.sources=[middle \\x1b[31m]\n"),
            "{plain}"
        );
        assert!(plain.contains(": err=alone \\x08\n"), "{plain}");
        assert!(plain.contains(&format!(" {module}: bridged\n")), "{plain}");
    }

    /// Runs `log` under a fmt layer with `fields` (ANSI off, no time) and returns what it wrote.
    fn written<N>(fields: N, sanitize: bool, log: impl FnOnce()) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_ansi_sanitization(sanitize)
            .without_time()
            .fmt_fields(fields)
            .with_writer({
                let buffer = buffer.clone();
                move || buffer.clone()
            });
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log);
        buffer.text()
    }

    /// What `DefaultFields` writes for `log`, after checking `PlainFields` writes the same.
    fn same_as_default(log: fn()) -> String {
        for sanitize in [true, false] {
            let plain = written(PlainFields, sanitize, log);
            let default = written(DefaultFields::new(), sanitize, log);
            assert_eq!(plain, default, "sanitize: {sanitize}");
        }
        written(PlainFields, true, log)
    }

    #[test]
    fn values_match_default_fields() {
        let out = same_as_default(|| {
            tracing::info!(
                s = "str",
                owned = String::from("owned"),
                neg = -3i64,
                big = u64::MAX,
                huge = i128::MIN,
                uhuge = u128::MAX,
                f = 0.1f64,
                whole = 2.0f64,
                ok = true,
                dbg = ?Some("x"),
                disp = %"shown \x1b[31m",
                quoted = "tab\t\x1b",
                "values"
            );
            tracing::info!(r#type = "kind", r#loop = 1, "raw identifiers");
            tracing::info!(message = "message as a str field", n = 1);
            tracing::info!(message = %"message as display", n = 2);
            tracing::info!(message = ?"message as debug", n = 3);
            tracing::info!(no_message = 1, other = "only fields");
            tracing::info!("");
            // Dotted names; the `log.*` ones a `log` record carries are left out (tracing-log).
            tracing::info!(
                log.target = "dep",
                log.line = 7u32,
                http.method = "GET",
                "dots"
            );
        });
        let line =
            " INFO ferrotel::subscriber::fields::tests: values s=\"str\" owned=\"owned\" neg=-3 \
                    big=18446744073709551615 huge=-170141183460469231731687303715884105728 \
                    uhuge=340282366920938463463374607431768211455 f=0.1 whole=2.0 ok=true \
                    dbg=Some(\"x\") disp=shown \x1b[31m quoted=\"tab\\t\\u{1b}\"\n";
        assert!(out.starts_with(line), "{out}");
        assert!(
            out.contains(": raw identifiers type=\"kind\" loop=1\n"),
            "{out}"
        );
        assert!(out.contains(": dots http.method=\"GET\"\n"), "{out}");
    }

    #[test]
    fn messages_are_sanitized_like_default_fields() {
        let out = same_as_default(|| {
            tracing::warn!("esc \x1b[31mred\x1b[0m bel \x07 c1 \u{9b}31m bs \x08 ff \x0c del \x7f");
            tracing::warn!(message = "field esc \x1b[1m c1 \u{85}");
            let text = String::from("owned \u{9f}\x1b");
            tracing::warn!("{text}");
        });
        assert!(
            out.contains(
                ": esc \\x1b[31mred\\x1b[0m bel \\x07 c1 \\u{9b}31m bs \\x08 ff \\x0c del \\x7f\n"
            ),
            "{out}"
        );
        assert!(out.contains(": field esc \\x1b[1m c1 \\u{85}\n"), "{out}");
        assert!(out.contains(": owned \\u{9f}\\x1b\n"), "{out}");
    }

    #[test]
    fn errors_match_default_fields() {
        let out = same_as_default(|| {
            let chain = Failure(
                "outer \x1b[2J",
                Some(Box::new(Failure(
                    "middle",
                    Some(Box::new(Failure("root \u{9b}", None))),
                ))),
            );
            let alone = Failure("alone \x07", None);
            tracing::error!(err = &chain as &(dyn Error + 'static), "chained");
            tracing::error!(err = &alone as &(dyn Error + 'static), "alone");
            tracing::error!(r#err = &chain as &(dyn Error + 'static));
            tracing::error!(message = &chain as &(dyn Error + 'static));
            let in_span = tracing::error_span!("failing", cause = &chain as &(dyn Error + 'static));
            let _entered = in_span.enter();
            tracing::error!("in a span");
        });
        assert!(
            out.contains(": chained err=outer \\x1b[2J err.sources=[middle, root \\u{9b}]\n"),
            "{out}"
        );
        assert!(out.contains(": alone err=alone \\x07\n"), "{out}");
    }

    #[test]
    fn spans_match_default_fields() {
        let out = same_as_default(|| {
            let outer = tracing::info_span!("outer", a = 1);
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", b = 2, late = field::Empty);
            let _inner = inner.enter();
            tracing::info!("nested");
            inner.record("late", "now");
            inner.record("b", 3);
            tracing::info!("recorded");
            let empty = tracing::info_span!("empty", first = field::Empty, second = field::Empty);
            let _empty = empty.enter();
            tracing::info!("before record");
            empty.record("second", 2.5f64);
            empty.record("first", true);
            tracing::info!("after record");
            let bare = tracing::info_span!("bare", r#type = %"raw", message = "span message");
            let _bare = bare.enter();
            tracing::info!(x = 1, "deepest");
        });
        let module = module_path!();
        assert!(
            out.starts_with(&format!(
                " INFO outer{{a=1}}:inner{{b=2}}: {module}: nested\n"
            )),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                " INFO outer{{a=1}}:inner{{b=2 late=\"now\" b=3}}: {module}: recorded\n"
            )),
            "{out}"
        );
        assert!(out.contains(":empty: "), "{out}");
        assert!(
            out.contains(":empty{second=2.5 first=true}:bare{type=raw span message}: "),
            "{out}"
        );
    }
}
