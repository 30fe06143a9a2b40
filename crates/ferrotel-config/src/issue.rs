//! Problems found while resolving the configuration, and the strict-mode error.
//!
//! Bad configuration is never swallowed: every problem names the variable (or code setting),
//! the value and what is allowed. In lenient mode the problems come back as
//! [`Resolved::issues`](crate::Resolved::issues) next to a usable configuration; in strict mode
//! the [`Severity::Invalid`] ones become a [`ConfigError`].

use std::fmt;

use crate::escape::printable;

/// How serious a [`ConfigIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The value breaks the rules and was replaced. Fails [strict mode](crate::ConfigBuilder::strict).
    Invalid,
    /// The value is allowed but probably not what was meant. Never fails strict mode.
    Advice,
}

/// One problem with one configuration value.
///
/// Its `Display` is a complete sentence, e.g.
/// `OTEL_TRACES_SAMPLER="sometimes" is not valid (allowed: always_on, …); using the default
/// parentbased_always_on`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigIssue {
    /// The variable (one of the [`vars`](crate::vars) constants), or `code: <setting>` for a
    /// value set through [`ConfigBuilder`](crate::ConfigBuilder).
    pub variable: String,
    /// The value as found (trimmed).
    pub value: String,
    /// What would have been accepted, e.g. `true, false` or `a non-negative integer (milliseconds)`.
    pub allowed: String,
    /// What is used instead, worded to follow "using", e.g. `the default 5000 ms`.
    pub fallback: String,
    /// Whether the value was rejected or merely looks like a mistake.
    pub severity: Severity,
    /// Why, when more needs to be said than "not valid", e.g. `known to the specification but
    /// not supported by ferrotel`.
    pub reason: Option<String>,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.severity {
            Severity::Invalid => "is not valid",
            Severity::Advice => "is probably a mistake",
        };
        // Names, values and reasons can quote the environment or a file: printed escaped.
        if self.value.is_empty() {
            // A key of a configuration file, not a variable with a value.
            write!(f, "{} {verdict}", printable(&self.variable))?;
        } else {
            write!(
                f,
                "{}=\"{}\" {verdict}",
                printable(&self.variable),
                printable(&self.value)
            )?;
        }
        if let Some(reason) = &self.reason {
            write!(f, ": {}", printable(reason))?;
        }
        if !self.allowed.is_empty() {
            write!(f, " (allowed: {})", self.allowed)?;
        }
        if !self.fallback.is_empty() {
            write!(f, "; using {}", self.fallback)?;
        }
        Ok(())
    }
}

/// The configuration was refused: strict mode found [`Severity::Invalid`] issues, or the
/// configuration file ([`ConfigFile`](crate::ConfigFile)) could not be read as configuration.
///
/// Opaque on purpose so that more failure kinds can be added later; read the problems with
/// [`ConfigError::issues`] and [`ConfigError::file_location`].
#[derive(Debug, Clone)]
pub struct ConfigError {
    kind: ErrorKind,
}

#[derive(Debug, Clone)]
enum ErrorKind {
    /// Strict mode and at least one invalid value.
    StrictInvalid(Vec<ConfigIssue>),
    /// The configuration file is not usable at all: no partial result.
    File {
        file: String,
        line: usize,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn strict(issues: Vec<ConfigIssue>) -> Self {
        Self {
            kind: ErrorKind::StrictInvalid(issues),
        }
    }

    pub(crate) fn file(file: &str, line: usize, message: String) -> Self {
        Self {
            kind: ErrorKind::File {
                file: file.to_owned(),
                line,
                message,
            },
        }
    }

    /// Every invalid value, in the order they were found (empty for a file error).
    pub fn issues(&self) -> &[ConfigIssue] {
        match &self.kind {
            ErrorKind::StrictInvalid(issues) => issues,
            ErrorKind::File { .. } => &[],
        }
    }

    /// For a configuration file that could not be used: the file and the line (1-based).
    pub fn file_location(&self) -> Option<(&str, usize)> {
        match &self.kind {
            ErrorKind::File { file, line, .. } => Some((file, *line)),
            ErrorKind::StrictInvalid(_) => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::StrictInvalid(issues) => {
                let count = issues.len();
                let plural = if count == 1 { "" } else { "s" };
                write!(
                    f,
                    "invalid configuration (strict mode), {count} problem{plural}:"
                )?;
                for issue in issues {
                    write!(f, "\n  - {issue}")?;
                }
                Ok(())
            }
            ErrorKind::File {
                file,
                line,
                message,
            } => write!(
                f,
                "configuration file {}:{line}: {}",
                printable(file),
                printable(message)
            ),
        }
    }
}

impl std::error::Error for ConfigError {}
