//! Hexadecimal id parsing shared by the B3, Jaeger and X-Ray propagators.
//!
//! `u128::from_str_radix` accepts a leading `+` and both letter cases, which neither format
//! allows in the same way, so the digits are checked here one by one.

/// Which letter case a format accepts for the hex digits `a`-`f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HexCase {
    /// Only `0-9a-f` (B3: ids are lower-hex).
    Lower,
    /// `0-9a-fA-F` (Jaeger: ids are plain base 16).
    Any,
}

/// Parses `digits` (1 to 32 hex digits, nothing else) as an unsigned number.
///
/// Returns `None` when `digits` is empty, longer than `max_digits`, or holds any character that
/// is not a hex digit of the accepted case.
pub(crate) fn parse_hex(digits: &str, max_digits: usize, case: HexCase) -> Option<u128> {
    if digits.is_empty() || digits.len() > max_digits || digits.len() > 32 {
        return None;
    }
    digits.bytes().try_fold(0u128, |acc, byte| {
        let nibble = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' if case == HexCase::Any => byte - b'A' + 10,
            _ => return None,
        };
        Some((acc << 4) | u128::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse_hex("ff", 2, HexCase::Lower), Some(255));
        assert_eq!(parse_hex("FF", 2, HexCase::Lower), None);
        assert_eq!(parse_hex("FF", 2, HexCase::Any), Some(255));
        assert_eq!(parse_hex("+f", 2, HexCase::Any), None);
        assert_eq!(parse_hex("", 2, HexCase::Any), None);
        assert_eq!(parse_hex("fff", 2, HexCase::Any), None);
        assert_eq!(
            parse_hex(&"f".repeat(32), 32, HexCase::Lower),
            Some(u128::MAX)
        );
        assert_eq!(parse_hex(&"f".repeat(33), 40, HexCase::Lower), None);
    }
}
