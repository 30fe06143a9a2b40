//! Settings of the NFS, storage and Raft instruments (ferrotel-ops): metric naming profiles,
//! the metric name prefix, and the per-operation sampling rules.

use crate::parse::keyword_enum;
use crate::precedence::{Candidate, Rejection, Resolver};
use crate::vars;

keyword_enum! {
    /// Which names the NFS metrics carry ([`FERROTEL_NFS_METRICS`](crate::vars::FERROTEL_NFS_METRICS)).
    pub enum NfsMetrics {
        /// `semconv` (default): the semantic conventions' `nfs.server.*` / `nfs.client.*`
        /// names where they exist, ferrotel's own where they do not.
        #[default]
        Semconv => "semconv",
        /// `dittofs`: the DittoFS set exactly (`{prefix}_nfs_requests_total`, …).
        Dittofs => "dittofs",
    }
}

keyword_enum! {
    /// Which names the storage metrics carry
    /// ([`FERROTEL_STORAGE_METRICS`](crate::vars::FERROTEL_STORAGE_METRICS)).
    pub enum StorageMetrics {
        /// `semconv` (default): `storage.operation.duration`, `storage.io`, `storage.cache.requests`.
        #[default]
        Semconv => "semconv",
        /// `blixard`: the above plus Blixard's `storage_reads_total`, `storage_writes_total`,
        /// `storage_read_duration`, `storage_write_duration`.
        Blixard => "blixard",
    }
}

/// The grammar of [`FERROTEL_SAMPLING_RULES`](crate::vars::FERROTEL_SAMPLING_RULES), for
/// messages.
pub const SAMPLING_RULES_GRAMMAR: &str = "a comma list of NAME_GLOB[ATTRIBUTE=VALUE]=RATIO, \
    e.g. nfs.READ=0.01,raft.*=0.1,nfs.*[nfs.share=scratch]=0.5,*=1 (`*` matches any run of \
    characters, `?` one; the attribute match is optional; RATIO is a number from 0 to 1)";

/// The longest `FERROTEL_SAMPLING_RULES` accepted, and the most rules.
pub const MAX_SAMPLING_RULES: usize = 64;

/// One sampling rule: root spans whose name matches `name` (and whose creation attributes
/// hold `attribute`, when given) are kept with probability `ratio`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingRule {
    /// The span-name glob: `*` matches any run of characters, `?` exactly one.
    pub name: String,
    /// An attribute the span must carry at creation, as `(key, value)`.
    pub attribute: Option<(String, String)>,
    /// The probability of keeping a matching root, in `[0, 1]`.
    pub ratio: f64,
}

impl std::fmt::Display for SamplingRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some((key, value)) = &self.attribute {
            write!(f, "[{key}={value}]")?;
        }
        write!(f, "={}", self.ratio)
    }
}

/// Parses one rule, `NAME_GLOB[KEY=VALUE]=RATIO`.
fn parse_rule(text: &str) -> Result<SamplingRule, String> {
    let text = text.trim();
    let Some((head, ratio)) = text.rsplit_once('=') else {
        return Err(format!("rule {text:?} has no `=RATIO`"));
    };
    let ratio = ratio.trim();
    let ratio: f64 = ratio
        .parse()
        .ok()
        .filter(|r: &f64| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("rule {text:?}: ratio {ratio:?} is not a number from 0 to 1"))?;
    let head = head.trim();
    let (name, attribute) = match head.split_once('[') {
        None => (head, None),
        Some((name, rest)) => {
            let Some(inner) = rest.strip_suffix(']') else {
                return Err(format!("rule {text:?}: `[` without a closing `]`"));
            };
            let Some((key, value)) = inner.split_once('=') else {
                return Err(format!(
                    "rule {text:?}: the attribute match needs KEY=VALUE"
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(format!("rule {text:?}: the attribute key is empty"));
            }
            (name.trim(), Some((key.to_owned(), value.to_owned())))
        }
    };
    if name.is_empty() {
        return Err(format!("rule {text:?}: the span-name glob is empty"));
    }
    if name.contains([']', '=']) {
        return Err(format!(
            "rule {text:?}: the span-name glob {name:?} holds `]` or `=`"
        ));
    }
    Ok(SamplingRule {
        name: name.to_owned(),
        attribute,
        ratio,
    })
}

/// Parses a whole rule list. An empty list is valid (no rules).
pub fn parse_sampling_rules(text: &str) -> Result<Vec<SamplingRule>, String> {
    let rules: Vec<SamplingRule> = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(parse_rule)
        .collect::<Result<_, _>>()?;
    if rules.len() > MAX_SAMPLING_RULES {
        return Err(format!(
            "{} rules, more than the {MAX_SAMPLING_RULES} allowed",
            rules.len()
        ));
    }
    Ok(rules)
}

/// The settings of the NFS, storage and Raft instruments.
#[derive(Debug, Clone, PartialEq)]
pub struct OpsConfig {
    /// NFS metric names ([`vars::FERROTEL_NFS_METRICS`], default `semconv`).
    pub nfs_metrics: NfsMetrics,
    /// Storage metric names ([`vars::FERROTEL_STORAGE_METRICS`], default `semconv`).
    pub storage_metrics: StorageMetrics,
    /// The prefix of the DittoFS names ([`vars::FERROTEL_METRICS_PREFIX`], default
    /// `ferrotel`).
    pub metrics_prefix: String,
    /// Sampling rules for root spans, first match wins ([`vars::FERROTEL_SAMPLING_RULES`],
    /// default none: the configured sampler decides every root).
    pub sampling_rules: Vec<SamplingRule>,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            nfs_metrics: NfsMetrics::default(),
            storage_metrics: StorageMetrics::default(),
            metrics_prefix: DEFAULT_METRICS_PREFIX.to_owned(),
            sampling_rules: Vec::new(),
        }
    }
}

/// The default of [`vars::FERROTEL_METRICS_PREFIX`].
pub const DEFAULT_METRICS_PREFIX: &str = "ferrotel";

/// Code settings of [`OpsConfig`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OpsOverrides {
    pub(crate) nfs_metrics: Option<NfsMetrics>,
    pub(crate) storage_metrics: Option<StorageMetrics>,
    pub(crate) metrics_prefix: Option<String>,
    pub(crate) sampling_rules: Option<Vec<SamplingRule>>,
}

/// A metric name prefix: `[a-zA-Z_][a-zA-Z0-9_]*`, at most 64 characters.
fn parse_prefix(text: &str) -> Result<String, Rejection> {
    let valid = text.len() <= 64
        && text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(Rejection::invalid())
    }
}

pub(crate) fn resolve(r: &mut Resolver<'_>, code: &OpsOverrides) -> OpsConfig {
    let nfs_metrics = r.keyword(
        code.nfs_metrics,
        "nfs_metrics",
        vars::FERROTEL_NFS_METRICS,
        NfsMetrics::default(),
    );
    let storage_metrics = r.keyword(
        code.storage_metrics,
        "storage_metrics",
        vars::FERROTEL_STORAGE_METRICS,
        StorageMetrics::default(),
    );
    let env = r.env();
    let metrics_prefix = r
        .resolve(
            [
                Candidate::code_text("metrics_prefix", code.metrics_prefix.as_deref()),
                Candidate::env(env, vars::FERROTEL_METRICS_PREFIX),
            ],
            "a metric name prefix: a letter or `_`, then letters, digits or `_` (at most 64)",
            DEFAULT_METRICS_PREFIX.to_owned(),
            String::clone,
            |_, text| parse_prefix(text),
        )
        .value;
    let sampling_rules = r
        .resolve(
            [
                Candidate::code("sampling_rules", code.sampling_rules.clone()),
                Candidate::env(env, vars::FERROTEL_SAMPLING_RULES),
            ],
            SAMPLING_RULES_GRAMMAR,
            Vec::new(),
            |rules: &Vec<SamplingRule>| {
                if rules.is_empty() {
                    "no sampling rules (the configured sampler decides every root)".to_owned()
                } else {
                    crate::precedence::show_list(rules)
                }
            },
            |_, text| parse_sampling_rules(text).map_err(Rejection::because),
        )
        .value;
    OpsConfig {
        nfs_metrics,
        storage_metrics,
        metrics_prefix,
        sampling_rules,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rules_parse_with_globs_attributes_and_ratios() {
        let rules =
            parse_sampling_rules("nfs.READ=0.01, nfs.*[nfs.share=scratch]=0.5,raft.*=0.1,*=1")
                .unwrap();
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[0].name, "nfs.READ");
        assert_eq!(rules[0].ratio, 0.01);
        assert_eq!(
            rules[1].attribute,
            Some(("nfs.share".to_owned(), "scratch".to_owned()))
        );
        assert_eq!(rules[3].to_string(), "*=1");
        assert!(parse_sampling_rules("").unwrap().is_empty());
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (text, needle) in [
            ("nfs.READ", "no `=RATIO`"),
            ("nfs.READ=2", "not a number from 0 to 1"),
            ("nfs.READ=-0.1", "not a number from 0 to 1"),
            ("nfs.READ=abc", "not a number from 0 to 1"),
            ("=0.5", "glob is empty"),
            ("nfs.*[share]=0.5", "KEY=VALUE"),
            ("nfs.*[share=a=0.5", "closing `]`"),
        ] {
            let error = parse_sampling_rules(text).unwrap_err();
            assert!(error.contains(needle), "{text}: {error}");
        }
        let many = vec!["a=1"; MAX_SAMPLING_RULES + 1].join(",");
        assert!(parse_sampling_rules(&many)
            .unwrap_err()
            .contains("more than"));
    }
}
