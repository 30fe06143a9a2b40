//! Hiding secrets in every message ferrotel writes.
//!
//! OTLP header values (bearer tokens, API keys), the userinfo of an endpoint URL
//! (`http://user:SECRET@host`) and its query string (`?api_key=…`) are secrets. Messages name
//! them only in redacted form: [`redact_url`] and [`redact_header_list`] rewrite one value, and
//! a [`Redactor`] built from the configuration scrubs any text, including errors that come from
//! dependencies and log lines they write.

use std::borrow::Cow;

use crate::Config;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this are not scrubbed from free text: replacing every `1` or `ab` in a
/// message would destroy it. Header values and URL parts that short are still hidden wherever
/// ferrotel formats them itself.
pub const MIN_SCRUBBED_LEN: usize = 4;

/// The userinfo and the query (and fragment) of a URL-like text, if any:
/// `(userinfo, query_and_fragment)`.
fn url_secrets(url: &str) -> (Option<&str>, Option<&str>) {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[after_scheme..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let userinfo = authority.rfind('@').map(|at| &authority[..at]);
    let query = rest.find(['?', '#']).map(|at| &rest[at + 1..]);
    (
        userinfo.filter(|u| !u.is_empty()),
        query.filter(|q| !q.is_empty()),
    )
}

/// `http://user:pw@host:4318/v1/traces?api_key=k` → `http://<redacted>@host:4318/v1/traces?<redacted>`.
/// A URL without userinfo or query is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let (userinfo, query) = url_secrets(url);
    let mut out = url.to_owned();
    // The query comes last: replace it first so the userinfo's offsets stay valid.
    if let Some(query) = query {
        let start = url.len() - query.len();
        out.replace_range(start.., REDACTED);
    }
    if let Some(userinfo) = userinfo {
        let start = url.find("://").map_or(0, |at| at + 3);
        out.replace_range(start..start + userinfo.len(), REDACTED);
    }
    out
}

/// `k1=v1,k2=v2` → `k1=<redacted>,k2=<redacted>`; a member without `=` is hidden entirely.
pub fn redact_header_list(text: &str) -> String {
    text.split(',')
        .map(|member| match member.split_once('=') {
            Some((name, _)) => format!("{}={REDACTED}", name.trim()),
            None if member.trim().is_empty() => String::new(),
            None => REDACTED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Scrubs known secrets out of free text (error messages of dependencies, log lines).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The secrets of a resolved configuration: every signal's header values (traces, metrics,
    /// logs) and their endpoints' userinfo and query strings.
    pub fn from_config(config: &Config) -> Self {
        let mut redactor = Self::new();
        for otlp in [&config.traces_otlp, &config.metrics_otlp, &config.logs_otlp] {
            redactor.add_url(&otlp.endpoint);
            for (_, value) in &otlp.headers {
                redactor.add(value);
            }
        }
        redactor
    }

    /// Adds one secret (ignored when shorter than [`MIN_SCRUBBED_LEN`]), and its
    /// percent-encoded and whitespace-trimmed forms.
    pub fn add(&mut self, secret: &str) {
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for form in [secret.to_owned(), secret.trim().to_owned(), encoded] {
            if form.len() >= MIN_SCRUBBED_LEN && !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds the userinfo (and its password alone) and the query of `url`.
    pub fn add_url(&mut self, url: &str) {
        let (userinfo, query) = url_secrets(url);
        if let Some(userinfo) = userinfo {
            self.add(userinfo);
            if let Some((_, password)) = userinfo.split_once(':') {
                self.add(password);
            }
        }
        if let Some(query) = query {
            self.add(query);
            for pair in query.split(['&', ';', '#']) {
                if let Some((_, value)) = pair.split_once('=') {
                    self.add(value);
                }
            }
        }
    }

    /// Whether any secret is known.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self
            .secrets
            .iter()
            .any(|secret| text.contains(secret.as_str()))
        {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_userinfo_and_query() {
        assert_eq!(
            redact_url("http://user:pw@h:4318/v1/traces?api_key=k#f"),
            "http://<redacted>@h:4318/v1/traces?<redacted>"
        );
        assert_eq!(redact_url("http://h:4318/x"), "http://h:4318/x");
        assert_eq!(redact_url("h:4317"), "h:4317");
        assert_eq!(redact_url("https://a@b@h/"), "https://<redacted>@h/");
    }

    #[test]
    fn header_lists_keep_only_names() {
        assert_eq!(
            redact_header_list("a=1, b = secret ,c"),
            "a=<redacted>,b=<redacted>,<redacted>"
        );
    }

    #[test]
    fn the_redactor_scrubs_every_form_of_a_secret() {
        let mut r = Redactor::new();
        r.add("Bearer t0ken!");
        r.add_url("http://me:hunter22@h/?api_key=abcd1234");
        let text =
            "auth Bearer t0ken! / Bearer%20t0ken%21 at http://me:hunter22@h/?api_key=abcd1234";
        let scrubbed = r.scrub(text);
        for secret in ["t0ken", "hunter22", "abcd1234"] {
            assert!(!scrubbed.contains(secret), "{scrubbed}");
        }
        assert_eq!(r.scrub("nothing here"), "nothing here");
        assert!(!format!("{r:?}").contains("hunter"));
    }
}
