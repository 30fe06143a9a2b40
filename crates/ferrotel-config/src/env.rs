//! A snapshot of environment variables, passed to [`ConfigBuilder::resolve`](crate::ConfigBuilder::resolve).
//!
//! Resolution never reads the process environment itself: it reads an [`Env`], so every rule
//! can be tested with a plain map. [`Env::from_process`] is the only place that touches
//! `std::env`.

use std::collections::BTreeMap;

use crate::issue::{ConfigIssue, Severity};

/// Environment variables by name, plus the executable name used for the default service name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
    executable_name: Option<String>,
    issues: Vec<ConfigIssue>,
}

impl Env {
    /// An empty environment: every setting resolves to its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// An environment from `(name, value)` pairs; a later pair wins over an earlier one.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut env = Self::new();
        for (name, value) in pairs {
            env.vars.insert(name.into(), value.into());
        }
        env
    }

    /// A snapshot of the process environment and of the executable's file stem.
    ///
    /// An `OTEL_*` or `FERROTEL_*` variable whose value is not UTF-8 is left out and reported
    /// as an invalid value when the configuration is resolved; other such variables are none
    /// of ferrotel's business and are skipped silently.
    pub fn from_process() -> Self {
        let mut env = Self::new();
        env.take(std::env::vars_os());
        env.executable_name = std::env::current_exe().ok().and_then(|path| {
            path.file_stem()
                .and_then(|stem| stem.to_str())
                .map(str::to_owned)
        });
        env
    }

    /// Takes the UTF-8 variables and reports the non-UTF-8 `OTEL_*` / `FERROTEL_*` ones.
    fn take<I>(&mut self, pairs: I)
    where
        I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    {
        let env = self;
        for (name, value) in pairs {
            let Some(name) = name.to_str() else { continue };
            match value.into_string() {
                Ok(value) => {
                    env.vars.insert(name.to_owned(), value);
                }
                // RUST_LOG too: ferrotel's filter reads it.
                Err(raw)
                    if name.starts_with("OTEL_")
                        || name.starts_with("FERROTEL_")
                        || name == "RUST_LOG" =>
                {
                    env.issues.push(ConfigIssue {
                        variable: name.to_owned(),
                        value: shown_non_utf8(name, &raw.to_string_lossy()),
                        allowed: "UTF-8 text".to_owned(),
                        fallback: "the value as if unset".to_owned(),
                        severity: Severity::Invalid,
                        reason: Some("the value is not UTF-8".to_owned()),
                    });
                }
                Err(_) => {}
            }
        }
    }

    /// An environment from raw OS `(name, value)` pairs, read exactly as [`Env::from_process`]
    /// reads the process environment: non-UTF-8 `OTEL_*` values are reported (tests of such
    /// values, which [`Env::from_pairs`] cannot hold).
    pub fn from_os_pairs<I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    {
        let mut env = Self::new();
        env.take(pairs);
        env
    }

    /// Sets one variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets the executable name used in the default service name `unknown_service:<name>`.
    pub fn with_executable_name(mut self, name: impl Into<String>) -> Self {
        self.executable_name = Some(name.into());
        self
    }

    /// The value of `name` with surrounding whitespace trimmed; `None` when unset or empty
    /// (the specification treats an empty value as unset).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// The executable name, if known.
    pub fn executable_name(&self) -> Option<&str> {
        self.executable_name.as_deref()
    }

    /// The value of `name` exactly as set (not trimmed, empty kept): what configuration-file
    /// substitution reads.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Every variable name, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// An environment holding only `vars`, with this one's executable name.
    pub(crate) fn derived(&self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: vars.into_iter().collect(),
            executable_name: self.executable_name.clone(),
            issues: Vec::new(),
        }
    }

    /// Problems found while taking the snapshot (non-UTF-8 values).
    pub(crate) fn snapshot_issues(&self) -> &[ConfigIssue] {
        &self.issues
    }
}

/// How a non-UTF-8 value is shown in its report: header lists with their values redacted,
/// endpoints without userinfo and query, other values as they are (lossily).
fn shown_non_utf8(name: &str, lossy: &str) -> String {
    if name.contains("HEADERS") {
        crate::redact::redact_header_list(lossy)
    } else if name.contains("ENDPOINT") {
        crate::redact::redact_url(lossy)
    } else {
        lossy.to_owned()
    }
}
