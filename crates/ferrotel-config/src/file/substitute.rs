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

/// Expands `input`. `lookup` returns a variable's raw value; every name looked up is pushed
/// to `referenced`. The error is the offending reference and why.
pub(crate) fn substitute<'e>(
    input: &str,
    lookup: impl Fn(&str) -> Option<&'e str>,
    referenced: &mut Vec<String>,
) -> Result<String, String> {
    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    loop {
        match rest.find("$$") {
            Some(escape) => {
                expand_segment(&rest[..escape], &lookup, referenced, &mut output)?;
                output.push('$');
                rest = &rest[escape + 2..];
            }
            None => {
                expand_segment(rest, &lookup, referenced, &mut output)?;
                return Ok(output);
            }
        }
    }
}

/// Expands the references in a segment that holds no `$$` escape.
fn expand_segment<'e>(
    segment: &str,
    lookup: &impl Fn(&str) -> Option<&'e str>,
    referenced: &mut Vec<String>,
    output: &mut String,
) -> Result<(), String> {
    let mut rest = segment;
    while let Some(start) = rest.find("${") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // `${` without a closing brace is no reference at all: kept as written.
            output.push_str(&rest[start..]);
            return Ok(());
        };
        let content = &after[..end];
        let (name, default) = reference(content).ok_or_else(|| {
            format!(
                "\"${{{content}}}\" is not a valid substitution reference (allowed: ${{NAME}}, \
                 ${{env:NAME}} or ${{NAME:-default}}, NAME made of letters, digits and _ and not \
                 starting with a digit, the default without '}}')"
            )
        })?;
        if !referenced.iter().any(|seen| seen == name) {
            referenced.push(name.to_owned());
        }
        match (lookup(name).filter(|value| !value.is_empty()), default) {
            (Some(value), _) => output.push_str(value),
            (None, Some(default)) => output.push_str(default),
            (None, None) => {}
        }
        rest = &after[end + 1..];
    }
    output.push_str(rest);
    Ok(())
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
        substitute(input, lookup, &mut Vec::new())
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
        let mut seen = Vec::new();
        substitute("${A} ${env:B:-x} ${A} $${C}", lookup, &mut seen).unwrap();
        assert_eq!(seen, ["A", "B"]);
    }
}
