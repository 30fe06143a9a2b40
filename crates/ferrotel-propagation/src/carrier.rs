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

/// Every value of header `name`, in the order the carrier holds them (empty when absent).
///
/// Uses [`Extractor::get_all`], so a carrier that keeps repeated headers (an HTTP header map,
/// gRPC metadata) yields all of them; one that implements only [`Extractor::get`] yields at
/// most one value. The values are returned as they are, without trimming.
///
/// `Some` with no values is a carrier's answer that the header is absent, and is taken at its
/// word (ferrotel's header carriers answer so, saving a second lookup per absent header); on
/// `None`, `get` is asked too, for a carrier whose `get_all` is not implemented in earnest.
pub(crate) fn header_values<'a>(extractor: &'a dyn Extractor, name: &str) -> Vec<&'a str> {
    match extractor.get_all(name) {
        Some(all) => all,
        None => extractor.get(name).into_iter().collect(),
    }
}

/// An RFC 9110 token: the characters a header name (and a W3C baggage key) may hold.
pub(crate) fn is_header_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Strips HTTP optional whitespace (spaces and horizontal tabs) from both ends.
pub(crate) fn trim_ows(value: &str) -> &str {
    value.trim_matches(|c| c == ' ' || c == '\t')
}
