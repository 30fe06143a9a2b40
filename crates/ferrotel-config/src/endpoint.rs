//! Checks on endpoint URLs and the OTLP/HTTP signal-path rule, without a URL crate.

use crate::precedence::Rejection;

/// The parts of an `http://` / `https://` URL ferrotel cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Explicit port, if any.
    pub(crate) port: Option<u16>,
}

/// Accepts `http://` or `https://` (any case) followed by a non-empty host, an optional
/// numeric port, and anything after the authority. Whitespace is never allowed.
pub(crate) fn check(url: &str) -> Result<Checked, Rejection> {
    if url.chars().any(char::is_whitespace) {
        return Err(Rejection::because("the URL contains whitespace"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Rejection::because(
            "the URL has no http:// or https:// scheme",
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Rejection::because(format!(
            "the scheme {scheme:?} is neither http nor https"
        )));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((ipv6, after)) = bracketed.split_once(']') else {
            return Err(Rejection::because("the IPv6 host has no closing ']'"));
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(Rejection::because("unexpected text after the IPv6 host")),
            },
        };
        (ipv6, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(Rejection::because("the URL has no host"));
    }
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if text.bytes().all(|b| b.is_ascii_digit()) => Some(port),
            _ => {
                return Err(Rejection::because(format!(
                    "the port {text:?} is not a number from 0 to 65535"
                )))
            }
        },
    };
    Ok(Checked { port })
}

/// Whether `url` names a scheme at all (`scheme://…`).
pub(crate) fn has_scheme(url: &str) -> bool {
    url.contains("://")
}

/// Appends `signal_path` (e.g. `v1/traces`) to the path of `base`, treating the path as a
/// directory: `http://h:4318` and `http://h:4318/` give `http://h:4318/v1/traces`,
/// `http://h:4318/otlp` gives `http://h:4318/otlp/v1/traces`. A query or fragment stays at
/// the end.
pub(crate) fn append_path(base: &str, signal_path: &str) -> String {
    let after_scheme = base.find("://").map_or(0, |at| at + 3);
    let tail_start = base[after_scheme..]
        .find(['?', '#'])
        .map_or(base.len(), |at| after_scheme + at);
    let (head, tail) = base.split_at(tail_start);
    let separator = if head.ends_with('/') { "" } else { "/" };
    format!("{head}{separator}{signal_path}{tail}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_urls_with_hosts() {
        assert_eq!(check("http://localhost:4317").unwrap().port, Some(4317));
        assert_eq!(check("HTTPS://collector/otlp").unwrap().port, None);
        assert_eq!(check("http://[::1]:4318/x").unwrap().port, Some(4318));
        assert_eq!(check("http://user:pw@h:9/").unwrap().port, Some(9));
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "localhost:4317",
            "ftp://h",
            "http://",
            "http://:4317",
            "http://h:port",
            "http://h:70000",
            "http://h:-1",
            "http://h h",
            "http://[::1",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appends_signal_paths_as_a_directory() {
        assert_eq!(
            append_path("http://h:4318", "v1/traces"),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            append_path("http://h:4318/", "v1/traces"),
            "http://h:4318/v1/traces"
        );
        assert_eq!(
            append_path("http://h:4318/otlp", "v1/metrics"),
            "http://h:4318/otlp/v1/metrics"
        );
        assert_eq!(
            append_path("http://h:4318/otlp/", "v1/metrics"),
            "http://h:4318/otlp/v1/metrics"
        );
        assert_eq!(
            append_path("http://h/p?x=1", "v1/traces"),
            "http://h/p/v1/traces?x=1"
        );
    }
}
