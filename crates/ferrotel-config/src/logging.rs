//! Settings for ferrotel's own diagnostics.

use crate::parse::keyword_enum;

keyword_enum! {
    /// Level of ferrotel's own diagnostics, from [`OTEL_LOG_LEVEL`](crate::vars::OTEL_LOG_LEVEL).
    pub enum LogLevel {
        /// `trace`: everything.
        Trace => "trace",
        /// `debug`.
        Debug => "debug",
        /// `info` (default).
        #[default]
        Info => "info",
        /// `warn`.
        Warn => "warn",
        /// `error`.
        Error => "error",
        /// `off`: nothing.
        Off => "off",
    }
}

keyword_enum! {
    /// Format of ferrotel's own diagnostics, from
    /// [`FERROTEL_LOG_FORMAT`](crate::vars::FERROTEL_LOG_FORMAT).
    pub enum LogFormat {
        /// `text`: human-readable lines (default).
        #[default]
        Text => "text",
        /// `json`: one JSON object per line.
        Json => "json",
    }
}
