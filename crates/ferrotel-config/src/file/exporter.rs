//! The exporter and processor entries of the three providers, shared by all signals: which
//! exporters a signal uses, and the OTLP settings of its one OTLP exporter.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use super::walk::{Section, Walk};
use super::yaml::{Node, Value};
use crate::parse;
use crate::vars::{BatchNames, SignalVars};

/// What is escaped in values written into `key=value` list variables, which percent-decode
/// and trim them.
const LIST_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b',');

/// Encodes a value for a `key=value,…` variable.
pub(crate) fn list_value(value: &str) -> String {
    utf8_percent_encode(value, LIST_VALUE).to_string()
}

/// The exporters chosen for one signal, in order, and the place of the first OTLP one.
#[derive(Default)]
pub(crate) struct Exporters {
    names: Vec<&'static str>,
    otlp: Option<String>,
}

impl Exporters {
    /// Adds an exporter that needs no settings here (console, prometheus).
    pub(crate) fn add(&mut self, name: &'static str) {
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// Writes the exporter list variable: the names, or `none`.
    pub(crate) fn finish(self, walk: &mut Walk<'_>, signal: &SignalVars, line: usize, path: &str) {
        let list = if self.names.is_empty() {
            "none".to_owned()
        } else {
            self.names.join(",")
        };
        walk.set(signal.exporter, list, line, path);
    }
}

/// Reads one exporter entry (`otlp_http: …`, `otlp_grpc: …`, `console:`) of `signal`.
/// `extra` reads keys only some exporters have (the metric exporters' temporality). Returns
/// the exporter's name (`otlp`, `console`) when it is used.
pub(crate) fn exporter(
    walk: &mut Walk<'_>,
    node: &Node,
    path: &str,
    signal: &SignalVars,
    chosen: &mut Exporters,
    extra: &mut dyn FnMut(&mut Walk<'_>, &mut Section<'_>),
) -> Option<&'static str> {
    let known = ["otlp_http", "otlp_grpc", "console"];
    let entry = walk.single_key(node, path, &known, &["otlp_file/development"])?;
    let path = format!("{path}.{}", entry.key);
    let mut section = walk.section(entry, path.clone())?;
    match entry.key.as_str() {
        "console" => {
            chosen.add("console");
            extra(walk, &mut section);
            walk.finish(section, &[], &[]);
            Some("console")
        }
        kind => {
            if let Some(first) = &chosen.otlp {
                let reason = format!(
                    "ferrotel sends each signal to one OTLP exporter, and {first} is already one"
                );
                walk.unsupported(entry.line, &path, reason, "the first OTLP exporter only");
                return None;
            }
            chosen.otlp = Some(walk.place(entry.line, &path));
            chosen.names.push("otlp");
            let grpc = kind == "otlp_grpc";
            otlp(walk, &mut section, signal, grpc, entry.line);
            extra(walk, &mut section);
            let mut known = vec![
                "endpoint",
                "tls",
                "headers",
                "headers_list",
                "compression",
                "timeout",
            ];
            if !grpc {
                known.push("encoding");
            }
            walk.finish(section, &known, &[]);
            Some("otlp")
        }
    }
}

/// The settings of an `otlp_http` or `otlp_grpc` exporter. The endpoint is used as given
/// (the file's HTTP endpoint includes the signal path), so it becomes the per-signal variable.
fn otlp(
    walk: &mut Walk<'_>,
    section: &mut Section<'_>,
    signal: &SignalVars,
    grpc: bool,
    line: usize,
) {
    let protocol = if grpc {
        "grpc".to_owned()
    } else {
        match walk.text(section, "encoding") {
            None => "http/protobuf".to_owned(),
            Some((encoding, _)) if encoding == "protobuf" => "http/protobuf".to_owned(),
            Some((encoding, _)) if encoding == "json" => "http/json".to_owned(),
            Some((encoding, line)) => {
                let path = section.child("encoding");
                walk.invalid(line, &path, encoding, "protobuf, json", None);
                "http/protobuf".to_owned()
            }
        }
    };
    walk.set(signal.otlp.protocol, protocol, line, &section.path);
    walk.text_to(section, "endpoint", signal.otlp.endpoint);
    walk.text_to(section, "compression", signal.otlp.compression);
    walk.integer_to(section, "timeout", signal.otlp.timeout);
    headers(walk, section, signal);
    if let Some(mut tls) = walk.child_section(section, "tls") {
        walk.text_to(&mut tls, "ca_file", signal.otlp.certificate);
        let key = walk.text(&mut tls, "key_file");
        let cert = walk.text(&mut tls, "cert_file");
        match (key, cert) {
            (Some((key, key_line)), Some((cert, cert_line))) => {
                walk.set(
                    signal.otlp.client_key,
                    key,
                    key_line,
                    &tls.child("key_file"),
                );
                let path = tls.child("cert_file");
                walk.set(signal.otlp.client_certificate, cert, cert_line, &path);
            }
            (None, None) => {}
            (Some((_, line)), None) | (None, Some((_, line))) => walk.invalid(
                line,
                &tls.path,
                String::new(),
                "both key_file and cert_file, or neither",
                Some("mTLS needs the client key and the client certificate".to_owned()),
            ),
        }
        let mut known = vec!["ca_file", "key_file", "cert_file"];
        if grpc {
            if let Some((insecure, line)) = walk.boolean(&mut tls, "insecure") {
                let path = tls.child("insecure");
                walk.set(signal.otlp.insecure, insecure.to_string(), line, &path);
            }
            known.push("insecure");
        }
        walk.finish(tls, &known, &[]);
    }
}

/// `headers` (name/value entries) over `headers_list` (the `OTEL_EXPORTER_OTLP_HEADERS`
/// format): entries win over list members of the same name, null values are ignored.
fn headers(walk: &mut Walk<'_>, section: &mut Section<'_>, signal: &SignalVars) {
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut first_line = None;
    if let Some((list, line)) = walk.text(section, "headers_list") {
        first_line = Some(line);
        match parse::key_values(&list) {
            Ok(pairs) => merged = pairs,
            Err(rejection) => {
                let path = section.child("headers_list");
                // Header values are secrets: shown redacted, as for the variables.
                walk.invalid(
                    line,
                    &path,
                    crate::otlp::redact_headers(&list),
                    parse::KEY_VALUES_ALLOWED,
                    rejection.reason,
                );
            }
        }
    }
    if let Some((items, path, line)) = walk.child_list(section, "headers") {
        first_line = first_line.or(Some(line));
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Value::Map(entries) = &item.value else {
                walk.invalid(
                    item.line,
                    &item_path,
                    item.value.text(),
                    "name and value",
                    None,
                );
                continue;
            };
            let mut pair = Section::root(entries);
            pair.path = item_path;
            let name = walk.text(&mut pair, "name");
            let value = walk.text(&mut pair, "value");
            walk.finish(pair, &["name", "value"], &[]);
            match (name, value) {
                (Some((name, _)), Some((value, _))) => parse::upsert(&mut merged, &name, value),
                (None, _) => walk.invalid(
                    item.line,
                    &format!("{path}[{index}].name"),
                    String::new(),
                    "a header name",
                    Some("the name is required".to_owned()),
                ),
                // A null value means the entry is ignored.
                (Some(_), None) => {}
            }
        }
    }
    if let Some(line) = first_line {
        let text = merged
            .iter()
            .map(|(name, value)| format!("{name}={}", list_value(value)))
            .collect::<Vec<_>>()
            .join(",");
        let path = section.child("headers");
        if !text.is_empty() {
            walk.set(signal.otlp.headers, text, line, &path);
        }
    }
}

/// The settings of a batch processor, into its variables.
fn batch(walk: &mut Walk<'_>, section: &mut Section<'_>, vars: &BatchNames) {
    walk.integer_to(section, "schedule_delay", vars.schedule_delay);
    walk.integer_to(section, "export_timeout", vars.export_timeout);
    walk.integer_to(section, "max_queue_size", vars.max_queue_size);
    walk.integer_to(section, "max_export_batch_size", vars.max_export_batch_size);
}

/// The `processors` list of the tracer or logger provider: `batch` and `simple` entries, each
/// with one exporter. `simple` processors are recorded for spans (`simple_spans`) and
/// reported as unsupported otherwise.
pub(crate) fn processors(
    walk: &mut Walk<'_>,
    provider: &mut Section<'_>,
    signal: &SignalVars,
    unsupported: &[&str],
    simple_spans: bool,
) {
    let mut chosen = Exporters::default();
    let (line, path) = (provider.line, provider.child("processors"));
    match walk.child_list(provider, "processors") {
        Some((items, path, _)) => {
            for (index, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{index}]");
                let Some(entry) =
                    walk.single_key(item, &item_path, &["batch", "simple"], unsupported)
                else {
                    continue;
                };
                let processor_path = format!("{item_path}.{}", entry.key);
                let Some(mut processor) = walk.section(entry, processor_path.clone()) else {
                    continue;
                };
                let mut known = vec!["exporter"];
                if entry.key == "batch" {
                    // Only the signals with a batch processor have a processors list.
                    if let Some(vars) = signal.batch {
                        batch(walk, &mut processor, vars);
                    }
                    known.extend([
                        "schedule_delay",
                        "export_timeout",
                        "max_queue_size",
                        "max_export_batch_size",
                    ]);
                } else if !simple_spans {
                    walk.unsupported(
                        entry.line,
                        &processor_path,
                        "ferrotel exports through a batch processor; a simple processor is not \
                         available"
                            .to_owned(),
                        "its exporter behind the batch processor",
                    );
                }
                match processor.take("exporter") {
                    Some(exporter_entry) => {
                        let used = exporter(
                            walk,
                            &exporter_entry.value,
                            &processor.child("exporter"),
                            signal,
                            &mut chosen,
                            &mut |_, _| {},
                        );
                        if let (Some(name), true) = (used, entry.key == "simple" && simple_spans) {
                            if !walk.simple_span_exporters.contains(&name) {
                                walk.simple_span_exporters.push(name);
                            }
                        }
                    }
                    None => walk.invalid(
                        entry.line,
                        &processor.child("exporter"),
                        String::new(),
                        "an exporter",
                        Some("the exporter is required".to_owned()),
                    ),
                }
                walk.finish(processor, &known, &[]);
            }
        }
        None => walk.invalid(
            line,
            &path,
            String::new(),
            "a list of processors",
            Some("processors is required".to_owned()),
        ),
    }
    chosen.finish(walk, signal, line, &path);
}
