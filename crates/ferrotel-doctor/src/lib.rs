//! `ferrotel-doctor`: is this service's telemetry going to arrive?
//!
//! Run it with the service's environment. It prints the effective configuration (every
//! variable's value and where it came from, secrets redacted), the problems it finds (the
//! 4317/4318 protocol trap, an unreachable endpoint, TLS files that cannot work, unknown
//! `OTEL_*` names with the nearest known one) and then probes the endpoints with a real OTLP
//! export of one test span and one metric, printing the trace id to look for in Jaeger. The exit
//! code is 0 when healthy and 1 otherwise, so it serves as a readiness check.
//!
//! ```no_run
//! let env = ferrotel::config::Env::from_process();
//! let report = ferrotel_doctor::diagnose(&env);
//! print!("{}", report.text);
//! std::process::exit(if report.healthy { 0 } else { 1 });
//! ```

use std::fmt::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ferrotel::config::escape::printable;
use ferrotel::config::redact::{redact_header_list, redact_url, Redactor, REDACTED};
use ferrotel::config::{vars, Config, Env, Protocol, Severity};
use ferrotel::opentelemetry::metrics::MeterProvider as _;
use ferrotel::opentelemetry::trace::{Span as _, Tracer as _};

/// How long the probe may take, and each connection attempt.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What [`diagnose`] found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The whole report, ready to print; secrets are redacted.
    pub text: String,
    /// No problem found and the probe export arrived.
    pub healthy: bool,
    /// The probe span's trace id, when a span was made.
    pub trace_id: Option<String>,
}

/// Every variable name ferrotel reads: `ferrotel::config::vars::ALL`.
pub fn known_variables() -> Vec<&'static str> {
    ferrotel::config::vars::ALL.to_vec()
}

/// Whether a variable's value is a secret: headers (tokens, API keys) and anything named so.
pub fn is_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["HEADERS", "TOKEN", "PASSWORD", "SECRET", "API_KEY"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// The known variable nearest to `name`, when it is near enough to be a typo.
pub fn nearest_known(name: &str) -> Option<&'static str> {
    known_variables()
        .into_iter()
        .map(|known| (distance(name, known), known))
        .min()
        .filter(|(d, _)| *d <= 4)
        .map(|(_, known)| known)
}

/// `(host, port)` of an endpoint URL (`http://h:p/...`, `https://h:p`, or `h:p`).
pub fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("", endpoint));
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    Some((host.trim_matches(['[', ']']).to_owned(), port))
}

/// The 4317/4318 trap: gRPC sent to the HTTP port or HTTP to the gRPC port.
pub fn protocol_trap(endpoint: &str, protocol: Protocol) -> Option<String> {
    let (_, port) = host_port(endpoint)?;
    let endpoint = shown_url(endpoint);
    match (port, protocol.is_http()) {
        (4317, true) => Some(format!(
            "{endpoint} is port 4317, the OTLP gRPC port, but the protocol is {protocol:?}: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use port 4318 for HTTP"
        )),
        (4318, false) => Some(format!(
            "{endpoint} is port 4318, the OTLP HTTP port, but the protocol is gRPC: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or use port 4317 for gRPC"
        )),
        _ => None,
    }
}

fn source(env: &Env, name: &str) -> &'static str {
    if env.get(name).is_some() {
        "env"
    } else {
        "default"
    }
}

/// A variable's value as the listing shows it: with the library's redaction (header values,
/// endpoint userinfo and query), escaped and bounded.
fn shown(env: &Env, name: &str) -> String {
    let Some(value) = env.get(name) else {
        return String::new();
    };
    let redacted = if name.contains("HEADERS") {
        redact_header_list(value)
    } else if is_secret(name) {
        REDACTED.to_owned()
    } else if name.contains("ENDPOINT") {
        redact_url(value)
    } else {
        value.to_owned()
    };
    printable(&redacted).to_string()
}

/// An endpoint as messages show it: no userinfo or query, escaped.
fn shown_url(url: &str) -> String {
    printable(&redact_url(url)).to_string()
}

/// Every secret the environment and the resolved configuration hold, for a last pass over
/// the whole report (a dependency's error may quote one).
fn redactor(env: &Env, config: Option<&Config>) -> Redactor {
    let mut redactor = config.map(Redactor::from_config).unwrap_or_default();
    for name in env_names(env) {
        let value = env.get(&name).unwrap_or_default();
        if is_secret(&name) {
            for member in value.split(',') {
                redactor.add(member.split_once('=').map_or(member, |(_, v)| v));
            }
        }
        if name.contains("ENDPOINT") || name == vars::OTEL_TRACES_SAMPLER_ARG {
            redactor.add_url(value);
        }
    }
    redactor
}

/// Diagnoses the configuration `env` describes and probes its endpoints.
pub fn diagnose(env: &Env) -> Report {
    let mut out = String::new();
    let mut problems: Vec<String> = Vec::new();
    let resolved = ferrotel::config::Config::builder().resolve(env);
    let config: Option<Config> = match resolved {
        Ok(resolved) => {
            for issue in &resolved.issues {
                let line = issue.to_string();
                match issue.severity {
                    Severity::Invalid => problems.push(line),
                    Severity::Advice => problems.push(format!("(advice) {line}")),
                }
            }
            Some(resolved.config)
        }
        Err(error) => {
            problems.push(format!(
                "the configuration is refused (strict mode): {error}"
            ));
            None
        }
    };

    let _ = writeln!(out, "ferrotel doctor\n\nConfiguration (source: env or default; settings made in the service's code are not visible here)");
    for name in known_variables() {
        if env.get(name).is_some() {
            let _ = writeln!(
                out,
                "  {name} = {} [{}]",
                shown(env, name),
                source(env, name)
            );
        }
    }
    if let Some(config) = &config {
        let _ = writeln!(
            out,
            "  effective: service.name = {}",
            printable(&config.service_name)
        );
        let _ = writeln!(
            out,
            "  effective: traces exporter = {:?}, metrics exporter = {:?}",
            config.traces_exporter, config.metrics_exporter
        );
        for (signal, otlp) in [
            ("traces", &config.traces_otlp),
            ("metrics", &config.metrics_otlp),
        ] {
            let headers: Vec<String> = otlp
                .headers
                .iter()
                .map(|(k, _)| format!("{k}=<redacted>"))
                .collect();
            let _ = writeln!(
                out,
                "  effective: {signal} OTLP endpoint = {} protocol = {:?}{} timeout = {:?} headers = [{}]",
                shown_url(&otlp.endpoint),
                otlp.protocol,
                if otlp.protocol_explicit { "" } else { " (default)" },
                otlp.timeout,
                headers.join(",")
            );
        }
        let sampler = format!("{:?}", config.sampler);
        let _ = writeln!(out, "  effective: sampler = {}", printable(&sampler));
        resource_section(&mut out, config);
    }

    // Unknown names.
    let known = known_variables();
    for name in env_names(env) {
        if (name.starts_with("OTEL_") || name.starts_with("FERROTEL_"))
            && !known.contains(&name.as_str())
        {
            let shown_name = printable(&name);
            match nearest_known(&name) {
                Some(near) => problems.push(format!(
                    "{shown_name} is not a variable ferrotel knows: did you mean {near}?"
                )),
                None => problems.push(format!(
                    "(advice) {shown_name} is not a variable ferrotel knows; it is ignored"
                )),
            }
        }
    }

    if let Some(config) = &config {
        for (signal, otlp) in [
            ("traces", &config.traces_otlp),
            ("metrics", &config.metrics_otlp),
        ] {
            if let Some(trap) = protocol_trap(&otlp.endpoint, otlp.protocol) {
                problems.push(format!("{signal}: {trap}"));
            }
            if let Some((host, port)) = host_port(&otlp.endpoint) {
                if let Err(why) = reachable(&host, port) {
                    problems.push(format!("{signal}: {} is unreachable ({}): is the collector running, and is this the right host and port?", shown_url(&otlp.endpoint), printable(&why)));
                }
            }
            if otlp.endpoint.starts_with("https://") || otlp.certificate.is_some() {
                if let Some(path) = &otlp.certificate {
                    let shown_path = path.display().to_string();
                    let shown_path = printable(&shown_path);
                    match read_ca(path) {
                        Err(e) => problems.push(format!("{signal}: TLS: the CA file {shown_path} cannot be read ({e}): the server's certificate cannot be checked, so every export will fail")),
                        Ok(pem) if !pem.contains("-----BEGIN CERTIFICATE-----") => problems.push(format!("{signal}: TLS: the CA file {shown_path} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)")),
                        Ok(_) => {}
                    }
                }
                if !otlp.endpoint.starts_with("https://") && otlp.certificate.is_some() {
                    problems.push(format!("(advice) {signal}: a CA certificate is set but {} is not https://: TLS is not used", shown_url(&otlp.endpoint)));
                }
            }
        }
    }

    // The probe: one span and one metric through ferrotel's own pipelines.
    let mut trace_id = None;
    let mut probe_ok = false;
    let _ = writeln!(
        out,
        "\nProbe (one span named ferrotel.doctor and one counter ferrotel.doctor.probe)"
    );
    let mut probe_env = env.clone();
    if env.get(vars::OTEL_EXPORTER_OTLP_TIMEOUT).is_none() {
        probe_env.set(vars::OTEL_EXPORTER_OTLP_TIMEOUT, "3000");
    }
    match ferrotel::builder()
        .env(probe_env)
        .install_subscriber(false)
        .install_globals(false)
        .shutdown_timeout(PROBE_TIMEOUT)
        .try_init()
    {
        Err(e) => problems.push(format!("probe: telemetry did not start: {e}")),
        Ok(guard) => {
            let tracer = guard.providers().tracer("ferrotel-doctor");
            let mut span = tracer.start("ferrotel.doctor");
            let id = span.span_context().trace_id().to_string();
            span.end();
            if let Some(meters) = guard.providers().meter_provider() {
                meters
                    .meter("ferrotel-doctor")
                    .u64_counter("ferrotel.doctor.probe")
                    .build()
                    .add(1, &[]);
            }
            let report = guard.flush();
            let mut failures = report.problems.clone();
            let mut exported_spans = 0;
            for stats in guard.stats().spans {
                exported_spans += stats.exported;
                if stats.failed > 0 {
                    failures.push(format!(
                        "span export ({}) failed: {}",
                        stats.exporter,
                        stats.last_error.unwrap_or_default()
                    ));
                }
            }
            let mut exported_points = 0;
            for stats in guard.stats().metrics {
                exported_points += stats.points_exported;
                if let Some(why) = &stats.unsupported {
                    // Traces arrive and metrics never will: the bare-Jaeger case.
                    let arrive = if exported_spans > 0 {
                        "spans reach this endpoint, metrics do not: "
                    } else {
                        ""
                    };
                    failures.push(format!("metrics: {arrive}{why}"));
                } else if stats.requests_failed > 0 {
                    failures.push(format!(
                        "metric export failed: {}",
                        stats.last_error.unwrap_or_default()
                    ));
                }
            }
            let _ = guard.shutdown();
            if failures.is_empty() && exported_spans > 0 {
                probe_ok = true;
                let _ = writeln!(
                    out,
                    "  exported {exported_spans} span(s) and {exported_points} metric point(s)"
                );
                let _ = writeln!(
                    out,
                    "  trace id: {id}  (look for it in Jaeger: /trace/{id})"
                );
            } else {
                if exported_spans == 0 && failures.is_empty() {
                    failures.push("no span was exported (is OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true?)".to_owned());
                }
                for failure in failures {
                    problems.push(format!("probe: {failure}"));
                }
            }
            trace_id = Some(id);
        }
    }

    let _ = writeln!(out, "\nProblems");
    if problems.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for problem in &problems {
        let _ = writeln!(out, "  - {problem}");
    }
    let healthy = probe_ok && problems.iter().all(|p| p.starts_with("(advice)"));
    let _ = writeln!(out, "\n{}", if healthy { "healthy" } else { "NOT healthy" });
    Report {
        text: redactor(env, config.as_ref()).scrub(&out).into_owned(),
        healthy,
        trace_id,
    }
}

/// The resource the service would export: the attributes from variables and code, and what
/// the selected detectors find on this machine (the `telemetry.sdk.*` ones are not shown).
fn resource_section(out: &mut String, config: &Config) {
    let detectors: Vec<&str> = config
        .resource_detection
        .detectors
        .iter()
        .map(|detector| detector.as_str())
        .collect();
    let detectors = if detectors.is_empty() {
        "none".to_owned()
    } else {
        detectors.join(", ")
    };
    let _ = writeln!(
        out,
        "\nResource (variables and code win over the detectors: {detectors})"
    );
    for (key, value) in config.detect_resource() {
        let _ = writeln!(
            out,
            "  {} = {}",
            printable(&key.to_string()),
            printable(&value.to_string())
        );
    }
}

/// A CA file's text: a regular file only (a FIFO would hang the doctor), at most 4 MiB.
fn read_ca(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(4 << 20).read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    Ok(text)
}

fn env_names(env: &Env) -> Vec<String> {
    // Env has no iterator: check the process environment's names against it.
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| env.get(k).is_some())
        .collect()
}

fn reachable(host: &str, port: u16) -> Result<(), String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_variables_and_finds_typos() {
        let known = known_variables();
        assert!(known.contains(&"OTEL_EXPORTER_OTLP_ENDPOINT"));
        assert!(known.contains(&"OTEL_TRACES_SAMPLER"));
        assert!(known.len() > 50, "{}", known.len());
        assert_eq!(
            nearest_known("OTEL_EXPORTER_OTLP_ENDPONT"),
            Some("OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        assert_eq!(
            nearest_known("OTEL_TRACE_SAMPLER"),
            Some("OTEL_TRACES_SAMPLER")
        );
        assert_eq!(nearest_known("SOMETHING_ELSE_ENTIRELY_LONG"), None);
    }

    #[test]
    fn finds_the_protocol_trap() {
        assert!(protocol_trap("http://localhost:4317", Protocol::HttpProtobuf).is_some());
        assert!(protocol_trap("http://localhost:4318", Protocol::Grpc).is_some());
        assert!(protocol_trap("http://localhost:4317", Protocol::Grpc).is_none());
        assert!(protocol_trap("http://localhost:4318/v1/traces", Protocol::HttpProtobuf).is_none());
    }

    #[test]
    fn knows_every_constant_of_the_vars_module() {
        let known = known_variables();
        for name in [
            vars::OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
            vars::OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION,
            vars::OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
            vars::OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE,
            vars::OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
            vars::OTEL_CONFIG_FILE,
            vars::FERROTEL_SAMPLING_RULES,
        ] {
            assert!(known.contains(&name), "{name} unknown");
        }
        // Complete and without repeats (ferrotel-config's own test checks ALL against the
        // constants).
        let mut unique = known.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), known.len());
    }

    #[test]
    fn shows_values_with_the_library_redaction() {
        let env = Env::from_pairs([
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer abc,x-team=t",
            ),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://u:pw@h:4318/?api_key=k",
            ),
            ("OTEL_SERVICE_NAME", "a\r\nb"),
        ]);
        assert_eq!(
            shown(&env, "OTEL_EXPORTER_OTLP_HEADERS"),
            "authorization=<redacted>,x-team=<redacted>"
        );
        assert_eq!(
            shown(&env, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            "http://<redacted>@h:4318/?<redacted>"
        );
        assert_eq!(shown(&env, "OTEL_SERVICE_NAME"), r"a\r\nb");
        assert!(is_secret("OTEL_EXPORTER_OTLP_TRACES_HEADERS"));
        assert!(!is_secret("OTEL_EXPORTER_OTLP_ENDPOINT"));
        assert_eq!(
            host_port("http://127.0.0.1:4317"),
            Some(("127.0.0.1".into(), 4317))
        );
        assert_eq!(
            host_port("https://collector/v1/traces"),
            Some(("collector".into(), 443))
        );
    }
}
