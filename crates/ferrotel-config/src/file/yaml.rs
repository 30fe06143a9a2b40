//! YAML text to a small tree that remembers the line of every node, with environment variable
//! substitution applied to scalar values.
//!
//! The events come from `saphyr-parser` (YAML 1.2). Substitution runs on each value scalar as
//! written, before its type is decided, so `${PORT}` can become an integer while
//! `"${PORT}"` stays a string, and no variable can inject YAML structure. Mapping keys are
//! never substituted. Plain scalars are typed with the YAML 1.2 core schema (null, booleans,
//! decimal, `0o` and `0x` integers, floats); quoted and block scalars, and `!!str`, are strings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::substitute::{substitute, too_long};
use crate::env::Env;

/// A value and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) value: Value,
}

/// A typed YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// A float, with its text as written (after substitution).
    Float(f64, String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) line: usize,
    pub(crate) value: Node,
}

impl Value {
    /// The value as text for messages and for the variables it becomes: scalars as written
    /// (integers in decimal), `(a mapping)` / `(a list)` for collections.
    pub(crate) fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(value) => value.to_string(),
            Value::Int(value) => value.to_string(),
            Value::Float(_, text) | Value::Str(text) => text.clone(),
            Value::Seq(_) => "(a list)".to_owned(),
            Value::Map(_) => "(a mapping)".to_owned(),
        }
    }
}

/// The most nodes one file may expand to, aliases included: a configuration has a few
/// hundred, and a small file of nested aliases could otherwise expand to billions.
const MAX_NODES: usize = 100_000;

/// The most bytes of text one file may expand to, counting every alias copy and every
/// substituted value: within [`MAX_NODES`], a 1 MiB anchor aliased 300 times, or a long
/// variable referenced thousands of times, would otherwise take hundreds of megabytes.
pub(crate) const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// What substitution did while parsing: every variable looked up, and the scalars whose text
/// came from variables (so that messages can name the variable instead of the value).
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    pub(crate) referenced: Vec<String>,
    pub(crate) substituted: Vec<Substituted>,
}

/// A scalar whose text holds the value of at least one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Substituted {
    pub(crate) line: usize,
    /// The variables whose values went into it.
    pub(crate) vars: Vec<String>,
    /// The text after substitution.
    pub(crate) text: String,
}

/// Why the text is not a usable YAML document, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Parses one YAML document. `expansion` collects what substitution did.
pub(crate) fn parse(text: &str, env: &Env, expansion: &mut Expansion) -> Result<Node, SyntaxError> {
    let mut reader = Reader {
        events: Parser::new_from_str(text),
        env,
        expansion,
        anchors: Vec::new(),
        last_line: 1,
        nodes: 0,
        bytes: 0,
    };
    let mut root = None;
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart(_) if root.is_some() => {
                return Err(reader.error(span, "the file holds more than one YAML document"));
            }
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                root = Some(reader.node(event, span)?);
            }
            Event::StreamEnd => break,
            _ => return Err(reader.error(span, "unexpected YAML structure")),
        }
    }
    root.ok_or(SyntaxError {
        line: 1,
        message: "the file is empty (file_format is required)".to_owned(),
    })
}

struct Reader<'t, 'e, 'r> {
    events: Parser<'t, saphyr_parser::StrInput<'t>>,
    env: &'e Env,
    expansion: &'r mut Expansion,
    /// Anchored nodes by anchor id, for aliases, with their size in nodes and bytes.
    anchors: Vec<Anchored>,
    last_line: usize,
    /// Nodes made so far, alias copies included (see [`MAX_NODES`]).
    nodes: usize,
    /// Bytes of scalar text and keys made so far, alias copies included (see
    /// [`MAX_EXPANDED_BYTES`]).
    bytes: usize,
}

struct Anchored {
    id: usize,
    node: Node,
    nodes: usize,
    bytes: usize,
}

impl<'t> Reader<'t, '_, '_> {
    fn next(&mut self) -> Result<(Event<'t>, Span), SyntaxError> {
        match self.events.next() {
            Some(Ok((event, span))) => {
                self.last_line = span.start.line().max(1);
                Ok((event, span))
            }
            Some(Err(err)) => Err(SyntaxError {
                line: err.marker().line().max(1),
                message: format!("not valid YAML: {}", err.info()),
            }),
            None => Err(SyntaxError {
                line: self.last_line,
                message: "the YAML text ends unexpectedly".to_owned(),
            }),
        }
    }

    fn error(&self, span: Span, message: &str) -> SyntaxError {
        SyntaxError {
            line: span.start.line().max(1),
            message: message.to_owned(),
        }
    }

    fn node(&mut self, event: Event<'t>, span: Span) -> Result<Node, SyntaxError> {
        let line = span.start.line().max(1);
        self.count(span, 1)?;
        let (nodes_before, bytes_before) = (self.nodes, self.bytes);
        let (anchor, node) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                (anchor, self.scalar(&text, style, tag.as_deref(), line)?)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                (
                    anchor,
                    Node {
                        line,
                        value: Value::Seq(items),
                    },
                )
            }
            Event::MappingStart(anchor, _) => (anchor, self.mapping(line)?),
            Event::Alias(id) => {
                let Some(found) = self.anchors.iter().rev().find(|known| known.id == id) else {
                    return Err(self.error(span, "an alias refers to an unknown anchor"));
                };
                let (nodes, bytes) = (found.nodes, found.bytes);
                // Counted before the copy is made, so an oversized copy is never made.
                self.count(span, nodes.saturating_sub(1))?;
                self.count_bytes(span, bytes)?;
                let value = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|known| known.id == id)
                    .map_or(Value::Null, |known| known.node.value.clone());
                return Ok(Node { line, value });
            }
            _ => return Err(self.error(span, "unexpected YAML structure")),
        };
        if anchor > 0 {
            self.anchors.push(Anchored {
                id: anchor,
                node: node.clone(),
                nodes: self.nodes - nodes_before + 1,
                bytes: self.bytes - bytes_before,
            });
        }
        Ok(node)
    }

    fn count_bytes(&mut self, span: Span, more: usize) -> Result<(), SyntaxError> {
        self.bytes = self.bytes.saturating_add(more);
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(SyntaxError {
                line: span.start.line().max(1),
                message: too_long(MAX_EXPANDED_BYTES),
            });
        }
        Ok(())
    }

    fn count(&mut self, span: Span, more: usize) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(more);
        if self.nodes > MAX_NODES {
            return Err(self.error(
                span,
                "the file expands to more than 100000 values (aliases included)",
            ));
        }
        Ok(())
    }

    fn mapping(&mut self, line: usize) -> Result<Node, SyntaxError> {
        let mut entries: Vec<Entry> = Vec::new();
        // Key → its line: a linear search per key would make a large mapping quadratic.
        let mut seen: HashMap<String, usize> = HashMap::new();
        loop {
            let (event, span) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                // Keys are taken as written: substitution never applies to them.
                Event::Scalar(text, _, _, _) => text.into_owned(),
                _ => return Err(self.error(span, "a mapping key must be plain text")),
            };
            let key_line = span.start.line().max(1);
            self.count_bytes(span, key.len())?;
            if let Some(first) = seen.insert(key.clone(), key_line) {
                return Err(SyntaxError {
                    line: key_line,
                    message: format!(
                        "the key \"{}\" appears twice in one mapping (first on line {first})",
                        crate::escape::printable(&key)
                    ),
                });
            }
            let (event, span) = self.next()?;
            let value = self.node(event, span)?;
            entries.push(Entry {
                key,
                line: key_line,
                value,
            });
        }
        Ok(Node {
            line,
            value: Value::Map(entries),
        })
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        line: usize,
    ) -> Result<Node, SyntaxError> {
        let env = self.env;
        let limit = MAX_EXPANDED_BYTES.saturating_sub(self.bytes);
        let expanded =
            substitute(text, |name| env.raw(name), limit).map_err(|reason| SyntaxError {
                line,
                message: reason,
            })?;
        self.bytes = self.bytes.saturating_add(expanded.text.len());
        for name in &expanded.referenced {
            if !self.expansion.referenced.iter().any(|seen| seen == name) {
                self.expansion.referenced.push((*name).to_owned());
            }
        }
        if !expanded.used.is_empty() {
            self.expansion.substituted.push(Substituted {
                line,
                vars: expanded
                    .used
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect(),
                text: expanded.text.clone(),
            });
        }
        let text = expanded.text;
        let forced_string = tag.is_some_and(|tag| tag.is_yaml_core_schema() && tag.suffix == "str");
        let value = if style == ScalarStyle::Plain && !forced_string {
            core_schema(text)
        } else {
            Value::Str(text)
        };
        Ok(Node { line, value })
    }
}

/// The YAML 1.2 core schema type of a plain scalar.
pub(crate) fn core_schema(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY, text)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY, text),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN, text),
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(&text);
    let int = if let Some(hex) = text.strip_prefix("0x").filter(|s| digits(s, 16)) {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = text.strip_prefix("0o").filter(|s| digits(s, 8)) {
        i64::from_str_radix(octal, 8).ok()
    } else if digits(unsigned, 10) {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(int) = int {
        return Value::Int(int);
    }
    if is_core_float(unsigned) {
        if let Ok(float) = text.parse::<f64>() {
            return Value::Float(float, text);
        }
    }
    Value::Str(text)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the sign already removed.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            all_digits(whole) && all_digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|exp| {
        let exp = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        !exp.is_empty() && all_digits(exp)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse_with(text: &str, pairs: &[(&str, &str)]) -> Result<Node, SyntaxError> {
        parse(
            text,
            &Env::from_pairs(pairs.iter().copied()),
            &mut Expansion::default(),
        )
    }

    fn get<'n>(node: &'n Node, key: &str) -> &'n Node {
        let Value::Map(entries) = &node.value else {
            panic!("not a mapping: {node:?}")
        };
        &entries
            .iter()
            .find(|entry| entry.key == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .value
    }

    #[test]
    fn types_plain_scalars_after_substitution_and_keeps_quoted_ones_as_text() {
        let text = "a: ${BOOL}\nb: \"${BOOL}\"\nc: ${INT}\nd: ${HEX}\ne: ${FLOAT}\nf: ${UNSET}\n\
                    g: '${INT}'\nh: !!str 12\ni: 0o17\nj: ~\nk: text\n";
        let env = [
            ("BOOL", "true"),
            ("INT", "1"),
            ("HEX", "0xdeadbeef"),
            ("FLOAT", "1.1"),
        ];
        let root = parse_with(text, &env).unwrap();
        assert_eq!(get(&root, "a").value, Value::Bool(true));
        assert_eq!(get(&root, "b").value, Value::Str("true".into()));
        assert_eq!(get(&root, "c").value, Value::Int(1));
        assert_eq!(get(&root, "d").value, Value::Int(3_735_928_559));
        assert_eq!(get(&root, "e").value, Value::Float(1.1, "1.1".into()));
        assert_eq!(get(&root, "f").value, Value::Null);
        assert_eq!(get(&root, "g").value, Value::Str("1".into()));
        assert_eq!(get(&root, "h").value, Value::Str("12".into()));
        assert_eq!(get(&root, "i").value, Value::Int(15));
        assert_eq!(get(&root, "j").value, Value::Null);
        assert_eq!(get(&root, "k").value, Value::Str("text".into()));
    }

    #[test]
    fn variables_cannot_inject_structure_and_keys_are_not_substituted() {
        let root = parse_with(
            "key: ${MAP}\n${KEY}: v\n",
            &[("MAP", "value\nkey: value"), ("KEY", "injected")],
        )
        .unwrap();
        assert_eq!(
            get(&root, "key").value,
            Value::Str("value\nkey: value".into())
        );
        assert_eq!(get(&root, "${KEY}").value, Value::Str("v".into()));
    }

    #[test]
    fn remembers_lines_and_resolves_aliases() {
        let root = parse_with("a:\n  b: &x 5\nc: *x\n", &[]).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!()
        };
        assert_eq!((entries[0].line, entries[1].line), (1, 3));
        assert_eq!(get(get(&root, "a"), "b").line, 2);
        assert_eq!(get(&root, "c").value, Value::Int(5));
    }

    #[test]
    fn errors_carry_the_line() {
        let err = parse_with("a: 1\nb: [1, 2\n", &[]).unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse_with("a: 1\nb:\n  c: ${X:?bad}\n", &[]).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("${X:?bad}"), "{err:?}");
        let err = parse_with("a: 1\na: 2\n", &[]).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("twice"), "{err:?}");
        assert!(parse_with("", &[]).unwrap_err().message.contains("empty"));
    }

    #[test]
    fn nested_aliases_cannot_expand_without_bound() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, \
                 *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
            ));
        }
        let err = parse_with(&text, &[]).unwrap_err();
        assert!(err.message.contains("more than 100000"), "{err:?}");
    }

    #[test]
    fn core_schema_numbers() {
        for (text, int) in [
            ("42", 42),
            ("-7", -7),
            ("+3", 3),
            ("0042", 42),
            ("0x1F", 31),
        ] {
            assert_eq!(core_schema(text.into()), Value::Int(int), "{text}");
        }
        for text in ["1.5", ".5", "1.", "1e3", "-2.5E-3"] {
            assert!(
                matches!(core_schema(text.into()), Value::Float(..)),
                "{text}"
            );
        }
        for text in ["1.2.3", "0x", "1e", "e3", "12ms", "0b101"] {
            assert!(matches!(core_schema(text.into()), Value::Str(_)), "{text}");
        }
    }
}
