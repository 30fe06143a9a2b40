//! Environment variable substitution in scalar values, exactly as the configuration data model
//! defines it (opentelemetry-specification `configuration/data-model.md`):
//!
//! - `${NAME}`, `${env:NAME}` and `${NAME:-default}`; `NAME` is a letter or `_` followed by
//!   letters, digits or `_`; the default is any text without `}`;
//! - the default is used when the variable is undefined or empty; without a default an
//!   undefined variable becomes the empty string;
//! - `$$` is an escape for `$`, found left to right before references are matched, so
//!   `$${A}` is the text `${A}` and `$$${A}` is `$` followed by the value of `A`;
//! - a substituted value is never scanned again (no recursive substitution);
//! - `${…}` that is not a valid reference is an error (no partial results).
//!
//! Only scalar values go through here, never mapping keys, and the YAML type of a plain scalar
//! is decided after substitution (see [`yaml`](super::yaml)).

/// What substitution made of one scalar.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expanded<'i> {
    pub(crate) text: String,
    /// Every name looked up, once each, in order.
    pub(crate) referenced: Vec<&'i str>,
    /// The names whose (non-empty) value went into `text`.
    pub(crate) used: Vec<&'i str>,
}

/// Expands `input`. `lookup` returns a variable's raw value. The error is the offending
/// reference and why, or [`too_long`]'s message once the text would exceed `limit` bytes:
/// a short reference can stand for a long value, so the output is bounded, not the input.
pub(crate) fn substitute<'i, 'e>(
    input: &'i str,
    lookup: impl Fn(&str) -> Option<&'e str>,
    limit: usize,
) -> Result<Expanded<'i>, String> {
    let mut expanded = Expanded {
        text: String::with_capacity(input.len().min(limit)),
        ..Expanded::default()
    };
    let mut rest = input;
    loop {
        match rest.find("$$") {
            Some(escape) => {
                expand_segment(&rest[..escape], &lookup, &mut expanded, limit)?;
                push(&mut expanded.text, "$", limit)?;
                rest = &rest[escape + 2..];
            }
            None => {
                expand_segment(rest, &lookup, &mut expanded, limit)?;
                return Ok(expanded);
            }
        }
    }
}

/// The message of a file whose expansion passes its limit. It never quotes the text.
pub(crate) fn too_long(limit: usize) -> String {
    format!(
        "the file expands to more than {} (aliases and ${{…}} substitutions counted by the \
         bytes they produce)",
        human_bytes(limit)
    )
}

/// `4 MiB`, `512 KiB` or `100 bytes`.
pub(crate) fn human_bytes(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

fn push(output: &mut String, text: &str, limit: usize) -> Result<(), String> {
    if output.len().saturating_add(text.len()) > limit {
        return Err(too_long(limit));
    }
    output.push_str(text);
    Ok(())
}

/// Expands the references in a segment that holds no `$$` escape.
fn expand_segment<'i, 'e>(
    segment: &'i str,
    lookup: &impl Fn(&str) -> Option<&'e str>,
    expanded: &mut Expanded<'i>,
    limit: usize,
) -> Result<(), String> {
    let mut rest = segment;
    while let Some(start) = rest.find("${") {
        push(&mut expanded.text, &rest[..start], limit)?;
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // `${` without a closing brace is no reference at all: kept as written.
            return push(&mut expanded.text, &rest[start..], limit);
        };
        let content = &after[..end];
        let (name, default) = reference(content).ok_or_else(|| {
            format!(
                "\"${{{content}}}\" is not a valid substitution reference (allowed: ${{NAME}}, \
                 ${{env:NAME}} or ${{NAME:-default}}, NAME made of letters, digits and _ and not \
                 starting with a digit, the default without '}}')"
            )
        })?;
        if !expanded.referenced.contains(&name) {
            expanded.referenced.push(name);
        }
        match (lookup(name).filter(|value| !value.is_empty()), default) {
            (Some(value), _) => {
                if !expanded.used.contains(&name) {
                    expanded.used.push(name);
                }
                push(&mut expanded.text, value, limit)?;
            }
            (None, Some(default)) => push(&mut expanded.text, default, limit)?,
            (None, None) => {}
        }
        rest = &after[end + 1..];
    }
    push(&mut expanded.text, rest, limit)
}

/// Splits the text between `${` and `}` into the name and the optional default, or `None`
/// when it is not a valid reference.
fn reference(content: &str) -> Option<(&str, Option<&str>)> {
    let content = content.strip_prefix("env:").unwrap_or(content);
    let name_end = content
        .char_indices()
        .find(|&(index, c)| {
            let allowed = c == '_' || c.is_ascii_alphabetic() || (index > 0 && c.is_ascii_digit());
            !allowed
        })
        .map_or(content.len(), |(index, _)| index);
    if name_end == 0 {
        return None;
    }
    let (name, tail) = content.split_at(name_end);
    if tail.is_empty() {
        return Some((name, None));
    }
    let default = tail.strip_prefix(":-")?;
    let printable = |c: char| c == ' ' || c == '\t' || c.is_ascii_graphic();
    default
        .chars()
        .all(printable)
        .then_some((name, Some(default)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The environment of the specification's substitution table.
    fn lookup(name: &str) -> Option<&'static str> {
        match name {
            "STRING_VALUE" => Some("value"),
            "BOOL_VALUE" => Some("true"),
            "INT_VALUE" => Some("1"),
            "FLOAT_VALUE" => Some("1.1"),
            "HEX_VALUE" => Some("0xdeadbeef"),
            "INVALID_MAP_VALUE" => Some("value\nkey:value"),
            "DO_NOT_REPLACE_ME" => Some("Never use this value"),
            "REPLACE_ME" => Some("${DO_NOT_REPLACE_ME}"),
            "VALUE_WITH_ESCAPE" => Some("value$$"),
            "EMPTY" => Some(""),
            _ => None,
        }
    }

    fn expand(input: &str) -> Result<String, String> {
        substitute(input, lookup, usize::MAX).map(|expanded| expanded.text)
    }

    #[test]
    fn follows_every_row_of_the_specification_table() {
        for (input, expected) in [
            ("${STRING_VALUE}", "value"),
            ("${BOOL_VALUE}", "true"),
            ("${INT_VALUE}", "1"),
            ("${FLOAT_VALUE}", "1.1"),
            ("${HEX_VALUE}", "0xdeadbeef"),
            ("${env:STRING_VALUE}", "value"),
            ("${INVALID_MAP_VALUE}", "value\nkey:value"),
            ("foo ${STRING_VALUE} ${FLOAT_VALUE}", "foo value 1.1"),
            ("${UNDEFINED_KEY}", ""),
            ("${UNDEFINED_KEY:-fallback}", "fallback"),
            ("${REPLACE_ME}", "${DO_NOT_REPLACE_ME}"),
            ("${UNDEFINED_KEY:-${STRING_VALUE}}", "${STRING_VALUE}"),
            ("$${STRING_VALUE}", "${STRING_VALUE}"),
            ("$$${STRING_VALUE}", "$value"),
            ("$$$${STRING_VALUE}", "$${STRING_VALUE}"),
            ("$${STRING_VALUE:-fallback}", "${STRING_VALUE:-fallback}"),
            (
                "$${STRING_VALUE:-${STRING_VALUE}}",
                "${STRING_VALUE:-value}",
            ),
            (
                "${UNDEFINED_KEY:-$${UNDEFINED_KEY}}",
                "${UNDEFINED_KEY:-${UNDEFINED_KEY}}",
            ),
            ("${VALUE_WITH_ESCAPE}", "value$$"),
            ("a $$ b", "a $ b"),
            ("a $ b", "a $ b"),
        ] {
            assert_eq!(expand(input).as_deref(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn an_empty_variable_takes_the_default() {
        assert_eq!(expand("${EMPTY:-d}").as_deref(), Ok("d"));
        assert_eq!(expand("${EMPTY}").as_deref(), Ok(""));
        assert_eq!(expand("${EMPTY:-}").as_deref(), Ok(""));
    }

    #[test]
    fn invalid_references_are_errors() {
        for input in [
            "${STRING_VALUE:?error}",
            "${1API_KEY}",
            "${API_$KEY}",
            "${}",
            "${env:}",
            "x ${ A}",
        ] {
            let err = expand(input).unwrap_err();
            assert!(
                err.contains("is not a valid substitution reference"),
                "{input}: {err}"
            );
        }
        // An opening without a closing brace is plain text.
        assert_eq!(expand("${UNCLOSED").as_deref(), Ok("${UNCLOSED"));
    }

    #[test]
    fn records_every_referenced_name_once() {
        let expanded = substitute("${A} ${env:B:-x} ${A} $${C} ${STRING_VALUE}", lookup, 100);
        let expanded = expanded.unwrap();
        assert_eq!(expanded.referenced, ["A", "B", "STRING_VALUE"]);
        assert_eq!(expanded.used, ["STRING_VALUE"]);
    }

    #[test]
    fn the_output_is_bounded_not_the_input() {
        let err = substitute("${STRING_VALUE}${STRING_VALUE}", lookup, 9).unwrap_err();
        assert_eq!(err, too_long(9));
        assert!(!err.contains("value"), "{err}");
        assert_eq!(
            substitute("${STRING_VALUE}x", lookup, 6).map(|e| e.text),
            Ok("valuex".to_owned())
        );
        assert_eq!(human_bytes(16 << 20), "16 MiB");
    }
}
