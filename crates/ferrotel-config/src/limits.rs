//! Span limits, from the `OTEL_*_LIMIT` variables.
//!
//! The span, event and link attribute limits fall back to the general
//! `OTEL_ATTRIBUTE_*_LIMIT` variables before their defaults; the event and link *count* limits
//! have no general variable.

use crate::env::Env;
use crate::precedence::{Candidate, Resolver};
use crate::vars::{
    OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT,
};

/// The default of every count limit.
pub const DEFAULT_COUNT_LIMIT: usize = 128;

/// Limits on what a span may carry. `None` length limits mean no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Any attribute value's length ([`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`], default none).
    pub attribute_value_length: Option<usize>,
    /// Attributes on any record ([`OTEL_ATTRIBUTE_COUNT_LIMIT`], default 128).
    pub attribute_count: usize,
    /// A span attribute value's length ([`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`], default
    /// `attribute_value_length`).
    pub span_attribute_value_length: Option<usize>,
    /// Attributes on a span ([`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`], default `attribute_count`).
    pub span_attribute_count: usize,
    /// Events on a span ([`OTEL_SPAN_EVENT_COUNT_LIMIT`], default 128).
    pub span_event_count: usize,
    /// Links on a span ([`OTEL_SPAN_LINK_COUNT_LIMIT`], default 128).
    pub span_link_count: usize,
    /// Attributes on an event ([`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`], default `attribute_count`).
    pub event_attribute_count: usize,
    /// Attributes on a link ([`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`], default `attribute_count`).
    pub link_attribute_count: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        Self {
            attribute_value_length: None,
            attribute_count: DEFAULT_COUNT_LIMIT,
            span_attribute_value_length: None,
            span_attribute_count: DEFAULT_COUNT_LIMIT,
            span_event_count: DEFAULT_COUNT_LIMIT,
            span_link_count: DEFAULT_COUNT_LIMIT,
            event_attribute_count: DEFAULT_COUNT_LIMIT,
            link_attribute_count: DEFAULT_COUNT_LIMIT,
        }
    }
}

/// Limits set in code; each beats its own variable and, for the general limits, the variables
/// that fall back to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitOverrides {
    pub(crate) attribute_value_length: Option<Option<usize>>,
    pub(crate) attribute_count: Option<usize>,
    pub(crate) span_attribute_value_length: Option<Option<usize>>,
    pub(crate) span_attribute_count: Option<usize>,
    pub(crate) span_event_count: Option<usize>,
    pub(crate) span_link_count: Option<usize>,
    pub(crate) event_attribute_count: Option<usize>,
    pub(crate) link_attribute_count: Option<usize>,
}

/// A specific limit's own two layers: code setting, then variable.
fn specific<'e, T>(
    env: &'e Env,
    setting: &'static str,
    value: Option<T>,
    var: &'static str,
) -> [Candidate<'e, T>; 2] {
    [Candidate::code(setting, value), Candidate::env(env, var)]
}

/// Resolves the limits. A specific limit's chain is: its code setting > its variable > the
/// general code setting > the general variable > default, so a specific variable keeps its
/// meaning even when code sets the general limit.
pub(crate) fn resolve(resolver: &mut Resolver<'_>, code: &LimitOverrides) -> SpanLimits {
    let env = resolver.env();
    let general_length = || {
        [
            Candidate::code("attribute_value_length_limit", code.attribute_value_length),
            Candidate::env(env, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT),
        ]
    };
    let general_count = || {
        [
            Candidate::code("attribute_count_limit", code.attribute_count),
            Candidate::env(env, OTEL_ATTRIBUTE_COUNT_LIMIT),
        ]
    };

    let attribute_value_length = resolver.length_limit(general_length().into());
    let attribute_count = resolver
        .count(general_count().into(), DEFAULT_COUNT_LIMIT, false)
        .value;
    let span_attribute_value_length = resolver.length_limit(
        specific(
            env,
            "span_attribute_value_length_limit",
            code.span_attribute_value_length,
            OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        )
        .into_iter()
        .chain(general_length())
        .collect(),
    );
    let mut with_general_count = |setting, value, var| {
        let candidates = specific(env, setting, value, var)
            .into_iter()
            .chain(general_count())
            .collect();
        resolver.count(candidates, DEFAULT_COUNT_LIMIT, false).value
    };
    let span_attribute_count = with_general_count(
        "span_attribute_count_limit",
        code.span_attribute_count,
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    );
    let event_attribute_count = with_general_count(
        "event_attribute_count_limit",
        code.event_attribute_count,
        OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    );
    let link_attribute_count = with_general_count(
        "link_attribute_count_limit",
        code.link_attribute_count,
        OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    );
    let span_event_count = resolver
        .count(
            specific(
                env,
                "span_event_count_limit",
                code.span_event_count,
                OTEL_SPAN_EVENT_COUNT_LIMIT,
            )
            .into(),
            DEFAULT_COUNT_LIMIT,
            false,
        )
        .value;
    let span_link_count = resolver
        .count(
            specific(
                env,
                "span_link_count_limit",
                code.span_link_count,
                OTEL_SPAN_LINK_COUNT_LIMIT,
            )
            .into(),
            DEFAULT_COUNT_LIMIT,
            false,
        )
        .value;
    SpanLimits {
        attribute_value_length,
        attribute_count,
        span_attribute_value_length,
        span_attribute_count,
        span_event_count,
        span_link_count,
        event_attribute_count,
        link_attribute_count,
    }
}
