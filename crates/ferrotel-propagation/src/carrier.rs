//! Reading header values out of an [`Extractor`].

use opentelemetry::propagation::Extractor;

/// A header that appears several times with different values: the carrier does not say which
/// one the sender meant, so the header counts as invalid.
#[derive(Debug)]
pub(crate) struct Ambiguous;

/// Returns the value of header `name`, without surrounding spaces and tabs (HTTP optional
/// whitespace), or `None` when it is absent.
///
/// Repeated headers with one and the same value are accepted; repeated headers with different
/// values are [`Ambiguous`].
pub(crate) fn read_header<'a>(
    extractor: &'a dyn Extractor,
    name: &str,
) -> Result<Option<&'a str>, Ambiguous> {
    let Some(first) = extractor.get(name) else {
        return Ok(None);
    };
    let first = trim_ows(first);
    if let Some(all) = extractor.get_all(name) {
        if all.iter().any(|value| trim_ows(value) != first) {
            return Err(Ambiguous);
        }
    }
    Ok(Some(first))
}

/// Strips HTTP optional whitespace (spaces and horizontal tabs) from both ends.
pub(crate) fn trim_ows(value: &str) -> &str {
    value.trim_matches(|c| c == ' ' || c == '\t')
}
