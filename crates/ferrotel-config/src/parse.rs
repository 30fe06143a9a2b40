//! Shared parsing of scalar values: booleans, integers, durations, ratios, keyword enums,
//! comma lists and `key=value` lists.
//!
//! Parsers only judge one text; what happens to a rejected value (report, fallback) is decided
//! by [`precedence`](crate::precedence).

use std::borrow::Cow;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::precedence::Rejection;

/// Allowed-values text for booleans.
pub(crate) const BOOL_ALLOWED: &str = "true, false";
/// Allowed-values text for durations.
pub(crate) const MILLIS_ALLOWED: &str = "a non-negative integer (milliseconds)";
/// Allowed-values text for counts and limits.
pub(crate) const COUNT_ALLOWED: &str = "a non-negative integer";
/// Allowed-values text for sizes that must not be zero.
pub(crate) const POSITIVE_ALLOWED: &str = "a positive integer";
/// Allowed-values text for probabilities.
pub(crate) const RATIO_ALLOWED: &str = "a number from 0 to 1";
/// Allowed-values text for `key=value` lists.
pub(crate) const KEY_VALUES_ALLOWED: &str =
    "comma-separated key=value pairs with percent-encoded values";

/// An enum whose values are spelled as keywords in environment variables.
pub(crate) trait Keyword: Copy + PartialEq + 'static {
    /// Every accepted spelling with its value, in documentation order.
    const NAMES: &'static [(&'static str, Self)];
}

/// Declares an enum read from a keyword, with `as_str`, `Display` and [`Keyword`].
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The spelling used in environment variables.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::parse::Keyword for $name {
            const NAMES: &'static [(&'static str, Self)] = &[ $( ($text, Self::$variant), )+ ];
        }
    };
}
pub(crate) use keyword_enum;

/// The keyword's value, compared case-insensitively.
pub(crate) fn keyword<T: Keyword>(text: &str) -> Result<T, Rejection> {
    T::NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
        .map(|(_, value)| *value)
        .ok_or_else(Rejection::invalid)
}

/// `a, b, c`: every spelling of `T`, for the "allowed" text.
pub(crate) fn keywords<T: Keyword>() -> String {
    T::NAMES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A boolean: case-insensitive `true` or `false`.
pub(crate) fn boolean(text: &str) -> Result<bool, Rejection> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(Rejection::invalid())
    }
}

/// A non-negative decimal integer (digits only: no sign, no fraction, no exponent).
pub(crate) fn unsigned(text: &str) -> Result<u64, Rejection> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Rejection::invalid());
    }
    text.parse::<u64>()
        .map_err(|_| Rejection::because("the number is too large"))
}

/// A count or limit.
pub(crate) fn count(text: &str) -> Result<usize, Rejection> {
    let value = unsigned(text)?;
    usize::try_from(value).map_err(|_| Rejection::because("the number is too large"))
}

/// A duration in milliseconds.
pub(crate) fn millis(text: &str) -> Result<Duration, Rejection> {
    unsigned(text).map(Duration::from_millis)
}

/// A timeout in milliseconds, where `0` means no limit (`None`).
pub(crate) fn timeout(text: &str) -> Result<Option<Duration>, Rejection> {
    millis(text).map(|duration| (!duration.is_zero()).then_some(duration))
}

/// A probability in `[0, 1]`.
pub(crate) fn ratio(text: &str) -> Result<f64, Rejection> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        Ok(_) => Err(Rejection::because("the ratio is outside [0, 1]")),
        Err(_) => Err(Rejection::invalid()),
    }
}

/// Shows a duration for messages: `5000 ms`.
pub(crate) fn show_millis(duration: &Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// Shows a timeout for messages: `10000 ms` or `no limit`.
pub(crate) fn show_timeout(timeout: &Option<Duration>) -> String {
    timeout
        .as_ref()
        .map_or_else(|| "no limit".to_owned(), show_millis)
}

/// `key1=value1,key2=value2` with trimmed keys and values and percent-decoded values.
///
/// Empty members (`a=1,,b=2`) are skipped. A member without `=`, with an empty key or with a
/// value that does not decode to UTF-8 rejects the whole text. A repeated key replaces the
/// earlier value in place. A `%` not followed by two hex digits is kept literally.
pub(crate) fn key_values(text: &str) -> Result<Vec<(String, String)>, Rejection> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let members = text.split(',').map(str::trim).filter(|m| !m.is_empty());
    for (index, member) in members.enumerate() {
        // Positions, not contents: the text may hold secrets (OTLP headers).
        let position = index + 1;
        let Some((key, value)) = member.split_once('=') else {
            return Err(Rejection::because(format!("member {position} has no '='")));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(Rejection::because(format!(
                "member {position} has an empty key"
            )));
        }
        let value = match percent_decode_str(value.trim()).decode_utf8() {
            Ok(Cow::Borrowed(value)) => value.to_owned(),
            Ok(Cow::Owned(value)) => value,
            Err(_) => {
                return Err(Rejection::because(format!(
                    "the value of {key:?} does not percent-decode to UTF-8"
                )))
            }
        };
        upsert(&mut pairs, key, value);
    }
    Ok(pairs)
}

/// Sets `key` to `value`, replacing an existing entry in place or appending.
pub(crate) fn upsert(pairs: &mut Vec<(String, String)>, key: &str, value: String) {
    match pairs.iter_mut().find(|(existing, _)| existing == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key.to_owned(), value)),
    }
}

/// A comma list of keywords after parsing: the accepted values and one reason per dropped
/// entry.
pub(crate) struct KeywordList<T> {
    pub(crate) items: Vec<T>,
    pub(crate) dropped: Vec<String>,
}

/// A comma list of `T` keywords, deduplicated, with `none` meaning the empty list.
///
/// Entries in `unsupported` are known to the specification but not implemented; they and
/// unknown entries are dropped with a reason while the other entries stay. `none` together
/// with other entries is dropped too. When nothing valid is left (and no lone `none` asked for
/// an empty list) the whole text is rejected so that the default applies.
pub(crate) fn keyword_list<T: Keyword>(
    text: &str,
    unsupported: &[&str],
) -> Result<KeywordList<T>, Rejection> {
    let mut items = Vec::new();
    let mut dropped = Vec::new();
    let mut saw_none = false;
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry.eq_ignore_ascii_case("none") {
            saw_none = true;
        } else if let Ok(item) = keyword::<T>(entry) {
            if !items.contains(&item) {
                items.push(item);
            }
        } else if unsupported.iter().any(|u| u.eq_ignore_ascii_case(entry)) {
            dropped.push(format!(
                "entry {entry:?} is known to the specification but not supported by ferrotel"
            ));
        } else {
            dropped.push(format!("entry {entry:?} is unknown"));
        }
    }
    if saw_none && !items.is_empty() {
        dropped.push("entry \"none\" cannot be combined with other entries".to_owned());
    }
    if items.is_empty() && !saw_none {
        return Err(Rejection::because(dropped.join("; ")));
    }
    Ok(KeywordList { items, dropped })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn integers_accept_digits_only() {
        assert_eq!(unsigned("0").ok(), Some(0));
        assert_eq!(unsigned("0042").ok(), Some(42));
        for bad in [
            "-1",
            "+1",
            "1.5",
            "1e3",
            "abc",
            "",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(unsigned(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_treat_zero_as_no_limit() {
        assert_eq!(timeout("0").ok(), Some(None));
        assert_eq!(timeout("250").ok(), Some(Some(Duration::from_millis(250))));
    }

    #[test]
    fn ratios_are_bounded() {
        assert_eq!(ratio("0").ok(), Some(0.0));
        assert_eq!(ratio("1").ok(), Some(1.0));
        assert_eq!(ratio("0.25").ok(), Some(0.25));
        for bad in ["1.01", "-0.1", "NaN", "inf", "half"] {
            assert!(ratio(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_values_trim_decode_and_reject_malformed_members() {
        let pairs = key_values(" a = 1 ,, b=x%2Cy%3Dz , c=%E2%9C%93 ").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x,y=z".to_owned()),
                ("c".to_owned(), "✓".to_owned()),
            ]
        );
        assert!(key_values("a=1,b").is_err());
        assert!(key_values("a=1,=2").is_err());
        assert!(key_values("a=%FF").is_err());
        assert_eq!(
            key_values("a=1,a=2").unwrap(),
            vec![("a".into(), "2".into())]
        );
        assert_eq!(key_values("k=").unwrap(), vec![("k".into(), String::new())]);
    }
}
