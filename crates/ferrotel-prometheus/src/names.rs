//! OpenTelemetry → Prometheus name translation (metric names, unit suffixes, label names),
//! following the OpenTelemetry "Prometheus and OpenMetrics compatibility" specification.

/// What a metric becomes on the Prometheus side; decides the `_total` and `_ratio` suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// A monotonic sum: `_total` is appended to the sample name.
    Counter,
    /// A gauge (or a non-monotonic sum): unit `1` becomes `_ratio`.
    Gauge,
    /// A histogram or summary.
    Distribution,
}

/// The names of one translated metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetricName {
    /// The family name (OpenMetrics `# TYPE` name): sanitized name plus unit suffix, without
    /// `_total`.
    pub(crate) family: String,
    /// The translated unit (`seconds`, `bytes`, `ratio`, …), empty when there is none. When
    /// non-empty, `family` ends with `_{unit}`.
    pub(crate) unit: String,
}

impl MetricName {
    /// Translates an OTLP metric name and UCUM unit.
    pub(crate) fn new(name: &str, unit: &str, kind: NameKind) -> MetricName {
        let mut family = sanitize_metric_name(name);
        if kind == NameKind::Counter {
            // `_total` goes after the unit suffix; drop it here and add it back on the sample.
            if let Some(stripped) = family.strip_suffix("_total") {
                if !stripped.is_empty() {
                    family.truncate(stripped.len());
                }
            }
        }
        let unit = translate_unit(unit, kind);
        if !unit.is_empty() {
            let suffix = format!("_{unit}");
            if !family.ends_with(&suffix) {
                if !family.ends_with('_') {
                    family.push('_');
                }
                family.push_str(&unit);
            }
        }
        MetricName { family, unit }
    }
}

/// Replaces every character outside `[a-zA-Z0-9_:]` with `_`, collapses runs of `_`, and
/// prefixes `_` when the name would start with a digit (or is empty).
pub(crate) fn sanitize_metric_name(name: &str) -> String {
    sanitize(name, true)
}

/// Turns an attribute key into a label name: invalid characters → `_`, a leading digit gets a `key_` prefix, and a leading `__` (reserved by Prometheus) gets `key`.
pub(crate) fn sanitize_label_name(key: &str) -> String {
    let mut out = sanitize(key, false);
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with("__") || out == "_" {
        out.insert_str(0, "key");
    } else if out.is_empty() {
        out.push_str("key_");
    }
    out
}

/// Metric names (`allow_colon`) also get runs of `_` collapsed, as the specification asks;
/// label names keep them, so a reserved `__` prefix stays visible to be escaped.
fn sanitize(input: &str, allow_colon: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let valid = c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
        let c = if valid { c } else { '_' };
        if allow_colon && c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if allow_colon && (out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit())) {
        out.insert(0, '_');
    }
    out
}

/// The Prometheus unit word for a UCUM unit: `{…}` annotations dropped, known units spelled
/// out (`s` → `seconds`, `By` → `bytes`, `m/s` → `meters_per_second`), `1` → `ratio` for
/// gauges and nothing otherwise, unknown units sanitized.
pub(crate) fn translate_unit(unit: &str, kind: NameKind) -> String {
    let unit = strip_annotations(unit);
    let unit = unit.trim();
    if unit.is_empty() {
        return String::new();
    }
    if unit == "1" {
        return if kind == NameKind::Gauge {
            "ratio".to_owned()
        } else {
            String::new()
        };
    }
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), Some(per.trim())),
        None => (unit, None),
    };
    let main = match main {
        "" | "1" => String::new(),
        other => main_unit(other)
            .map(str::to_owned)
            .unwrap_or_else(|| sanitize(other, false)),
    };
    let per = match per {
        None | Some("") | Some("1") => String::new(),
        Some(other) => per_unit(other)
            .map(str::to_owned)
            .unwrap_or_else(|| sanitize(other, false)),
    };
    let joined = match (main.is_empty(), per.is_empty()) {
        (_, true) => main,
        (true, false) => format!("per_{per}"),
        (false, false) => format!("{main}_per_{per}"),
    };
    joined.trim_matches('_').to_owned()
}

fn strip_annotations(unit: &str) -> String {
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn main_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        // Time
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        // Bytes
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        // SI
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        // Misc
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => return None,
    })
}

fn per_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str, unit: &str, kind: NameKind) -> String {
        MetricName::new(name, unit, kind).family
    }

    #[test]
    fn metric_names_are_sanitized() {
        assert_eq!(
            sanitize_metric_name("http.server.duration"),
            "http_server_duration"
        );
        assert_eq!(sanitize_metric_name("a..b--c"), "a_b_c");
        assert_eq!(sanitize_metric_name("9lives"), "_9lives");
        assert_eq!(sanitize_metric_name("ns:sub/x"), "ns:sub_x");
        assert_eq!(sanitize_metric_name("größe"), "gr_e");
    }

    #[test]
    fn label_names_are_sanitized() {
        assert_eq!(sanitize_label_name("http.method"), "http_method");
        assert_eq!(sanitize_label_name("0day"), "key_0day");
        assert_eq!(sanitize_label_name("__meta"), "key__meta");
        assert_eq!(sanitize_label_name("a:b"), "a_b");
        assert_eq!(sanitize_label_name(""), "key_");
    }

    #[test]
    fn units_become_suffixes() {
        assert_eq!(
            family("rpc.duration", "s", NameKind::Distribution),
            "rpc_duration_seconds"
        );
        assert_eq!(
            family("latency", "ms", NameKind::Gauge),
            "latency_milliseconds"
        );
        assert_eq!(family("sent", "By", NameKind::Counter), "sent_bytes");
        assert_eq!(
            family("cpu.utilization", "1", NameKind::Gauge),
            "cpu_utilization_ratio"
        );
        assert_eq!(family("requests", "1", NameKind::Counter), "requests");
        assert_eq!(
            family("requests", "{request}", NameKind::Counter),
            "requests"
        );
        assert_eq!(
            family("speed", "m/s", NameKind::Gauge),
            "speed_meters_per_second"
        );
        assert_eq!(
            family("rate", "{req}/s", NameKind::Gauge),
            "rate_per_second"
        );
        assert_eq!(family("odd", "widgets", NameKind::Gauge), "odd_widgets");
    }

    #[test]
    fn suffixes_are_not_doubled() {
        assert_eq!(
            family("duration_seconds", "s", NameKind::Distribution),
            "duration_seconds"
        );
        assert_eq!(family("requests_total", "", NameKind::Counter), "requests");
        assert_eq!(
            family("io_bytes_total", "By", NameKind::Counter),
            "io_bytes"
        );
        assert_eq!(family("total", "", NameKind::Counter), "total");
    }
}
