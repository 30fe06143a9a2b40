//! The W3C `tracestate` list, validated by the Trace Context Level 2 grammar.
//!
//! OpenTelemetry's [`TraceState`] is what samplers and the SDK see, but its key check is older
//! and narrower than Level 2: it allows one `@` only, at most 13 characters after it, and a
//! letter or digit right after it, so keys such as `a@b@c`, `foo@0123456789abcdef` or `foo@_x`
//! cannot be stored in it (there is no constructor that skips the check). Its value check is
//! wider (no printable-ASCII or trailing-space rule). [`W3cTraceState`] holds the list exactly as
//! Level 2 defines it; the propagator keeps it in the [`Context`] next to the span, and puts the
//! members [`TraceState`] accepts into the span context. See [`W3cTraceStateExt`] for how the
//! two are reconciled on injection.

use std::fmt;

use opentelemetry::trace::{TraceContextExt, TraceId, TraceState};
use opentelemetry::Context;

use crate::carrier::trim_ows;

/// At most this many list members; a longer tracestate is discarded.
const MAX_MEMBERS: usize = 32;
/// Injection writes at most this many characters of tracestate, truncating whole members.
const MAX_HEADER_LEN: usize = 512;
/// When truncating, members longer than this (`key=value`) are dropped first.
const LARGE_MEMBER_LEN: usize = 128;
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// A W3C Trace Context Level 2 `tracestate` list: at most 32 members, unique keys, in order.
///
/// A key repeated in the incoming header keeps its first member; the later ones are dropped
/// and the rest of the list is inherited, as the W3C test suite
/// (`test_tracestate_duplicated_keys`) expects.
///
/// Keys follow `[a-z0-9][a-z0-9_\-*/@]{0,255}` (so `foo@`, `t*242@v` and `tenant@system` are
/// valid), values are 1 to 256 printable ASCII characters without `,` and `=`, not ending in a
/// space.
///
/// ```
/// use ferrotel_propagation::W3cTraceState;
///
/// let state = W3cTraceState::parse("rojo=00f067aa0ba902b7, ,a@b@c=1").unwrap();
/// assert_eq!(state.get("a@b@c"), Some("1"));
/// assert_eq!(state.header(), "rojo=00f067aa0ba902b7,a@b@c=1");
/// // A repeated key keeps its first member; the others are inherited.
/// assert_eq!(W3cTraceState::parse("rojo=1,congo=2,rojo=3").unwrap().header(), "rojo=1,congo=2");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct W3cTraceState {
    members: Vec<(String, String)>,
}

impl W3cTraceState {
    /// Parses one `tracestate` header value (several headers: join them with `,` first).
    ///
    /// Empty members and optional whitespace around members are skipped, and so is a member
    /// whose key appeared before (the first one is kept). Any invalid member or more than 32
    /// members makes the whole list invalid.
    pub fn parse(header: &str) -> Result<Self, InvalidTraceState> {
        Self::parse_headers([header])
    }

    /// Parses the values of several `tracestate` headers, in order, as if joined with `,`.
    pub(crate) fn parse_headers<'a>(
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidTraceState> {
        let mut members: Vec<(String, String)> = Vec::new();
        for member in headers.into_iter().flat_map(|header| header.split(',')) {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let Some((key, value)) = member.split_once('=') else {
                return Err(InvalidTraceState(Reason::NotKeyValue));
            };
            check_member(key, value)?;
            if members.iter().any(|(existing, _)| existing == key) {
                continue;
            }
            if members.len() == MAX_MEMBERS {
                return Err(InvalidTraceState(Reason::TooManyMembers));
            }
            members.push((key.to_owned(), value.to_owned()));
        }
        Ok(Self { members })
    }

    /// The members of an OpenTelemetry [`TraceState`] that are valid here, in its order
    /// (invalid ones — an empty value, a non-printable character, a trailing space — and
    /// repeated keys are left out, as are members beyond the 32nd).
    pub fn from_trace_state(trace_state: &TraceState) -> Self {
        let mut members: Vec<(String, String)> = Vec::new();
        for (key, value) in trace_state {
            if members.len() == MAX_MEMBERS {
                break;
            }
            if check_member(key, value).is_ok() && !members.iter().any(|(k, _)| k == key) {
                members.push((key.to_owned(), value.to_owned()));
            }
        }
        Self { members }
    }

    /// The members OpenTelemetry's [`TraceState`] can hold, in order; the others are left out.
    pub fn to_trace_state(&self) -> TraceState {
        // `insert` puts a member in front, so inserting from the back keeps the order; it is
        // the only way in that validates one member at a time.
        self.members
            .iter()
            .rev()
            .fold(TraceState::NONE, |state, (key, value)| {
                match state.insert(key.as_str(), value.as_str()) {
                    Ok(inserted) => inserted,
                    Err(_) => state,
                }
            })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// The members as `(key, value)`, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the list has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A copy with `key=value` as the first member, as the specification asks of an updated
    /// or added key; an existing `key` is removed from its old place, and when the list would
    /// exceed 32 members the last one is dropped.
    pub fn insert(&self, key: &str, value: &str) -> Result<Self, InvalidTraceState> {
        check_member(key, value)?;
        let mut members = Vec::with_capacity(self.members.len() + 1);
        members.push((key.to_owned(), value.to_owned()));
        members.extend(self.members.iter().filter(|(k, _)| k != key).cloned());
        members.truncate(MAX_MEMBERS);
        Ok(Self { members })
    }

    /// The `tracestate` header value, in this list's order, at most 512 characters.
    ///
    /// When the full list is longer, whole members are dropped: first those over 128
    /// characters (starting from the end), then from the end, until it fits.
    pub fn header(&self) -> String {
        let mut kept: Vec<&(String, String)> = self.members.iter().collect();
        let member_len = |(k, v): &(String, String)| k.len() + 1 + v.len();
        let mut len = kept.iter().map(|m| member_len(m)).sum::<usize>() + kept.len();
        // `len` counts one comma per member, one more than the header holds.
        while len > MAX_HEADER_LEN + 1 {
            let index = kept
                .iter()
                .rposition(|m| member_len(m) > LARGE_MEMBER_LEN)
                .unwrap_or(kept.len().saturating_sub(1));
            if index >= kept.len() {
                break;
            }
            len -= member_len(kept.remove(index)) + 1;
        }
        let mut header = String::with_capacity(len);
        for (i, (key, value)) in kept.into_iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            header.push_str(key);
            header.push('=');
            header.push_str(value);
        }
        header
    }
}

/// Whether `key` matches `[a-z0-9][a-z0-9_\-*/@]{0,255}`.
pub(crate) fn is_valid_key(key: &str) -> bool {
    let Some((first, rest)) = key.as_bytes().split_first() else {
        return false;
    };
    key.len() <= MAX_KEY_LEN
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && rest
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(b))
}

/// Whether `value` is 1 to 256 characters of `0x20..=0x7E` but `,` and `=`, not ending in a
/// space.
pub(crate) fn is_valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LEN
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

fn check_member(key: &str, value: &str) -> Result<(), InvalidTraceState> {
    if !is_valid_key(key) {
        return Err(InvalidTraceState(Reason::Key(key.to_owned())));
    }
    if !is_valid_value(value) {
        return Err(InvalidTraceState(Reason::Value));
    }
    Ok(())
}

/// Why a `tracestate` list or member was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTraceState(Reason);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Reason {
    TooManyMembers,
    NotKeyValue,
    Key(String),
    Value,
}

impl fmt::Display for InvalidTraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Reason::TooManyMembers => write!(f, "tracestate has more than {MAX_MEMBERS} members"),
            Reason::NotKeyValue => f.write_str("tracestate member is not `key=value`"),
            Reason::Key(key) => write!(
                f,
                "tracestate key {key:?} does not match [a-z0-9][a-z0-9_-*/@]{{0,255}}"
            ),
            Reason::Value => f.write_str(
                "tracestate value is not 1-256 printable ASCII characters without `,` and `=` \
                 and not ending in a space",
            ),
        }
    }
}

impl std::error::Error for InvalidTraceState {}

/// What an extraction stored: the full list, the trace it belongs to, and the [`TraceState`]
/// that was put into the span context (to tell whether it has been changed since).
#[derive(Debug)]
struct ExtractedTraceState {
    trace_id: TraceId,
    mirror: TraceState,
    list: W3cTraceState,
}

/// Stores the result of an extraction in `cx`. An empty list is stored only over an older
/// extraction (so that one is never picked up for the same trace): without one, an empty list
/// reads the same as none, and skipping it saves the context's value map on every request.
pub(crate) fn with_extracted(
    cx: Context,
    trace_id: TraceId,
    list: W3cTraceState,
    mirror: TraceState,
) -> Context {
    if list.is_empty() && cx.get::<ExtractedTraceState>().is_none() {
        return cx;
    }
    cx.with_value(ExtractedTraceState {
        trace_id,
        mirror,
        list,
    })
}

mod private {
    #[allow(unreachable_pub)]
    pub trait Sealed {}
    impl Sealed for opentelemetry::Context {}
}

/// Reads the full W3C tracestate of a [`Context`]'s current span.
///
/// Extraction by [`TraceContextPropagator`](crate::TraceContextPropagator) stores the validated
/// list in the context and the members OpenTelemetry's [`TraceState`] can hold in the span
/// context. This returns (and injection writes):
///
/// * the stored list, unchanged and in its order, while the span's [`TraceState`] is still
///   the one extracted (child spans of the same trace copy it);
/// * otherwise — a sampler or user changed it, for example with [`TraceState::insert`], which
///   moves the key to the front — the span's [`TraceState`] in *its* order (ferrotel keeps the
///   order it is given), followed by the stored members [`TraceState`] could not hold;
/// * for a context without an extraction of this trace, the span's [`TraceState`].
///
/// Members that are invalid under Level 2 are left out in every case.
///
/// ```
/// use std::collections::HashMap;
/// use ferrotel_propagation::{TraceContextPropagator, W3cTraceStateExt};
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use opentelemetry::Context;
///
/// let mut headers = HashMap::new();
/// headers.insert(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
/// );
/// headers.insert("tracestate".to_string(), "a@b@c=1,rojo=2".to_string());
/// let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), &headers);
/// // OpenTelemetry's TraceState cannot hold the key `a@b@c` ...
/// assert_eq!(cx.span().span_context().trace_state().header(), "rojo=2");
/// // ... ferrotel keeps it and propagates it.
/// assert_eq!(cx.w3c_trace_state().header(), "a@b@c=1,rojo=2");
/// ```
pub trait W3cTraceStateExt: private::Sealed {
    /// The tracestate list injection writes for this context (before the 512-character
    /// truncation of [`W3cTraceState::header`]).
    fn w3c_trace_state(&self) -> W3cTraceState;
}

impl W3cTraceStateExt for Context {
    fn w3c_trace_state(&self) -> W3cTraceState {
        let span = self.span();
        let span_context = span.span_context();
        let current = span_context.trace_state();
        let Some(stored) = self
            .get::<ExtractedTraceState>()
            .filter(|stored| stored.trace_id == span_context.trace_id())
        else {
            return W3cTraceState::from_trace_state(current);
        };
        if stored.mirror == *current {
            return stored.list.clone();
        }
        let mut merged = W3cTraceState::from_trace_state(current);
        for (key, value) in &stored.list.members {
            if merged.members.len() == MAX_MEMBERS {
                break;
            }
            let unrepresentable = stored.mirror.get(key).is_none();
            if unrepresentable && merged.get(key).is_none() {
                merged.members.push((key.clone(), value.clone()));
            }
        }
        merged
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for key in [
            "a",
            "0",
            "foo@",
            "t*242@v",
            "tenant@system",
            "a@b@c",
            "foo@0123456789abcdef",
            "foo@_x",
            "a_-*/@",
        ] {
            assert!(is_valid_key(key), "{key}");
        }
        assert!(is_valid_key(&"a".repeat(256)));
        for key in [
            "", "A", "_a", "@a", "*a", "aB", "a b", "a=b", "a.b", "é", "a,b",
        ] {
            assert!(!is_valid_key(key), "{key}");
        }
        assert!(!is_valid_key(&"a".repeat(257)));
    }

    #[test]
    fn values() {
        for value in ["x", " x", "a b", "!~", "a/b:c;d"] {
            assert!(is_valid_value(value), "{value:?}");
        }
        assert!(is_valid_value(&"v".repeat(256)));
        for value in ["", "x ", "a,b", "a=b", "a\tb", "a\u{7f}", "é", "a\nb"] {
            assert!(!is_valid_value(value), "{value:?}");
        }
        assert!(!is_valid_value(&"v".repeat(257)));
    }

    #[test]
    fn to_trace_state_keeps_what_opentelemetry_accepts_in_order() {
        let list = W3cTraceState::parse("a=1,a@b@c=2,b=3,foo@0123456789abcdef=4,c=5").unwrap();
        assert_eq!(list.to_trace_state().header(), "a=1,b=3,c=5");
        let round = W3cTraceState::from_trace_state(&list.to_trace_state());
        assert_eq!(round.header(), "a=1,b=3,c=5");
    }

    #[test]
    fn insert_moves_to_front_and_caps() {
        let list = W3cTraceState::parse("a=1,b=2,c=3").unwrap();
        assert_eq!(list.insert("b", "9").unwrap().header(), "b=9,a=1,c=3");
        assert!(list.insert("B", "9").is_err());
        assert!(list.insert("b", "9 ").is_err());
        let full: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let full = W3cTraceState::parse(&full.join(",")).unwrap();
        let inserted = full.insert("new", "v").unwrap();
        assert_eq!(inserted.len(), 32);
        assert_eq!(inserted.get("k31"), None);
        assert_eq!(inserted.iter().next(), Some(("new", "v")));
    }

    #[test]
    fn errors_display() {
        let err = W3cTraceState::parse("a=1,B=2").unwrap_err();
        assert!(err.to_string().contains("\"B\""), "{err}");
        let err = W3cTraceState::parse("nokv").unwrap_err();
        assert!(err.to_string().contains("key=value"), "{err}");
    }

    #[test]
    fn an_empty_list_is_stored_only_over_an_older_extraction() {
        let trace_id = TraceId::from(7);
        let empty = || W3cTraceState::parse("").unwrap();
        let fresh = with_extracted(Context::new(), trace_id, empty(), TraceState::default());
        assert!(fresh.get::<ExtractedTraceState>().is_none());
        let list = W3cTraceState::parse("a=1").unwrap();
        let mirror = list.to_trace_state();
        let older = with_extracted(Context::new(), trace_id, list, mirror);
        assert!(!older.get::<ExtractedTraceState>().unwrap().list.is_empty());
        let masked = with_extracted(older, trace_id, empty(), TraceState::default());
        assert!(masked.get::<ExtractedTraceState>().unwrap().list.is_empty());
    }
}
