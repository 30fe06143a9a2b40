//! OTLP exporter settings, resolved once per signal.
//!
//! Precedence for every field (one rule, [`Resolver::resolve`]): per-signal code setting
//! ([`ConfigBuilder::traces_otlp`](crate::ConfigBuilder::traces_otlp)) > generic code setting
//! ([`ConfigBuilder::otlp`](crate::ConfigBuilder::otlp)) > per-signal variable
//! (`OTEL_EXPORTER_OTLP_TRACES_*`) > generic variable (`OTEL_EXPORTER_OTLP_*`) > default.
//!
//! Endpoint rules (OTLP exporter specification):
//! - the default is `http://localhost:4317` for gRPC and `http://localhost:4318/v1/<signal>` for
//!   HTTP;
//! - for the HTTP protocols a *generic* endpoint is a base URL: `v1/traces` / `v1/metrics` is
//!   appended to its path (`http://h:4318` → `http://h:4318/v1/traces`, `http://h/otlp` →
//!   `http://h/otlp/v1/traces`); a *per-signal* endpoint is used exactly as given;
//! - for gRPC the URL is used as given. A gRPC endpoint without a scheme (`collector:4317`) gets
//!   `http://` when `insecure` is true and `https://` otherwise; for HTTP a scheme is required.

use std::path::PathBuf;
use std::time::Duration;

use crate::endpoint;
use crate::issue::{ConfigIssue, Severity};
use crate::parse::{self, keyword_enum};
use crate::precedence::{Candidate, Origin, Rejection, Resolver};
use crate::vars::{self, OtlpNames};

keyword_enum! {
    /// OTLP transport.
    pub enum Protocol {
        /// `grpc`: OTLP over gRPC (port 4317).
        Grpc => "grpc",
        /// `http/protobuf` (the specification's default): protobuf over HTTP (port 4318).
        #[default]
        HttpProtobuf => "http/protobuf",
        /// `http/json`: JSON over HTTP (port 4318).
        HttpJson => "http/json",
    }
}

impl Protocol {
    /// Whether this is one of the HTTP protocols.
    pub fn is_http(self) -> bool {
        matches!(self, Protocol::HttpProtobuf | Protocol::HttpJson)
    }
}

keyword_enum! {
    /// Payload compression.
    pub enum Compression {
        /// `none` (default).
        #[default]
        None => "none",
        /// `gzip`.
        Gzip => "gzip",
    }
}

/// Default gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default HTTP base endpoint (the signal path is appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default export timeout (10 s).
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_millis(10_000);

/// Final OTLP exporter settings for one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The URL to send to, signal path included for HTTP (`…_ENDPOINT`).
    pub endpoint: String,
    /// Transport (`…_PROTOCOL`), default [`Protocol::HttpProtobuf`].
    pub protocol: Protocol,
    /// Whether the protocol was set in code or in a variable rather than defaulted.
    pub protocol_explicit: bool,
    /// Extra request headers, percent-decoded (`…_HEADERS`). Per-signal headers replace the
    /// generic ones; they are not merged.
    pub headers: Vec<(String, String)>,
    /// Maximum time of one export (`…_TIMEOUT`, default 10 s); `None` means no limit (`0`).
    pub timeout: Option<Duration>,
    /// Payload compression (`…_COMPRESSION`), default [`Compression::None`].
    pub compression: Compression,
    /// Plain-text gRPC for an endpoint given without a scheme (`…_INSECURE`), default `false`.
    pub insecure: bool,
    /// PEM file with trusted CA certificates (`…_CERTIFICATE`); `None`: system roots.
    pub certificate: Option<PathBuf>,
    /// PEM file with the client private key for mTLS (`…_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
    /// PEM file with the client certificate chain for mTLS (`…_CLIENT_CERTIFICATE`).
    pub client_certificate: Option<PathBuf>,
}

/// OTLP settings made in code, for all signals ([`ConfigBuilder::otlp`](crate::ConfigBuilder::otlp))
/// or for one ([`ConfigBuilder::traces_otlp`](crate::ConfigBuilder::traces_otlp),
/// [`ConfigBuilder::metrics_otlp`](crate::ConfigBuilder::metrics_otlp)). Unset fields fall
/// through to the variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtlpOverrides {
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Option<Vec<(String, String)>>,
    timeout: Option<Option<Duration>>,
    compression: Option<Compression>,
    insecure: Option<bool>,
    certificate: Option<PathBuf>,
    client_key: Option<PathBuf>,
    client_certificate: Option<PathBuf>,
}

impl OtlpOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Endpoint, beating `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT`. Validated like the
    /// variables; a generic one gets the signal path appended for HTTP, a per-signal one is used
    /// as given.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Protocol, beating `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL`.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Headers (not percent-decoded), replacing `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS`.
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let headers = headers
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        self.headers = Some(headers);
        self
    }

    /// Export timeout, `None` for no limit, beating
    /// `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]TIMEOUT`.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Compression, beating `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]COMPRESSION`.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// Insecure gRPC for scheme-less endpoints, beating
    /// `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]INSECURE`.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = Some(insecure);
        self
    }

    /// CA certificate file, beating `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CERTIFICATE`.
    pub fn certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.certificate = Some(path.into());
        self
    }

    /// Client key file, beating `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CLIENT_KEY`.
    pub fn client_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_key = Some(path.into());
        self
    }

    /// Client certificate file, beating
    /// `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]CLIENT_CERTIFICATE`.
    pub fn client_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_certificate = Some(path.into());
        self
    }
}

/// The telemetry signals with their own OTLP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

/// The code settings of one layer (`traces_otlp.endpoint`, …), named in messages.
macro_rules! code_names {
    ($layer:literal) => {
        OtlpNames {
            endpoint: concat!($layer, ".endpoint"),
            protocol: concat!($layer, ".protocol"),
            headers: concat!($layer, ".headers"),
            timeout: concat!($layer, ".timeout"),
            compression: concat!($layer, ".compression"),
            insecure: concat!($layer, ".insecure"),
            certificate: concat!($layer, ".certificate"),
            client_key: concat!($layer, ".client_key"),
            client_certificate: concat!($layer, ".client_certificate"),
        }
    };
}

const GENERIC_CODE: OtlpNames = code_names!("otlp");
const TRACES_CODE: OtlpNames = code_names!("traces_otlp");
const METRICS_CODE: OtlpNames = code_names!("metrics_otlp");
const LOGS_CODE: OtlpNames = code_names!("logs_otlp");

/// The four layers of one field, in precedence order.
fn layers<'e, T>(
    env: &'e crate::Env,
    field: impl Fn(&OtlpNames) -> &'static str,
    (signal_vars, signal_code): (&OtlpNames, &OtlpNames),
    signal_value: Option<T>,
    generic_value: Option<T>,
) -> [Candidate<'e, T>; 4] {
    [
        Candidate::code(field(signal_code), signal_value),
        Candidate::code(field(&GENERIC_CODE), generic_value),
        Candidate::env(env, field(signal_vars)),
        Candidate::env(env, field(&vars::OTLP)),
    ]
}

/// Resolves the OTLP settings of `signal`.
pub(crate) fn resolve(
    resolver: &mut Resolver<'_>,
    signal: Signal,
    generic: &OtlpOverrides,
    specific: &OtlpOverrides,
) -> OtlpConfig {
    let env = resolver.env();
    let names = match signal {
        Signal::Traces => (&vars::TRACES.otlp, &TRACES_CODE),
        Signal::Metrics => (&vars::METRICS.otlp, &METRICS_CODE),
        Signal::Logs => (&vars::LOGS.otlp, &LOGS_CODE),
    };
    let signal_path = match signal {
        Signal::Traces => "v1/traces",
        Signal::Metrics => "v1/metrics",
        Signal::Logs => "v1/logs",
    };

    let protocol = resolver.resolve(
        layers(
            env,
            |n| n.protocol,
            names,
            specific.protocol,
            generic.protocol,
        ),
        &parse::keywords::<Protocol>(),
        Protocol::default(),
        Protocol::to_string,
        |_, text| parse::keyword(text),
    );
    let protocol_explicit = !protocol.origin.is_default();
    let protocol = protocol.value;

    let insecure = resolver
        .resolve(
            layers(
                env,
                |n| n.insecure,
                names,
                specific.insecure,
                generic.insecure,
            ),
            parse::BOOL_ALLOWED,
            false,
            bool::to_string,
            |_, text| parse::boolean(text),
        )
        .value;

    let endpoint_mark = resolver.mark();
    let endpoint = resolve_endpoint(
        resolver,
        names,
        signal_path,
        protocol,
        insecure,
        generic,
        specific,
    );
    if !protocol_explicit && endpoint.port == Some(4317) {
        resolver.report(ConfigIssue {
            variable: endpoint.origin.name(),
            value: crate::redact::redact_url(&endpoint.given),
            allowed: String::new(),
            fallback: String::new(),
            severity: Severity::Advice,
            reason: Some(
                "port 4317 is the OTLP/gRPC port while the default protocol is http/protobuf \
                 (port 4318); set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use port 4318"
                    .to_owned(),
            ),
        });
    }

    // Userinfo and query strings are secrets: issues show them redacted.
    resolver.redact_since(endpoint_mark, crate::redact::redact_url);

    let mark = resolver.mark();
    let headers = resolver
        .resolve(
            layers(
                env,
                |n| n.headers,
                names,
                specific.headers.clone(),
                generic.headers.clone(),
            ),
            "comma-separated key=value pairs with HTTP header names and percent-encoded values",
            Vec::new(),
            |headers: &Vec<(String, String)>| show_header_names(headers),
            |_, text| parse_headers(text),
        )
        .value;
    resolver.redact_since(mark, redact_headers);

    let timeout = resolver.resolve(
        layers(env, |n| n.timeout, names, specific.timeout, generic.timeout),
        parse::MILLIS_ALLOWED,
        Some(DEFAULT_OTLP_TIMEOUT),
        parse::show_timeout,
        |_, text| parse::timeout(text),
    );
    let timeout = timeout
        .value
        .map(|value| resolver.cap_duration(value, timeout.origin));

    let compression = resolver
        .resolve(
            layers(
                env,
                |n| n.compression,
                names,
                specific.compression,
                generic.compression,
            ),
            &parse::keywords::<Compression>(),
            Compression::default(),
            Compression::to_string,
            |_, text| parse::keyword(text),
        )
        .value;

    let mut path = |field: fn(&OtlpNames) -> &'static str,
                    signal_value: &Option<PathBuf>,
                    generic_value: &Option<PathBuf>| {
        resolver
            .resolve(
                layers(
                    env,
                    field,
                    names,
                    signal_value.clone().map(Some),
                    generic_value.clone().map(Some),
                ),
                "a file path",
                None,
                |path: &Option<PathBuf>| {
                    path.as_ref()
                        .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
                },
                |_, text| Ok(Some(PathBuf::from(text))),
            )
            .value
    };
    let certificate = path(
        |n| n.certificate,
        &specific.certificate,
        &generic.certificate,
    );
    let client_key = path(|n| n.client_key, &specific.client_key, &generic.client_key);
    let client_certificate = path(
        |n| n.client_certificate,
        &specific.client_certificate,
        &generic.client_certificate,
    );

    OtlpConfig {
        endpoint: endpoint.url,
        protocol,
        protocol_explicit,
        headers,
        timeout,
        compression,
        insecure,
        certificate,
        client_key,
        client_certificate,
    }
}

/// A resolved endpoint with what the user wrote, for the port-4317 advice.
struct ResolvedEndpoint {
    url: String,
    port: Option<u16>,
    origin: Origin,
    given: String,
}

fn resolve_endpoint(
    resolver: &mut Resolver<'_>,
    names: (&OtlpNames, &OtlpNames),
    signal_path: &str,
    protocol: Protocol,
    insecure: bool,
    generic: &OtlpOverrides,
    specific: &OtlpOverrides,
) -> ResolvedEndpoint {
    let env = resolver.env();
    let (signal_vars, signal_code) = names;
    let candidates = [
        Candidate::code_text(signal_code.endpoint, specific.endpoint.as_deref()),
        Candidate::code_text(GENERIC_CODE.endpoint, generic.endpoint.as_deref()),
        Candidate::env(env, signal_vars.endpoint),
        Candidate::env(env, vars::OTLP.endpoint),
    ];
    let is_generic = |origin: Origin| {
        origin == Origin::Code(GENERIC_CODE.endpoint) || origin == Origin::Env(vars::OTLP.endpoint)
    };
    let default = if protocol.is_http() {
        endpoint::append_path(DEFAULT_HTTP_ENDPOINT, signal_path)
    } else {
        DEFAULT_GRPC_ENDPOINT.to_owned()
    };
    let allowed = if protocol.is_http() {
        "an http:// or https:// URL with a host"
    } else {
        "an http:// or https:// URL with a host, or host:port"
    };
    // (final URL, explicit port, text as given)
    let resolution = resolver.resolve(
        candidates,
        allowed,
        (default, None, String::new()),
        |(url, _, _): &(String, Option<u16>, String)| crate::redact::redact_url(url),
        |origin, text| {
            let url = if endpoint::has_scheme(text) {
                text.to_owned()
            } else if protocol.is_http() {
                return Err(Rejection::because(
                    "an OTLP/HTTP endpoint needs an http:// or https:// scheme",
                ));
            } else if insecure {
                format!("http://{text}")
            } else {
                format!("https://{text}")
            };
            let checked = endpoint::check(&url)?;
            let url = if protocol.is_http() && is_generic(origin) {
                endpoint::append_path(&url, signal_path)
            } else {
                url
            };
            Ok((url, checked.port, text.to_owned()))
        },
    );
    let (url, port, given) = resolution.value;
    ResolvedEndpoint {
        url,
        port,
        origin: resolution.origin,
        given,
    }
}

/// `key=value` headers: [`parse::key_values`] plus HTTP header-name and value checks.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>, Rejection> {
    let headers = parse::key_values(text)?;
    for (name, value) in &headers {
        let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if !name.chars().all(is_token) {
            return Err(Rejection::because(format!(
                "{name:?} is not a valid HTTP header name"
            )));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Rejection::because(format!(
                "the value of header {name:?} contains control characters"
            )));
        }
    }
    Ok(headers)
}

/// Header names only: values are often secrets.
fn show_header_names(headers: &[(String, String)]) -> String {
    if headers.is_empty() {
        "empty header list".to_owned()
    } else {
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        format!("headers {}", names.join(", "))
    }
}

/// Hides header values in issue reports: `key=<redacted>`; a member without `=` is hidden
/// entirely.
pub(crate) fn redact_headers(text: &str) -> String {
    crate::redact::redact_header_list(text)
}
