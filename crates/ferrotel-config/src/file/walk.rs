//! Reading the parsed file: typed reads whose problems name the file, the line and the key;
//! keys nobody read are reported; and the variables the file stands for are collected, with
//! the place each came from.

use super::yaml::{Entry, Node, Value};
use crate::issue::{ConfigIssue, Severity};
use crate::sampler::Sampler;

/// The schema version whose keys ferrotel knows.
pub(crate) const SCHEMA: &str = "opentelemetry-configuration 1.1";

/// One variable the file stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) var: &'static str,
    pub(crate) value: String,
    /// `file:line: key.path`.
    pub(crate) place: String,
}

/// The state of one walk over a file.
pub(crate) struct Walk<'f> {
    file: &'f str,
    pub(crate) issues: Vec<ConfigIssue>,
    pub(crate) settings: Vec<Setting>,
    /// The span exporters behind `simple` processors.
    pub(crate) simple_span_exporters: Vec<&'static str>,
    /// A `parent_based` sampler's delegates when they are not the defaults, in the order
    /// remote sampled, remote not sampled, local sampled, local not sampled.
    pub(crate) parent_delegates: Option<[Sampler; 4]>,
    /// `meter_provider.views`, those without problems.
    pub(crate) views: Vec<crate::views::View>,
    /// The readers' `cardinality_limits`, the tightest per kind.
    pub(crate) cardinality_limits: Option<crate::views::CardinalityLimits>,
}

/// A mapping being read: its key path and which of its keys were read.
pub(crate) struct Section<'n> {
    pub(crate) path: String,
    pub(crate) line: usize,
    entries: &'n [Entry],
    taken: Vec<bool>,
}

impl<'n> Section<'n> {
    /// The root mapping.
    pub(crate) fn root(entries: &'n [Entry]) -> Self {
        Self {
            path: String::new(),
            line: 1,
            entries,
            taken: vec![false; entries.len()],
        }
    }

    /// A mapping found inside a list item.
    pub(crate) fn nested(path: String, line: usize, entries: &'n [Entry]) -> Self {
        Self {
            path,
            line,
            taken: vec![false; entries.len()],
            entries,
        }
    }

    /// Takes `key`, marking it read.
    pub(crate) fn take(&mut self, key: &str) -> Option<&'n Entry> {
        let index = self.entries.iter().position(|entry| entry.key == key)?;
        self.taken[index] = true;
        self.entries.get(index)
    }

    /// The path of a child key.
    pub(crate) fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Whether nothing is in it.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'f> Walk<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Self {
            file,
            issues: Vec::new(),
            settings: Vec::new(),
            simple_span_exporters: Vec::new(),
            parent_delegates: None,
            views: Vec::new(),
            cardinality_limits: None,
        }
    }

    /// `file:line: path`, the name every issue and setting carries.
    pub(crate) fn place(&self, line: usize, path: &str) -> String {
        format!("{}:{line}: {path}", self.file)
    }

    /// Reports an invalid value; the setting is left to its default.
    pub(crate) fn invalid(
        &mut self,
        line: usize,
        path: &str,
        value: String,
        allowed: &str,
        reason: Option<String>,
    ) {
        self.issues.push(ConfigIssue {
            variable: self.place(line, path),
            value,
            allowed: allowed.to_owned(),
            fallback: "the default".to_owned(),
            severity: Severity::Invalid,
            reason,
        });
    }

    /// Reports a key (or value) ferrotel does not support; `instead` follows "using".
    pub(crate) fn unsupported(&mut self, line: usize, path: &str, reason: String, instead: &str) {
        self.issues.push(ConfigIssue {
            variable: self.place(line, path),
            value: String::new(),
            allowed: String::new(),
            fallback: instead.to_owned(),
            severity: Severity::Invalid,
            reason: Some(reason),
        });
    }

    /// Reports every key of `section` that was not read: `unsupported` lists the schema's keys
    /// that ferrotel does not implement, anything else is not in the schema at all.
    pub(crate) fn finish(&mut self, section: Section<'_>, known: &[&str], unsupported: &[&str]) {
        for (entry, taken) in section.entries.iter().zip(&section.taken) {
            if *taken {
                continue;
            }
            let path = section.child(&entry.key);
            let reason = if unsupported.contains(&entry.key.as_str()) {
                format!("ferrotel does not support this key of the {SCHEMA} schema")
            } else {
                let mut keys: Vec<&str> = known.iter().chain(unsupported).copied().collect();
                keys.sort_unstable();
                format!(
                    "not a key of {} in the {SCHEMA} schema (its keys: {})",
                    if section.path.is_empty() {
                        "the top level"
                    } else {
                        &section.path
                    },
                    keys.join(", ")
                )
            };
            self.unsupported(entry.line, &path, reason, "the rest of the file without it");
        }
    }

    /// Records that the file sets `var`. A second, different value for the same variable is
    /// reported (ferrotel has one such setting where the file may hold several) and dropped.
    pub(crate) fn set(&mut self, var: &'static str, value: String, line: usize, path: &str) {
        let place = self.place(line, path);
        match self.settings.iter().find(|setting| setting.var == var) {
            Some(first) if first.value == value => {}
            Some(first) => {
                let first_place = first.place.clone();
                self.issues.push(ConfigIssue {
                    variable: place,
                    value,
                    allowed: format!("the same value as {first_place}"),
                    fallback: format!("the value of {first_place}"),
                    severity: Severity::Invalid,
                    reason: Some(
                        "ferrotel has one such setting per signal, and an earlier entry \
                         already set it differently"
                            .to_owned(),
                    ),
                });
            }
            None => self.settings.push(Setting { var, value, place }),
        }
    }

    /// The value of an entry as a mapping: a null value is an empty mapping (`always_on:`).
    pub(crate) fn section<'n>(&mut self, entry: &'n Entry, path: String) -> Option<Section<'n>> {
        match &entry.value.value {
            Value::Map(entries) => Some(Section {
                path,
                line: entry.line,
                entries,
                taken: vec![false; entries.len()],
            }),
            Value::Null => Some(Section {
                path,
                line: entry.line,
                entries: &[],
                taken: Vec::new(),
            }),
            other => {
                self.invalid(entry.line, &path, other.text(), "a mapping", None);
                None
            }
        }
    }

    /// The child `key` of `section` as a mapping, when present.
    pub(crate) fn child_section<'n>(
        &mut self,
        section: &mut Section<'n>,
        key: &str,
    ) -> Option<Section<'n>> {
        let entry = section.take(key)?;
        let path = section.child(key);
        self.section(entry, path)
    }

    /// The child `key` of `section` as a list, when present (null: absent).
    pub(crate) fn child_list<'n>(
        &mut self,
        section: &mut Section<'n>,
        key: &str,
    ) -> Option<(&'n [Node], String, usize)> {
        let entry = section.take(key)?;
        let path = section.child(key);
        match &entry.value.value {
            Value::Seq(items) => Some((items, path, entry.line)),
            Value::Null => None,
            other => {
                self.invalid(entry.line, &path, other.text(), "a list", None);
                None
            }
        }
    }

    /// A list item that must be a mapping with exactly one key: the kind of component
    /// (`batch`, `otlp_http`, `always_on`, …). Returns the entry of that key.
    pub(crate) fn single_key<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
        unsupported: &[&str],
    ) -> Option<&'n Entry> {
        let entries = match &node.value {
            Value::Map(entries) if entries.len() == 1 => entries,
            other => {
                let mut keys: Vec<&str> = known.iter().chain(unsupported).copied().collect();
                keys.sort_unstable();
                self.invalid(
                    node.line,
                    path,
                    other.text(),
                    &format!("a mapping with exactly one of: {}", keys.join(", ")),
                    None,
                );
                return None;
            }
        };
        let entry = entries.first()?;
        if known.contains(&entry.key.as_str()) {
            return Some(entry);
        }
        let section = Section {
            path: path.to_owned(),
            line: node.line,
            entries,
            taken: vec![false],
        };
        self.finish(section, known, unsupported);
        None
    }

    /// A scalar child as text (numbers and booleans as written); null is absent.
    pub(crate) fn text(&mut self, section: &mut Section<'_>, key: &str) -> Option<(String, usize)> {
        let entry = section.take(key)?;
        match &entry.value.value {
            Value::Null => None,
            Value::Seq(_) | Value::Map(_) => {
                let path = section.child(key);
                self.invalid(entry.line, &path, entry.value.value.text(), "text", None);
                None
            }
            scalar => Some((scalar.text(), entry.line)),
        }
    }

    /// An integer child (YAML integer, any base); null is absent.
    pub(crate) fn integer(&mut self, section: &mut Section<'_>, key: &str) -> Option<(i64, usize)> {
        let entry = section.take(key)?;
        match &entry.value.value {
            Value::Null => None,
            Value::Int(value) => Some((*value, entry.line)),
            other => {
                let path = section.child(key);
                let reason = matches!(other, Value::Str(_))
                    .then(|| "a quoted or non-numeric value is text, not an integer".to_owned());
                self.invalid(entry.line, &path, other.text(), "an integer", reason);
                None
            }
        }
    }

    /// A number child (integer or float), as written; null is absent.
    pub(crate) fn number(
        &mut self,
        section: &mut Section<'_>,
        key: &str,
    ) -> Option<(String, usize)> {
        let entry = section.take(key)?;
        match &entry.value.value {
            Value::Null => None,
            Value::Int(_) | Value::Float(..) => Some((entry.value.value.text(), entry.line)),
            other => {
                let path = section.child(key);
                self.invalid(entry.line, &path, other.text(), "a number", None);
                None
            }
        }
    }

    /// A boolean child; null is absent.
    pub(crate) fn boolean(
        &mut self,
        section: &mut Section<'_>,
        key: &str,
    ) -> Option<(bool, usize)> {
        let entry = section.take(key)?;
        match &entry.value.value {
            Value::Null => None,
            Value::Bool(value) => Some((*value, entry.line)),
            other => {
                let path = section.child(key);
                self.invalid(entry.line, &path, other.text(), "true, false", None);
                None
            }
        }
    }

    /// `key` as text straight into `var`.
    pub(crate) fn text_to(&mut self, section: &mut Section<'_>, key: &str, var: &'static str) {
        if let Some((value, line)) = self.text(section, key) {
            let path = section.child(key);
            self.set(var, value, line, &path);
        }
    }

    /// `key` as an integer straight into `var` (range checks are the variable's).
    pub(crate) fn integer_to(&mut self, section: &mut Section<'_>, key: &str, var: &'static str) {
        if let Some((value, line)) = self.integer(section, key) {
            let path = section.child(key);
            self.set(var, value.to_string(), line, &path);
        }
    }
}
