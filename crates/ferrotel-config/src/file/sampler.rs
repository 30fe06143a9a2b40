//! `tracer_provider.sampler`: the sampler entry as the `OTEL_TRACES_SAMPLER` name and
//! argument it stands for.
//!
//! `parent_based` with the default delegates (sampled parents: `always_on`, unsampled
//! parents: `always_off`) is `parentbased_<root>`. Other delegates (`always_on`,
//! `always_off` or `trace_id_ratio_based`) cannot be said with the variables, so they are kept
//! aside (`Walk::parent_delegates`) and make a
//! [`Sampler::ParentBasedWith`](crate::Sampler::ParentBasedWith) after resolution.

use super::walk::{Section, Walk};
use super::yaml::{Node, Value};
use crate::parse;
use crate::sampler::Sampler;
use crate::vars::{OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG};

const SAMPLERS: [&str; 5] = [
    "always_on",
    "always_off",
    "trace_id_ratio_based",
    "parent_based",
    "jaeger_remote/development",
];
const UNSUPPORTED: [&str; 2] = ["composite/development", "probability/development"];

/// A sampler as an `OTEL_TRACES_SAMPLER` name and its argument, with the line and key the
/// argument came from.
struct Choice {
    name: &'static str,
    arg: Option<(String, usize, String)>,
}

/// Reads the sampler at `node` into the two variables.
pub(crate) fn read(walk: &mut Walk<'_>, node: &Node, path: &str, line: usize) {
    if let Some(choice) = sampler(walk, node, path, true) {
        walk.set(OTEL_TRACES_SAMPLER, choice.name.to_owned(), line, path);
        if let Some((arg, arg_line, arg_path)) = choice.arg {
            walk.set(OTEL_TRACES_SAMPLER_ARG, arg, arg_line, &arg_path);
        }
    }
}

fn sampler(walk: &mut Walk<'_>, node: &Node, path: &str, top: bool) -> Option<Choice> {
    let entry = walk.single_key(node, path, &SAMPLERS, &UNSUPPORTED)?;
    let path = format!("{path}.{}", entry.key);
    let mut section = walk.section(entry, path.clone())?;
    let choice = match entry.key.as_str() {
        "always_on" => Some(Choice {
            name: "always_on",
            arg: None,
        }),
        "always_off" => Some(Choice {
            name: "always_off",
            arg: None,
        }),
        "trace_id_ratio_based" => {
            let (ratio, line, key) = match walk.number(&mut section, "ratio") {
                Some((ratio, line)) => (ratio, line, section.child("ratio")),
                None => ("1.0".to_owned(), entry.line, path.clone()),
            };
            Some(Choice {
                name: "traceidratio",
                arg: Some((ratio, line, key)),
            })
        }
        "jaeger_remote/development" => jaeger_remote(walk, &mut section, entry.line),
        _ if !top => {
            walk.unsupported(
                entry.line,
                &path,
                "a parent_based sampler inside a parent_based sampler is not supported".to_owned(),
                "the default sampler",
            );
            return None;
        }
        _ => parent_based(walk, &mut section),
    };
    let known: &[&str] = match entry.key.as_str() {
        "trace_id_ratio_based" => &["ratio"],
        "jaeger_remote/development" => &["endpoint", "interval", "initial_sampler"],
        "parent_based" => &[
            "root",
            "remote_parent_sampled",
            "remote_parent_not_sampled",
            "local_parent_sampled",
            "local_parent_not_sampled",
        ],
        _ => &[],
    };
    walk.finish(section, known, &[]);
    choice
}

fn parent_based(walk: &mut Walk<'_>, section: &mut Section<'_>) -> Option<Choice> {
    let root = match section.take("root") {
        Some(entry) if entry.value.value != Value::Null => {
            sampler(walk, &entry.value, &section.child("root"), false)?
        }
        _ => Choice {
            name: "always_on",
            arg: None,
        },
    };
    let mut delegates = [
        Sampler::AlwaysOn,
        Sampler::AlwaysOff,
        Sampler::AlwaysOn,
        Sampler::AlwaysOff,
    ];
    let defaults = delegates.clone();
    let keys = [
        "remote_parent_sampled",
        "remote_parent_not_sampled",
        "local_parent_sampled",
        "local_parent_not_sampled",
    ];
    for (key, slot) in keys.iter().zip(delegates.iter_mut()) {
        let Some(entry) = section.take(key) else {
            continue;
        };
        if entry.value.value != Value::Null {
            if let Some(sampler) = delegate(walk, &entry.value, &section.child(key)) {
                *slot = sampler;
            }
        }
    }
    if delegates != defaults {
        walk.parent_delegates = Some(delegates);
    }
    let name = match root.name {
        "always_on" => "parentbased_always_on",
        "always_off" => "parentbased_always_off",
        "traceidratio" => "parentbased_traceidratio",
        _ => "parentbased_jaeger_remote",
    };
    Some(Choice {
        name,
        arg: root.arg,
    })
}

/// A parent delegate: `always_on`, `always_off` or `trace_id_ratio_based`.
fn delegate(walk: &mut Walk<'_>, node: &Node, path: &str) -> Option<Sampler> {
    let known = ["always_on", "always_off", "trace_id_ratio_based"];
    let mut others: Vec<&str> = SAMPLERS.iter().chain(&UNSUPPORTED).copied().collect();
    others.retain(|name| !known.contains(name));
    let entry = walk.single_key(node, path, &known, &others)?;
    let path = format!("{path}.{}", entry.key);
    let mut section = walk.section(entry, path)?;
    let sampler = match entry.key.as_str() {
        "always_on" => Some(Sampler::AlwaysOn),
        "always_off" => Some(Sampler::AlwaysOff),
        _ => match walk.number(&mut section, "ratio") {
            None => Some(Sampler::TraceIdRatio(1.0)),
            Some((text, line)) => match parse::ratio(&text) {
                Ok(ratio) => Some(Sampler::TraceIdRatio(ratio)),
                Err(rejection) => {
                    let ratio_path = section.child("ratio");
                    walk.invalid(
                        line,
                        &ratio_path,
                        text,
                        parse::RATIO_ALLOWED,
                        rejection.reason,
                    );
                    None
                }
            },
        },
    };
    walk.finish(section, &["ratio"], &[]);
    sampler
}

/// `jaeger_remote/development`: endpoint, polling interval and the initial sampler, which
/// ferrotel supports as a ratio (`trace_id_ratio_based`, `always_on` = 1, `always_off` = 0).
fn jaeger_remote(walk: &mut Walk<'_>, section: &mut Section<'_>, line: usize) -> Option<Choice> {
    let mut members = Vec::new();
    if let Some((endpoint, _)) = walk.text(section, "endpoint") {
        members.push(format!("endpoint={endpoint}"));
    }
    if let Some((interval, _)) = walk.integer(section, "interval") {
        members.push(format!("pollingIntervalMs={interval}"));
    }
    if let Some(entry) = section.take("initial_sampler") {
        let path = section.child("initial_sampler");
        let known = ["always_on", "always_off", "trace_id_ratio_based"];
        let mut others: Vec<&str> = SAMPLERS.iter().chain(&UNSUPPORTED).copied().collect();
        others.retain(|name| !known.contains(name));
        if let Some(kind) = walk.single_key(&entry.value, &path, &known, &others) {
            let rate = match kind.key.as_str() {
                "always_on" => Some("1".to_owned()),
                "always_off" => Some("0".to_owned()),
                _ => {
                    let inner_path = format!("{path}.{}", kind.key);
                    walk.section(kind, inner_path).map(|mut ratio| {
                        let rate = walk.number(&mut ratio, "ratio").map(|(rate, _)| rate);
                        walk.finish(ratio, &["ratio"], &[]);
                        rate.unwrap_or_else(|| "1".to_owned())
                    })
                }
            };
            if let Some(rate) = rate {
                members.push(format!("initialSamplingRate={rate}"));
            }
        }
    }
    Some(Choice {
        name: "jaeger_remote",
        arg: Some((members.join(","), line, section.path.clone())),
    })
}
