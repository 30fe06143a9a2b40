//! The error of building an exporter.

use std::error::Error;
use std::fmt;

/// Why an exporter could not be built: an unreadable or invalid TLS file, or a setting the
/// transport cannot use. The message names the variable and the file or value, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    tls: bool,
    message: String,
}

impl SetupError {
    pub(crate) fn tls(message: String) -> Self {
        Self { tls: true, message }
    }

    pub(crate) fn setup(message: String) -> Self {
        Self {
            tls: false,
            message,
        }
    }

    /// Whether a certificate or key could not be read or used.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The message, without a prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for SetupError {}
