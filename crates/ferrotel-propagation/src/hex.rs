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

/// Marks a byte that is not a hex digit in [`LOWER`] and [`ANY`]; no digit has this bit.
const INVALID: u8 = 0x80;

/// The nibble of each byte, or [`INVALID`]: a table lookup per digit instead of range matches.
const fn table(upper: bool) -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 16 {
        let digit = if i < 10 { b'0' + i } else { b'a' + i - 10 };
        table[digit as usize] = i;
        if upper && i >= 10 {
            table[(b'A' + i - 10) as usize] = i;
        }
        i += 1;
    }
    table
}

static LOWER: [u8; 256] = table(false);
static ANY: [u8; 256] = table(true);

/// Up to 16 digits as a `u64`, if each is one: branch-free per digit, the invalid marks
/// collected and checked once.
fn fold(digits: &[u8], table: &[u8; 256]) -> Option<u64> {
    let mut seen = 0u8;
    let mut acc = 0u64;
    for &byte in digits {
        let nibble = table[usize::from(byte)];
        seen |= nibble;
        acc = (acc << 4) | u64::from(nibble & 0x0f);
    }
    (seen & INVALID == 0).then_some(acc)
}

/// Parses `digits` (1 to 32 hex digits, nothing else) as an unsigned number.
///
/// Returns `None` when `digits` is empty, longer than `max_digits`, or holds any character that
/// is not a hex digit of the accepted case.
pub(crate) fn parse_hex(digits: &str, max_digits: usize, case: HexCase) -> Option<u128> {
    let bytes = digits.as_bytes();
    if bytes.is_empty() || bytes.len() > max_digits || bytes.len() > 32 {
        return None;
    }
    let table = match case {
        HexCase::Lower => &LOWER,
        HexCase::Any => &ANY,
    };
    // Two 64-bit halves: no 128-bit shift per digit.
    let (high, low) = bytes.split_at(bytes.len().saturating_sub(16));
    let shift = 4 * low.len();
    Some((u128::from(fold(high, table)?) << shift) | u128::from(fold(low, table)?))
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
        assert_eq!(
            parse_hex("4bf92f3577b34da6a3ce929d0e0e4736", 32, HexCase::Lower),
            Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(
            parse_hex("1234567890abcdef1", 32, HexCase::Lower),
            Some(0x1_2345_6789_0abc_def1)
        );
        assert_eq!(
            parse_hex("00f067aa0ba902b7", 16, HexCase::Lower),
            Some(0x00f0_67aa_0ba9_02b7)
        );
        // Every byte: a digit of its case exactly, nothing else.
        for byte in 0..=255u8 {
            let text = [byte, b'0'];
            let Ok(text) = std::str::from_utf8(&text) else {
                continue;
            };
            let lower = byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte);
            let any = byte.is_ascii_hexdigit();
            assert_eq!(
                parse_hex(text, 2, HexCase::Lower).is_some(),
                lower,
                "{byte}"
            );
            assert_eq!(parse_hex(text, 2, HexCase::Any).is_some(), any, "{byte}");
        }
    }
}
