//! The two text formats written from the [`Exposition`] model.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::model::{format_float, ExemplarLine, Exposition, Family, FamilyType, Number};

/// The `Content-Type` of [`render_openmetrics`] output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The `Content-Type` of [`render_prometheus_text`] output.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `request` as OpenMetrics 1.0 text, with exemplars on `_bucket` and `_total` lines
/// and the closing `# EOF`.
///
/// Monotonic sums are `counter` families (samples `<name>_total`), gauges and non-monotonic
/// sums `gauge`, explicit-bucket histograms `histogram` (cumulative `_bucket{le}`, `_sum`,
/// `_count`), summaries `summary`, and the resource becomes the `target` info family
/// (`target_info{…} 1`). Delta sums and histograms are left out
/// (OpenMetrics has no comment line to say so; [`render_prometheus_text`] says so in `# `
/// comments).
pub fn render_openmetrics(request: &ExportMetricsServiceRequest) -> String {
    let exposition = Exposition::from_request(request);
    let mut out = String::new();
    for family in &exposition.families {
        let kind = match family.kind {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram => "histogram",
            FamilyType::Summary => "summary",
            FamilyType::Info => "info",
        };
        if !family.help.is_empty() {
            let _ = writeln!(
                out,
                "# HELP {} {}",
                family.name,
                escape_help(&family.help, true)
            );
        }
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        if !family.unit.is_empty() {
            let _ = writeln!(out, "# UNIT {} {}", family.name, family.unit);
        }
        write_samples(&mut out, family, true);
    }
    out.push_str("# EOF\n");
    out
}

/// Renders `request` as Prometheus text format 0.0.4: the same families and samples as
/// [`render_openmetrics`] without exemplars, `# UNIT` and `# EOF`; counters are typed under
/// their `_total` name, the resource is the gauge `target_info`, and skipped metrics are
/// listed in `# ` comments.
pub fn render_prometheus_text(request: &ExportMetricsServiceRequest) -> String {
    let exposition = Exposition::from_request(request);
    let mut out = String::new();
    for note in &exposition.skipped {
        let _ = writeln!(out, "# {note}");
    }
    for family in &exposition.families {
        let (name, kind) = match family.kind {
            FamilyType::Counter => (format!("{}_total", family.name), "counter"),
            FamilyType::Gauge => (family.name.clone(), "gauge"),
            FamilyType::Histogram => (family.name.clone(), "histogram"),
            FamilyType::Summary => (family.name.clone(), "summary"),
            FamilyType::Info => (format!("{}_info", family.name), "gauge"),
        };
        if !family.help.is_empty() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help, false));
        }
        let _ = writeln!(out, "# TYPE {name} {kind}");
        write_samples(&mut out, family, false);
    }
    out
}

fn write_samples(out: &mut String, family: &Family, openmetrics: bool) {
    for sample in &family.samples {
        out.push_str(&family.name);
        out.push_str(sample.suffix);
        write_labels(out, &sample.labels, false);
        out.push(' ');
        write_number(out, sample.value);
        if openmetrics {
            if let Some(exemplar) = &sample.exemplar {
                write_exemplar(out, exemplar);
            }
        }
        out.push('\n');
    }
}

fn write_exemplar(out: &mut String, exemplar: &ExemplarLine) {
    out.push_str(" # ");
    write_labels(out, &exemplar.labels, true);
    out.push(' ');
    write_number(out, exemplar.value);
    if let Some(nanos) = exemplar.time_unix_nano {
        let secs = nanos / 1_000_000_000;
        let frac = nanos % 1_000_000_000;
        let _ = write!(out, " {secs}");
        if frac != 0 {
            let digits = format!("{frac:09}");
            let _ = write!(out, ".{}", digits.trim_end_matches('0'));
        }
    }
}

fn write_labels(out: &mut String, labels: &[(String, String)], always_braces: bool) {
    if labels.is_empty() && !always_braces {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
    out.push('}');
}

fn write_number(out: &mut String, value: Number) {
    let _ = match value {
        Number::Int(v) => write!(out, "{v}"),
        Number::Count(v) => write!(out, "{v}"),
        Number::Float(v) => write!(out, "{}", format_float(v)),
    };
}

fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str, openmetrics: bool) -> String {
    let mut out = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if openmetrics => out.push_str("\\\""),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
