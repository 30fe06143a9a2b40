//! The one place that owns precedence: code setting > per-signal variable > generic variable >
//! default, as opentelemetry-otlp's `exporter/mod.rs` does with its `resolve_*` functions.
//!
//! Every setting is resolved by [`Resolver::resolve`]: it walks an ordered list of
//! [`Candidate`]s, takes the first one that is present and valid, and reports every present but
//! invalid candidate it passed on the way, naming the value that is used instead. A candidate
//! below the winner is never read, so a shadowed variable is not validated.

use crate::bounds;
use crate::env::Env;
use crate::issue::{ConfigIssue, Severity};
use crate::parse::{self, Keyword};
use std::time::Duration;

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A [`ConfigBuilder`](crate::ConfigBuilder) setting, named for messages.
    Code(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The built-in default.
    Default,
}

impl Origin {
    /// The name used as [`ConfigIssue::variable`].
    pub(crate) fn name(self) -> String {
        match self {
            Origin::Code(setting) => format!("code: {setting}"),
            Origin::Env(var) => var.to_owned(),
            Origin::Default => "default".to_owned(),
        }
    }

    /// "using …" text for a value `shown` that came from here.
    pub(crate) fn phrase(self, shown: &str) -> String {
        match self {
            Origin::Code(setting) => format!("{shown} set in code ({setting})"),
            Origin::Env(var) => format!("{shown} from {var}"),
            Origin::Default => format!("the default {shown}"),
        }
    }

    /// Whether the value is the built-in default.
    pub(crate) fn is_default(self) -> bool {
        self == Origin::Default
    }
}

/// The raw input of one candidate.
pub(crate) enum Input<'a, T> {
    /// An already typed value (most code settings): always valid.
    Value(T),
    /// Text to parse (variables, and code settings given as text such as endpoints).
    Text(&'a str),
}

/// One source of a setting, present or not.
pub(crate) struct Candidate<'a, T> {
    origin: Origin,
    input: Option<Input<'a, T>>,
}

impl<'a, T> Candidate<'a, T> {
    /// A typed code setting.
    pub(crate) fn code(setting: &'static str, value: Option<T>) -> Self {
        Self {
            origin: Origin::Code(setting),
            input: value.map(Input::Value),
        }
    }

    /// A code setting given as text, parsed like a variable.
    pub(crate) fn code_text(setting: &'static str, value: Option<&'a str>) -> Self {
        Self {
            origin: Origin::Code(setting),
            input: value
                .map(|text| text.trim())
                .filter(|text| !text.is_empty())
                .map(Input::Text),
        }
    }

    /// An environment variable.
    pub(crate) fn env(env: &'a Env, var: &'static str) -> Self {
        Self {
            origin: Origin::Env(var),
            input: env.get(var).map(Input::Text),
        }
    }

    /// Text taken out of a variable (e.g. one key of `OTEL_TRACES_SAMPLER_ARG`).
    pub(crate) fn env_text(var: &'static str, value: Option<&'a str>) -> Self {
        Self {
            origin: Origin::Env(var),
            input: value
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(Input::Text),
        }
    }

    /// A value taken out of a variable (e.g. `service.name` inside
    /// `OTEL_RESOURCE_ATTRIBUTES`), already validated.
    pub(crate) fn env_value(var: &'static str, value: Option<T>) -> Self {
        Self {
            origin: Origin::Env(var),
            input: value.map(Input::Value),
        }
    }
}

/// Why a text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) reason: Option<String>,
}

impl Rejection {
    /// Not valid, and the allowed values say it all.
    pub(crate) fn invalid() -> Self {
        Self { reason: None }
    }

    /// Not valid, for a reason worth stating.
    pub(crate) fn because(reason: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
        }
    }
}

/// A resolved value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolution<T> {
    pub(crate) value: T,
    pub(crate) origin: Origin,
}

/// Resolves settings against one [`Env`] and collects the issues.
pub(crate) struct Resolver<'e> {
    env: &'e Env,
    issues: Vec<ConfigIssue>,
}

impl<'e> Resolver<'e> {
    pub(crate) fn new(env: &'e Env) -> Self {
        Self {
            env,
            issues: env.snapshot_issues().to_vec(),
        }
    }

    /// The environment being read.
    pub(crate) fn env(&self) -> &'e Env {
        self.env
    }

    /// A position in the issue list, for [`Resolver::redact_since`].
    pub(crate) fn mark(&self) -> usize {
        self.issues.len()
    }

    /// Rewrites the values of the issues recorded since `mark` (e.g. to hide header secrets).
    pub(crate) fn redact_since(&mut self, mark: usize, redact: impl Fn(&str) -> String) {
        for issue in self.issues.iter_mut().skip(mark) {
            issue.value = redact(&issue.value);
        }
    }

    /// Records an issue found outside [`Resolver::resolve`].
    pub(crate) fn report(&mut self, issue: ConfigIssue) {
        self.issues.push(issue);
    }

    /// The issues in the order found, each reported once: a generic variable is read once per
    /// signal, so the same problem can come back with another fallback (e.g. the traces and the
    /// metrics default endpoint); those fallbacks are joined.
    pub(crate) fn into_issues(self) -> Vec<ConfigIssue> {
        let mut unique: Vec<ConfigIssue> = Vec::with_capacity(self.issues.len());
        for issue in self.issues {
            let same_problem = unique.iter_mut().find(|seen| {
                seen.variable == issue.variable
                    && seen.value == issue.value
                    && seen.severity == issue.severity
                    && seen.reason == issue.reason
                    && seen.allowed == issue.allowed
            });
            match same_problem {
                Some(seen) if seen.fallback == issue.fallback => {}
                Some(seen) => seen.fallback = format!("{}, and {}", seen.fallback, issue.fallback),
                None => unique.push(issue),
            }
        }
        unique
    }

    /// THE precedence rule: the first present and valid candidate wins, else `default`.
    ///
    /// Every present but invalid candidate before the winner is reported with `allowed` and
    /// the value used instead (shown with `show`).
    pub(crate) fn resolve<'a, T>(
        &mut self,
        candidates: impl IntoIterator<Item = Candidate<'a, T>>,
        allowed: &str,
        default: T,
        show: impl Fn(&T) -> String,
        mut parse: impl FnMut(Origin, &str) -> Result<T, Rejection>,
    ) -> Resolution<T> {
        let mut rejected: Vec<(Origin, &'a str, Rejection)> = Vec::new();
        let mut winner = None;
        for candidate in candidates {
            match candidate.input {
                None => {}
                Some(Input::Value(value)) => {
                    winner = Some((value, candidate.origin));
                    break;
                }
                Some(Input::Text(text)) => match parse(candidate.origin, text) {
                    Ok(value) => {
                        winner = Some((value, candidate.origin));
                        break;
                    }
                    Err(rejection) => rejected.push((candidate.origin, text, rejection)),
                },
            }
        }
        let (value, origin) = winner.unwrap_or((default, Origin::Default));
        let fallback = origin.phrase(&show(&value));
        for (bad_origin, text, rejection) in rejected {
            self.issues.push(ConfigIssue {
                variable: bad_origin.name(),
                value: text.to_owned(),
                allowed: allowed.to_owned(),
                fallback: fallback.clone(),
                severity: Severity::Invalid,
                reason: rejection.reason,
            });
        }
        Resolution { value, origin }
    }

    /// The usual chain for one setting: code, then each variable in order, then the default.
    pub(crate) fn chain<T>(
        &self,
        code: Option<T>,
        setting: &'static str,
        vars: &[&'static str],
    ) -> Vec<Candidate<'e, T>> {
        let env = self.env;
        std::iter::once(Candidate::code(setting, code))
            .chain(vars.iter().map(|var| Candidate::env(env, var)))
            .collect()
    }

    /// A keyword enum setting.
    pub(crate) fn keyword<T: Keyword + std::fmt::Display>(
        &mut self,
        code: Option<T>,
        setting: &'static str,
        var: &'static str,
        default: T,
    ) -> T {
        let candidates = self.chain(code, setting, &[var]);
        let allowed = parse::keywords::<T>();
        self.resolve(candidates, &allowed, default, T::to_string, |_, text| {
            parse::keyword(text)
        })
        .value
    }

    /// A boolean setting.
    pub(crate) fn flag(
        &mut self,
        code: Option<bool>,
        setting: &'static str,
        vars: &[&'static str],
        default: bool,
    ) -> bool {
        let candidates = self.chain(code, setting, vars);
        self.resolve(
            candidates,
            parse::BOOL_ALLOWED,
            default,
            bool::to_string,
            |_, text| parse::boolean(text),
        )
        .value
    }

    /// A duration in milliseconds, capped to [`bounds::MAX_DURATION`] with a report.
    #[allow(dead_code)] // the plain form, for settings without a floor
    pub(crate) fn millis(
        &mut self,
        code: Option<Duration>,
        setting: &'static str,
        vars: &[&'static str],
        default: Duration,
    ) -> Duration {
        self.millis_at_least(code, setting, vars, default, Duration::ZERO)
    }

    /// A duration in milliseconds; from a variable, at least `min` (a shorter one is reported
    /// and the default used). Capped to [`bounds::MAX_DURATION`] with a report.
    pub(crate) fn millis_at_least(
        &mut self,
        code: Option<Duration>,
        setting: &'static str,
        vars: &[&'static str],
        default: Duration,
        min: Duration,
    ) -> Duration {
        let candidates = self.chain(code, setting, vars);
        let resolution = self.resolve(
            candidates,
            parse::MILLIS_ALLOWED,
            default,
            parse::show_millis,
            |_, text| parse::millis(text),
        );
        // Typed code settings are taken as given (tests export fast on purpose).
        if resolution.value < min && matches!(resolution.origin, Origin::Env(_)) {
            self.issues.push(ConfigIssue {
                variable: resolution.origin.name(),
                value: resolution.value.as_millis().to_string(),
                allowed: format!(
                    "{} of at least {}",
                    parse::MILLIS_ALLOWED,
                    parse::show_millis(&min)
                ),
                fallback: format!("the default {}", parse::show_millis(&default)),
                severity: Severity::Invalid,
                reason: Some(format!(
                    "below {}, work would be repeated back to back",
                    parse::show_millis(&min)
                )),
            });
            return default;
        }
        self.cap_duration(resolution.value, resolution.origin)
    }

    /// Caps a duration to [`bounds::MAX_DURATION`], reporting the cap.
    pub(crate) fn cap_duration(&mut self, value: Duration, origin: Origin) -> Duration {
        if value <= bounds::MAX_DURATION {
            return value;
        }
        self.issues.push(ConfigIssue {
            variable: origin.name(),
            value: value.as_millis().to_string(),
            allowed: format!(
                "{}, at most {}",
                parse::MILLIS_ALLOWED,
                parse::show_millis(&bounds::MAX_DURATION)
            ),
            fallback: format!("the cap {}", parse::show_millis(&bounds::MAX_DURATION)),
            severity: Severity::Invalid,
            reason: Some("the duration is longer than one day".to_owned()),
        });
        bounds::MAX_DURATION
    }

    /// A timeout in milliseconds where `0` means no limit (`None`), capped to
    /// [`bounds::MAX_DURATION`] with a report.
    pub(crate) fn timeout(
        &mut self,
        code: Option<Option<Duration>>,
        setting: &'static str,
        vars: &[&'static str],
        default: Option<Duration>,
    ) -> Option<Duration> {
        let candidates = self.chain(code, setting, vars);
        let resolution = self.resolve(
            candidates,
            parse::MILLIS_ALLOWED,
            default,
            parse::show_timeout,
            |_, text| parse::timeout(text),
        );
        resolution
            .value
            .map(|value| self.cap_duration(value, resolution.origin))
    }

    /// A count; with `positive`, zero is rejected too. At most [`bounds::MAX_COUNT_LIMIT`].
    pub(crate) fn count(
        &mut self,
        candidates: Vec<Candidate<'e, usize>>,
        default: usize,
        positive: bool,
    ) -> Resolution<usize> {
        self.count_at_most(
            candidates,
            default,
            positive,
            bounds::MAX_COUNT_LIMIT,
            "more is certainly a mistake",
        )
    }

    /// A count of at most `max` (`why` says what a larger one would cost); with `positive`,
    /// zero is rejected too. Code settings are held to the bound as well: a larger value is
    /// reported and the default used.
    pub(crate) fn count_at_most(
        &mut self,
        candidates: Vec<Candidate<'e, usize>>,
        default: usize,
        positive: bool,
        max: usize,
        why: &str,
    ) -> Resolution<usize> {
        let allowed = if positive {
            parse::POSITIVE_ALLOWED
        } else {
            parse::COUNT_ALLOWED
        };
        let allowed = format!("{allowed} up to {max}");
        let resolution = self.resolve(
            candidates,
            &allowed,
            default,
            usize::to_string,
            |_, text| match parse::count(text)? {
                0 if positive => Err(Rejection::because("zero is not allowed")),
                value if value > max => {
                    Err(Rejection::because(format!("above the bound {max}: {why}")))
                }
                value => Ok(value),
            },
        );
        if resolution.value > max {
            self.issues.push(ConfigIssue {
                variable: resolution.origin.name(),
                value: resolution.value.to_string(),
                allowed,
                fallback: format!("the default {default}"),
                severity: Severity::Invalid,
                reason: Some(format!("above the bound {max}: {why}")),
            });
            return Resolution {
                value: default,
                origin: Origin::Default,
            };
        }
        resolution
    }

    /// A length limit: a count up to [`bounds::MAX_LENGTH_LIMIT`], or `None` for no limit
    /// (the default).
    pub(crate) fn length_limit(
        &mut self,
        candidates: Vec<Candidate<'e, Option<usize>>>,
    ) -> Option<usize> {
        let show = |limit: &Option<usize>| {
            limit.map_or_else(|| "no limit".to_owned(), |limit| limit.to_string())
        };
        let max = bounds::MAX_LENGTH_LIMIT;
        let allowed = format!("{} up to {max}", parse::COUNT_ALLOWED);
        self.resolve(
            candidates,
            &allowed,
            None,
            show,
            |_, text| match parse::count(text)? {
                value if value > max => Err(Rejection::because(format!(
                    "above the bound {max}, the largest OTLP request"
                ))),
                value => Ok(Some(value)),
            },
        )
        .value
    }

    /// A comma list of keywords (see [`parse::keyword_list`]); each dropped entry is reported.
    pub(crate) fn keyword_list<T: Keyword + std::fmt::Display>(
        &mut self,
        code: Option<Vec<T>>,
        setting: &'static str,
        var: &'static str,
        unsupported: &[&str],
        default: Vec<T>,
    ) -> Vec<T> {
        let candidates = self.chain(code, setting, &[var]);
        let allowed = format!("{}, none", parse::keywords::<T>());
        let mut dropped = Vec::new();
        let show = |items: &Vec<T>| show_list(items);
        let resolution = self.resolve(candidates, &allowed, default, show, |_, text| {
            let list = parse::keyword_list::<T>(text, unsupported)?;
            dropped = list.dropped;
            Ok(list.items)
        });
        if let (Origin::Env(var), Some(text)) = (resolution.origin, self.env.get(var)) {
            let fallback = format!("{} without that entry", show_list(&resolution.value));
            for reason in dropped {
                self.issues.push(ConfigIssue {
                    variable: var.to_owned(),
                    value: text.to_owned(),
                    allowed: allowed.clone(),
                    fallback: fallback.clone(),
                    severity: Severity::Invalid,
                    reason: Some(reason),
                });
            }
        }
        resolution.value
    }
}

/// `a, b` or `none` for an empty list.
pub(crate) fn show_list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
