//! The error `try_init()` returns.

use std::error::Error;
use std::fmt;

/// Why ferrotel could not start.
///
/// The message names what is wrong (the variable, the value, the allowed values, or the file)
/// so it can be shown to an operator as it is.
#[derive(Debug)]
pub struct InitError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Strict mode and at least one invalid variable.
    Config(ferrotel_config::ConfigError),
    /// The `OTEL_CONFIG_FILE` file could not be read.
    ConfigFile(String),
    /// A certificate or key could not be read or used.
    Tls(String),
    /// An exporter, sampler or the export runtime could not be built.
    Setup(String),
    /// A global tracing subscriber is already installed.
    SubscriberTaken(tracing::dispatcher::SetGlobalDefaultError),
}

impl InitError {
    pub(crate) fn config_file(message: String) -> Self {
        Self {
            kind: Kind::ConfigFile(message),
        }
    }

    pub(crate) fn setup(message: String) -> Self {
        Self {
            kind: Kind::Setup(message),
        }
    }

    pub(crate) fn subscriber_taken(err: tracing::dispatcher::SetGlobalDefaultError) -> Self {
        Self {
            kind: Kind::SubscriberTaken(err),
        }
    }

    /// The configuration problems, when strict mode refused to start because of them or the
    /// configuration file was not usable.
    pub fn config_error(&self) -> Option<&ferrotel_config::ConfigError> {
        match &self.kind {
            Kind::Config(err) => Some(err),
            _ => None,
        }
    }
}

impl From<ferrotel_config::ConfigError> for InitError {
    fn from(err: ferrotel_config::ConfigError) -> Self {
        Self {
            kind: Kind::Config(err),
        }
    }
}

impl From<ferrotel_otlp::SetupError> for InitError {
    fn from(err: ferrotel_otlp::SetupError) -> Self {
        let message = err.message().to_owned();
        Self {
            kind: if err.is_tls() {
                Kind::Tls(message)
            } else {
                Kind::Setup(message)
            },
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(err) if err.file_location().is_some() => {
                write!(f, "ferrotel configuration refused: {err}")
            }
            Kind::Config(err) => write!(f, "ferrotel configuration refused (strict mode): {err}"),
            Kind::ConfigFile(msg) => write!(f, "ferrotel configuration refused: {msg}"),
            Kind::Tls(msg) => write!(f, "ferrotel TLS setup failed: {msg}"),
            Kind::Setup(msg) => write!(f, "ferrotel setup failed: {msg}"),
            Kind::SubscriberTaken(_) => write!(
                f,
                "ferrotel could not install its tracing subscriber: another global subscriber \
                 is already set (build with ferrotel::builder().install_subscriber(false) and \
                 add the guard's Guard::layer() to your subscriber)"
            ),
        }
    }
}

impl Error for InitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            Kind::Config(err) => Some(err),
            Kind::SubscriberTaken(err) => Some(err),
            Kind::Tls(_) | Kind::Setup(_) | Kind::ConfigFile(_) => None,
        }
    }
}
