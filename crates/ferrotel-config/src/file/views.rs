//! `meter_provider.views` and the readers' `cardinality_limits`: read into the same
//! [`View`] and [`CardinalityLimits`] the builder takes, each problem named by its line and key
//! path; a view with a problem is left out.

use super::walk::{Section, Walk};
use super::yaml::{Node, Value};
use crate::views::{
    AttributeKeys, CardinalityLimits, InstrumentType, View, ViewAggregation, ViewSelector,
    ViewStream, DEFAULT_VIEW_BOUNDARIES,
};

/// The list under `meter_provider.views`.
pub(crate) fn views(walk: &mut Walk<'_>, provider: &mut Section<'_>) {
    let Some((items, path, _)) = walk.child_list(provider, "views") else {
        return;
    };
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{index}]");
        let errors_before = walk.issues.len();
        let Some(view) = view(walk, item, &item_path) else {
            continue;
        };
        for problem in view.problems() {
            walk.invalid(
                item.line,
                &format!("{item_path}.{}", problem.key),
                problem.value,
                &problem.allowed,
                None,
            );
        }
        // Any problem (a typo as much as a bad value) leaves the view out: half a view
        // would change the stream in a way nobody asked for.
        if walk.issues.len() == errors_before {
            walk.views.push(view);
        }
    }
}

fn view(walk: &mut Walk<'_>, item: &Node, path: &str) -> Option<View> {
    let Value::Map(entries) = &item.value else {
        walk.invalid(
            item.line,
            path,
            item.value.text(),
            "a mapping with selector and stream",
            None,
        );
        return None;
    };
    let mut section = Section::nested(path.to_owned(), item.line, entries);
    let selector = match walk.child_section(&mut section, "selector") {
        Some(s) => selector(walk, s),
        None => ViewSelector::default(),
    };
    let stream = match walk.child_section(&mut section, "stream") {
        Some(s) => stream(walk, s),
        None => ViewStream::default(),
    };
    walk.finish(section, &["selector", "stream"], &[]);
    Some(View { selector, stream })
}

fn selector(walk: &mut Walk<'_>, mut section: Section<'_>) -> ViewSelector {
    let mut text = |walk: &mut Walk<'_>, key: &str| walk.text(&mut section, key).map(|(t, _)| t);
    let instrument_name = text(walk, "instrument_name");
    let instrument_type_text = walk.text(&mut section, "instrument_type");
    let unit = walk.text(&mut section, "unit").map(|(t, _)| t);
    let meter_name = walk.text(&mut section, "meter_name").map(|(t, _)| t);
    let meter_version = walk.text(&mut section, "meter_version").map(|(t, _)| t);
    let meter_schema_url = walk.text(&mut section, "meter_schema_url").map(|(t, _)| t);
    let instrument_type = instrument_type_text.and_then(|(t, line)| {
        let kind = InstrumentType::parse(&t);
        if kind.is_none() {
            let allowed: Vec<&str> = InstrumentType::ALL.iter().map(|(_, n)| *n).collect();
            walk.invalid(
                line,
                &section.child("instrument_type"),
                t,
                &allowed.join(", "),
                None,
            );
        }
        kind
    });
    walk.finish(
        section,
        &[
            "instrument_name",
            "instrument_type",
            "unit",
            "meter_name",
            "meter_version",
            "meter_schema_url",
        ],
        &[],
    );
    ViewSelector {
        instrument_name,
        instrument_type,
        unit,
        meter_name,
        meter_version,
        meter_schema_url,
    }
}

fn stream(walk: &mut Walk<'_>, mut section: Section<'_>) -> ViewStream {
    let name = walk.text(&mut section, "name").map(|(t, _)| t);
    let description = walk.text(&mut section, "description").map(|(t, _)| t);
    let aggregation = section.take("aggregation").and_then(|entry| {
        let path = section.child("aggregation");
        aggregation(walk, &entry.value, &path)
    });
    let attribute_keys = walk
        .child_section(&mut section, "attribute_keys")
        .map(|keys| attribute_keys(walk, keys));
    let aggregation_cardinality_limit =
        positive(walk, &mut section, "aggregation_cardinality_limit");
    walk.finish(
        section,
        &[
            "name",
            "description",
            "aggregation",
            "attribute_keys",
            "aggregation_cardinality_limit",
        ],
        &[],
    );
    ViewStream {
        name,
        description,
        aggregation,
        attribute_keys,
        aggregation_cardinality_limit,
    }
}

const AGGREGATIONS: [&str; 6] = [
    "default",
    "drop",
    "sum",
    "last_value",
    "explicit_bucket_histogram",
    "base2_exponential_bucket_histogram",
];

fn aggregation(walk: &mut Walk<'_>, node: &Node, path: &str) -> Option<ViewAggregation> {
    let entry = walk.single_key(node, path, &AGGREGATIONS, &[])?;
    let inner_path = format!("{path}.{}", entry.key);
    let mut inner = walk.section(entry, inner_path)?;
    let aggregation = match entry.key.as_str() {
        "default" => ViewAggregation::Default,
        "drop" => ViewAggregation::Drop,
        "sum" => ViewAggregation::Sum,
        "last_value" => ViewAggregation::LastValue,
        "explicit_bucket_histogram" => {
            let boundaries = numbers(walk, &mut inner, "boundaries")
                .unwrap_or_else(|| DEFAULT_VIEW_BOUNDARIES.to_vec());
            let record_min_max = walk
                .boolean(&mut inner, "record_min_max")
                .is_none_or(|(b, _)| b);
            walk.finish(inner, &["boundaries", "record_min_max"], &[]);
            return Some(ViewAggregation::ExplicitBucketHistogram {
                boundaries,
                record_min_max,
            });
        }
        _ => {
            let max_scale = walk.integer(&mut inner, "max_scale");
            let max_size = walk.integer(&mut inner, "max_size");
            let record_min_max = walk
                .boolean(&mut inner, "record_min_max")
                .is_none_or(|(b, _)| b);
            // Out-of-range values are kept out of range so that View::problems names them.
            let max_scale = max_scale.map_or(20, |(v, _)| i8::try_from(v).unwrap_or(i8::MAX));
            let max_size = max_size.map_or(160, |(v, _)| u32::try_from(v).unwrap_or(0));
            walk.finish(inner, &["max_scale", "max_size", "record_min_max"], &[]);
            return Some(ViewAggregation::Base2ExponentialBucketHistogram {
                max_scale,
                max_size,
                record_min_max,
            });
        }
    };
    walk.finish(inner, &[], &[]);
    Some(aggregation)
}

/// A list of numbers; `None` (reported) when it is not one.
fn numbers(walk: &mut Walk<'_>, section: &mut Section<'_>, key: &str) -> Option<Vec<f64>> {
    let (items, path, line) = walk.child_list(section, key)?;
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match &item.value {
            Value::Int(v) => values.push(*v as f64),
            Value::Float(v, _) => values.push(*v),
            other => {
                walk.invalid(
                    item.line.max(line),
                    &format!("{path}[{index}]"),
                    other.text(),
                    "a number",
                    None,
                );
                return None;
            }
        }
    }
    Some(values)
}

fn strings(walk: &mut Walk<'_>, section: &mut Section<'_>, key: &str) -> Option<Vec<String>> {
    let (items, path, _) = walk.child_list(section, key)?;
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match &item.value {
            Value::Str(s) => values.push(s.clone()),
            other => walk.invalid(
                item.line,
                &format!("{path}[{index}]"),
                other.text(),
                "an attribute key",
                None,
            ),
        }
    }
    Some(values)
}

fn attribute_keys(walk: &mut Walk<'_>, mut section: Section<'_>) -> AttributeKeys {
    let included = strings(walk, &mut section, "included");
    let excluded = strings(walk, &mut section, "excluded").unwrap_or_default();
    walk.finish(section, &["included", "excluded"], &[]);
    AttributeKeys { included, excluded }
}

/// An integer of at least 1; reported and `None` otherwise.
fn positive(walk: &mut Walk<'_>, section: &mut Section<'_>, key: &str) -> Option<usize> {
    let (value, line) = walk.integer(section, key)?;
    match usize::try_from(value) {
        Ok(v) if (1..=crate::views::MAX_CARDINALITY_LIMIT).contains(&v) => Some(v),
        _ => {
            let path = section.child(key);
            walk.invalid(
                line,
                &path,
                value.to_string(),
                "an integer from 1 to 1000000",
                None,
            );
            None
        }
    }
}

/// A reader's `cardinality_limits`, merged into the walk's (the tightest per kind: the SDK
/// has one limit per instrument for every reader).
pub(crate) fn cardinality_limits(walk: &mut Walk<'_>, reader: &mut Section<'_>) {
    let Some(mut section) = walk.child_section(reader, "cardinality_limits") else {
        return;
    };
    let mut limits = CardinalityLimits::default();
    if let Some(limit) = positive(walk, &mut section, "default") {
        limits.default = limit;
    }
    for (kind, key) in InstrumentType::ALL {
        if let Some(limit) = positive(walk, &mut section, key) {
            limits.set(kind, limit);
        }
    }
    let mut known = vec!["default"];
    known.extend(InstrumentType::ALL.iter().map(|(_, n)| *n));
    walk.finish(section, &known, &[]);
    walk.cardinality_limits = Some(match walk.cardinality_limits {
        Some(earlier) => earlier.tightest(&limits),
        None => limits,
    });
}
