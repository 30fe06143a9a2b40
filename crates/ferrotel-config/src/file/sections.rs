//! The top-level keys outside the three providers: `file_format`, `disabled`, `log_level`,
//! `attribute_limits`, `resource`, `propagator` and `instrumentation/development`.

use super::exporter::list_value;
use super::walk::{Section, Walk, SCHEMA};
use super::yaml::{Node, Value};
use crate::detect::Detector;
use crate::parse;
use crate::vars;

/// The `file_format` major version ferrotel reads, and the newest minor it knows.
const MAJOR: u64 = 1;
const MINOR: u64 = 1;

/// Checks `file_format`. A missing or foreign major version is fatal (`Err` with the line and
/// the message); a newer minor version is only advice.
pub(crate) fn file_format(
    walk: &mut Walk<'_>,
    root: &mut Section<'_>,
) -> Result<(), (usize, String)> {
    let Some(entry) = root.take("file_format") else {
        return Err((
            1,
            format!("file_format is required (allowed: \"{MAJOR}.0\" to \"{MAJOR}.{MINOR}\")"),
        ));
    };
    let text = entry.value.value.text();
    let version = text.split(['-', '+']).next().unwrap_or_default();
    let parsed = version
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u64>().ok()?, minor.parse::<u64>().ok()?)));
    match parsed {
        Some((MAJOR, minor)) if minor <= MINOR => Ok(()),
        Some((MAJOR, _)) => {
            walk.issues.push(crate::issue::ConfigIssue {
                variable: walk.place(entry.line, "file_format"),
                value: text,
                allowed: format!("\"{MAJOR}.0\" to \"{MAJOR}.{MINOR}\""),
                fallback: format!("the {SCHEMA} schema; keys it does not know are reported"),
                severity: crate::issue::Severity::Advice,
                reason: Some("the file is newer than the schema ferrotel reads".to_owned()),
            });
            Ok(())
        }
        _ => Err((
            entry.line,
            format!(
                "file_format={text:?} is not supported (allowed: \"{MAJOR}.0\" to \
                 \"{MAJOR}.{MINOR}\", the {SCHEMA} schema)"
            ),
        )),
    }
}

/// `disabled` and `log_level`.
pub(crate) fn general(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    if let Some((disabled, line)) = walk.boolean(root, "disabled") {
        walk.set(
            vars::OTEL_SDK_DISABLED,
            disabled.to_string(),
            line,
            "disabled",
        );
    }
    if let Some((level, line)) = walk.text(root, "log_level") {
        // SeverityNumber names: trace, trace2 … fatal4. ferrotel's diagnostics have five levels.
        let base = level.trim_end_matches(['2', '3', '4']);
        let mapped = match base {
            "trace" | "debug" | "info" | "warn" | "error" => Some(base),
            "fatal" => Some("error"),
            _ => None,
        };
        match mapped {
            Some(mapped) if base.len() + 1 >= level.len() => {
                walk.set(vars::OTEL_LOG_LEVEL, mapped.to_owned(), line, "log_level");
            }
            _ => walk.invalid(
                line,
                "log_level",
                level,
                "trace, debug, info, warn, error, fatal, each optionally followed by 2, 3 or 4",
                None,
            ),
        }
    }
}

/// `attribute_limits`: the general limits, which the span limits fall back to.
pub(crate) fn attribute_limits(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut limits) = walk.child_section(root, "attribute_limits") else {
        return;
    };
    walk.integer_to(
        &mut limits,
        "attribute_value_length_limit",
        vars::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    );
    walk.integer_to(
        &mut limits,
        "attribute_count_limit",
        vars::OTEL_ATTRIBUTE_COUNT_LIMIT,
    );
    walk.finish(
        limits,
        &["attribute_value_length_limit", "attribute_count_limit"],
        &[],
    );
}

/// What `resource.detection/development` asks for: its detectors (also set as
/// `FERROTEL_RESOURCE_DETECTORS`) and its attribute filters, which no variable can say.
#[derive(Debug, Default)]
pub(crate) struct Detection {
    pub(crate) detectors: Vec<Detector>,
    /// `attributes.included` and `attributes.excluded`, when the file has `attributes`.
    pub(crate) attributes: Option<(Vec<String>, Vec<String>)>,
}

/// `resource`: `attributes` over `attributes_list`, as `OTEL_RESOURCE_ATTRIBUTES` (so
/// `service.name` and `service.instance.id` follow the usual rules), and
/// `detection/development`. ferrotel's resource holds text, so numbers and booleans are sent as
/// their text.
pub(crate) fn resource(walk: &mut Walk<'_>, root: &mut Section<'_>) -> Detection {
    let Some(mut resource) = walk.child_section(root, "resource") else {
        return detection(walk, None);
    };
    let mut attributes: Vec<(String, String)> = Vec::new();
    let mut first_line = None;
    if let Some((list, line)) = walk.text(&mut resource, "attributes_list") {
        first_line = Some(line);
        match parse::key_values(&list) {
            Ok(pairs) => attributes = pairs,
            Err(rejection) => {
                let path = resource.child("attributes_list");
                walk.invalid(
                    line,
                    &path,
                    list,
                    parse::KEY_VALUES_ALLOWED,
                    rejection.reason,
                );
            }
        }
    }
    if let Some((items, path, line)) = walk.child_list(&mut resource, "attributes") {
        first_line = first_line.or(Some(line));
        for (index, item) in items.iter().enumerate() {
            if let Some((name, value)) = attribute(walk, item, &format!("{path}[{index}]")) {
                parse::upsert(&mut attributes, &name, value);
            }
        }
    }
    if let Some(line) = first_line {
        let text = attributes
            .iter()
            .map(|(name, value)| format!("{name}={}", list_value(value)))
            .collect::<Vec<_>>()
            .join(",");
        if !text.is_empty() {
            let path = resource.child("attributes");
            walk.set(vars::OTEL_RESOURCE_ATTRIBUTES, text, line, &path);
        }
    }
    let section = walk.child_section(&mut resource, "detection/development");
    let found = detection(walk, section);
    walk.finish(
        resource,
        &["attributes", "attributes_list", "detection/development"],
        &["schema_url"],
    );
    found
}

/// `detection/development`: `detectors` (a list of `- name:` entries without settings) and
/// `attributes` with `included` / `excluded` key patterns. Without it no detector runs, as
/// the schema says.
fn detection(walk: &mut Walk<'_>, section: Option<Section<'_>>) -> Detection {
    let mut found = Detection::default();
    let Some(mut section) = section else {
        let none = "none".to_owned();
        let path = "(no resource.detection/development)";
        walk.set(vars::FERROTEL_RESOURCE_DETECTORS, none, 1, path);
        return found;
    };
    let known: Vec<&str> = <Detector as parse::Keyword>::NAMES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    let mut line = section.line;
    if let Some((items, path, list_line)) = walk.child_list(&mut section, "detectors") {
        line = list_line;
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(entry) = walk.single_key(item, &item_path, &known, &[]) else {
                continue;
            };
            let entry_path = format!("{item_path}.{}", entry.key);
            if let Some(settings) = walk.section(entry, entry_path) {
                walk.finish(settings, &[], &[]);
            }
            if let Ok(detector) = parse::keyword::<Detector>(&entry.key) {
                if !found.detectors.contains(&detector) {
                    found.detectors.push(detector);
                }
            }
        }
    }
    let list = if found.detectors.is_empty() {
        "none".to_owned()
    } else {
        let names: Vec<&str> = found.detectors.iter().map(|d| d.as_str()).collect();
        names.join(",")
    };
    let path = section.child("detectors");
    walk.set(vars::FERROTEL_RESOURCE_DETECTORS, list, line, &path);
    if let Some(mut attributes) = walk.child_section(&mut section, "attributes") {
        let included = patterns(walk, &mut attributes, "included");
        let excluded = patterns(walk, &mut attributes, "excluded");
        walk.finish(attributes, &["included", "excluded"], &[]);
        found.attributes = Some((included, excluded));
    }
    walk.finish(section, &["attributes", "detectors"], &[]);
    found
}

/// A list of attribute-key patterns; entries that are not text are reported and left out.
fn patterns(walk: &mut Walk<'_>, section: &mut Section<'_>, key: &str) -> Vec<String> {
    let Some((items, path, _)) = walk.child_list(section, key) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match &item.value {
            Value::Seq(_) | Value::Map(_) | Value::Null => walk.invalid(
                item.line,
                &format!("{path}[{index}]"),
                item.value.text(),
                "an attribute key pattern (* and ? wildcards)",
                None,
            ),
            scalar => found.push(scalar.text()),
        }
    }
    found
}

/// One `{name, value, type}` resource attribute; `None` when it is to be left out.
fn attribute(walk: &mut Walk<'_>, item: &Node, path: &str) -> Option<(String, String)> {
    let Value::Map(entries) = &item.value else {
        walk.invalid(
            item.line,
            path,
            item.value.text(),
            "name, value and type",
            None,
        );
        return None;
    };
    let mut section = Section::root(entries);
    section.path = path.to_owned();
    let name = walk.text(&mut section, "name");
    let kind = walk.text(&mut section, "type").map(|(kind, _)| kind);
    let value = section
        .take("value")
        .map(|entry| (&entry.value, entry.line));
    walk.finish(section, &["name", "value", "type"], &[]);
    let Some((name, name_line)) = name else {
        walk.invalid(
            item.line,
            &format!("{path}.name"),
            String::new(),
            "an attribute name",
            None,
        );
        return None;
    };
    if name.contains([',', '=']) || name.trim() != name {
        let reason =
            Some("ferrotel's resource keys cannot hold ',', '=' or surrounding spaces".into());
        walk.invalid(
            name_line,
            &format!("{path}.name"),
            name,
            "an attribute name",
            reason,
        );
        return None;
    }
    if let Some(kind) = kind.as_deref() {
        if kind.ends_with("_array") {
            let reason = format!("ferrotel's resource holds text; {kind} values are not supported");
            walk.unsupported(
                item.line,
                &format!("{path}.type"),
                reason,
                "the other attributes",
            );
            return None;
        }
        if !["string", "bool", "int", "double"].contains(&kind) {
            walk.invalid(
                item.line,
                &format!("{path}.type"),
                kind.to_owned(),
                "string, bool, int, double, string_array, bool_array, int_array, double_array",
                None,
            );
            return None;
        }
    }
    match value {
        // A null value means the attribute is left out.
        None
        | Some((
            Node {
                value: Value::Null, ..
            },
            _,
        )) => None,
        Some((
            Node {
                value: Value::Seq(_) | Value::Map(_),
                ..
            },
            line,
        )) => {
            let reason = "ferrotel's resource holds text; list values are not supported".to_owned();
            walk.unsupported(
                line,
                &format!("{path}.value"),
                reason,
                "the other attributes",
            );
            None
        }
        Some((node, _)) => Some((name, node.value.text())),
    }
}

/// `propagator`: `composite` entries, then `composite_list` ones, deduplicated, as
/// `OTEL_PROPAGATORS`; none at all when the section is absent (the schema's noop propagator).
pub(crate) fn propagator(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut section) = walk.child_section(root, "propagator") else {
        walk.set(
            vars::OTEL_PROPAGATORS,
            "none".to_owned(),
            1,
            "(no propagator)",
        );
        return;
    };
    let mut names: Vec<String> = Vec::new();
    if let Some((items, path, _)) = walk.child_list(&mut section, "composite") {
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            match &item.value {
                Value::Map(entries) if entries.len() == 1 => {
                    for entry in entries {
                        if !matches!(&entry.value.value, Value::Null)
                            && entry.value.value != Value::Map(Vec::new())
                        {
                            let path = format!("{item_path}.{}", entry.key);
                            walk.invalid(entry.line, &path, entry.value.value.text(), "no settings", None);
                        }
                        names.push(entry.key.clone());
                    }
                }
                other => walk.invalid(
                    item.line,
                    &item_path,
                    other.text(),
                    "a mapping with one propagator name (tracecontext, baggage, b3, b3multi, jaeger, xray)",
                    None,
                ),
            }
        }
    }
    if let Some((list, _)) = walk.text(&mut section, "composite_list") {
        names.extend(
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
        );
    }
    let mut unique: Vec<String> = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    let value = if unique.is_empty() {
        "none".to_owned()
    } else {
        unique.join(",")
    };
    let line = section.line;
    walk.set(vars::OTEL_PROPAGATORS, value, line, "propagator");
    walk.finish(section, &["composite", "composite_list"], &[]);
}

/// `instrumentation/development`: ferrotel reads `general.stability_opt_in_list` (as
/// `OTEL_SEMCONV_STABILITY_OPT_IN`).
pub(crate) fn instrumentation(walk: &mut Walk<'_>, root: &mut Section<'_>) {
    let Some(mut section) = walk.child_section(root, "instrumentation/development") else {
        return;
    };
    if let Some(mut general) = walk.child_section(&mut section, "general") {
        walk.text_to(
            &mut general,
            "stability_opt_in_list",
            vars::OTEL_SEMCONV_STABILITY_OPT_IN,
        );
        walk.finish(
            general,
            &["stability_opt_in_list"],
            &[
                "http",
                "code",
                "db",
                "gen_ai",
                "messaging",
                "rpc",
                "sanitization",
            ],
        );
    }
    walk.finish(
        section,
        &["general"],
        &[
            "cpp", "dotnet", "erlang", "go", "java", "js", "php", "python", "ruby", "rust", "swift",
        ],
    );
}
