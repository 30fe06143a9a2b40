//! The proposer's trace context, carried inside a Raft log entry.
//!
//! A replica appends and applies an entry long after, and often in another RPC than, the
//! request that proposed it: the only thing every replica is sure to see is the entry itself.
//! So the proposer's span context rides in the entry (as CockroachDB does with its proposals),
//! and each replica's append and apply spans become children of the proposer's span, with the
//! proposer's sampling decision.
//!
//! # Layout (version 1)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version, `0x01` |
//! | 1 | 1 | W3C trace flags: `0x01` sampled, `0x02` random trace id; other bits written as 0, ignored when read |
//! | 2 | 16 | trace id (big-endian bytes, as in `traceparent`) |
//! | 18 | 8 | parent span id: the proposer's span |
//! | 26 | 2 | tracestate length `n`, big-endian u16; 0 = no tracestate |
//! | 28 | n | tracestate, the W3C header form `k=v,k2=v2`, printable ASCII |
//!
//! Without tracestate an encoded context is [`ENCODED_LEN`] = 28 bytes (the bound is 64). The
//! tracestate is at most [`MAX_TRACESTATE_LEN`] = 512 bytes: [`EntryContext::encode`] keeps
//! whole members only, dropping those over 128 characters first and then from the end (W3C
//! Trace Context §3.3.1.5), so an encoding is never more than [`MAX_ENCODED_LEN`] = 540 bytes.
//!
//! # Decoding never refuses an entry
//!
//! [`EntryContext::decode`] reads untrusted bytes (an old log, another program's log, a
//! corrupt disk). It never panics and allocates nothing but the tracestate it returns: at most
//! 512 bytes of text in at most 32 members. A bad input is a [`DecodeError`]: the caller
//! applies the entry as usual and its span starts a fresh trace.

use std::fmt;

use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry::{Context, SpanId, TraceId};

/// The version byte this crate writes.
pub const VERSION: u8 = 1;
/// Bytes of an encoded context without tracestate.
pub const ENCODED_LEN: usize = 28;
/// The longest tracestate kept, in bytes.
pub const MAX_TRACESTATE_LEN: usize = 512;
/// The longest encoded context: [`ENCODED_LEN`] + [`MAX_TRACESTATE_LEN`].
pub const MAX_ENCODED_LEN: usize = ENCODED_LEN + MAX_TRACESTATE_LEN;

/// Tracestate members longer than this are the first dropped when the whole is too long.
const LONG_MEMBER: usize = 128;
/// The flag bits W3C Trace Context Level 2 defines: sampled and random.
const KNOWN_FLAGS: u8 = 0x03;

/// The proposer's span context as a log entry carries it. See the [module docs](self) for
/// the byte layout.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
    trace_state: TraceState,
}

/// Why bytes are not an [`EntryContext`]. The entry is still applied; its spans start a new
/// trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DecodeErrorKind {
    Empty,
    UnknownVersion(u8),
    Truncated { len: usize },
    InvalidIds,
    TraceStateTooLong(usize),
    LengthMismatch { declared: usize, present: usize },
    InvalidTraceState,
}

impl DecodeError {
    fn new(kind: DecodeErrorKind) -> Self {
        DecodeError { kind }
    }

    /// Whether the bytes carry a version this crate does not know (written by a newer
    /// ferrotel, or not a ferrotel context at all).
    pub fn is_unknown_version(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::UnknownVersion(_))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Empty => write!(f, "no entry context"),
            DecodeErrorKind::UnknownVersion(v) => {
                write!(
                    f,
                    "entry context version {v} is unknown (this build reads {VERSION})"
                )
            }
            DecodeErrorKind::Truncated { len } => {
                write!(
                    f,
                    "entry context of {len} bytes is shorter than {ENCODED_LEN}"
                )
            }
            DecodeErrorKind::InvalidIds => {
                write!(f, "entry context has an all-zero trace or span id")
            }
            DecodeErrorKind::TraceStateTooLong(n) => {
                write!(
                    f,
                    "entry context tracestate of {n} bytes exceeds {MAX_TRACESTATE_LEN}"
                )
            }
            DecodeErrorKind::LengthMismatch { declared, present } => write!(
                f,
                "entry context declares {declared} tracestate bytes but {present} follow"
            ),
            DecodeErrorKind::InvalidTraceState => {
                write!(f, "entry context tracestate is not valid")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl EntryContext {
    /// The context of `span_context`, or `None` when it is not valid (no span).
    pub fn from_span_context(span_context: &SpanContext) -> Option<Self> {
        if !span_context.is_valid() {
            return None;
        }
        Some(EntryContext {
            trace_id: span_context.trace_id(),
            span_id: span_context.span_id(),
            flags: span_context.trace_flags().to_u8() & KNOWN_FLAGS,
            trace_state: span_context.trace_state().clone(),
        })
    }

    /// The context of the span active in `cx`, or `None` when there is none.
    pub fn from_context(cx: &Context) -> Option<Self> {
        if !cx.has_active_span() {
            return None;
        }
        EntryContext::from_span_context(cx.span().span_context())
    }

    /// The context of the current span (`Context::current()`), or `None`.
    pub fn current() -> Option<Self> {
        Context::map_current(EntryContext::from_context)
    }

    /// The proposer's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The proposer's span id: the parent of every replica's span for this entry.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Whether the proposer sampled: replicas record exactly when it did.
    pub fn is_sampled(&self) -> bool {
        self.flags & 0x01 != 0
    }

    /// The W3C trace flags (sampled `0x01`, random trace id `0x02`).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The proposer's tracestate.
    pub fn trace_state(&self) -> &TraceState {
        &self.trace_state
    }

    /// The proposer's span as a remote span context, the parent of a replica's span.
    pub fn to_span_context(&self) -> SpanContext {
        SpanContext::new(
            self.trace_id,
            self.span_id,
            TraceFlags::new(self.flags),
            true,
            self.trace_state.clone(),
        )
    }

    /// A context whose active span is the proposer's (remote) span, for starting children.
    pub fn to_context(&self) -> Context {
        Context::new().with_remote_span_context(self.to_span_context())
    }

    /// The encoded form (see the [module docs](self)).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let trace_state = if self.trace_state == TraceState::NONE {
            String::new()
        } else {
            bounded_trace_state(&self.trace_state.header())
        };
        // bounded_trace_state keeps at most 512 bytes, so the length always fits a u16.
        let len = u16::try_from(trace_state.len()).unwrap_or(0);
        let trace_state = if len == 0 { "" } else { trace_state.as_str() };
        out.reserve(ENCODED_LEN + trace_state.len());
        out.push(VERSION);
        out.push(self.flags & KNOWN_FLAGS);
        out.extend_from_slice(&self.trace_id.to_bytes());
        out.extend_from_slice(&self.span_id.to_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(trace_state.as_bytes());
    }

    /// Reads an encoded context. Never panics; allocates only the tracestate (at most 512
    /// bytes in at most 32 members).
    pub fn decode(bytes: &[u8]) -> Result<EntryContext, DecodeError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(DecodeError::new(DecodeErrorKind::Empty));
        };
        if version != VERSION {
            return Err(DecodeError::new(DecodeErrorKind::UnknownVersion(version)));
        }
        let truncated = || DecodeError::new(DecodeErrorKind::Truncated { len: bytes.len() });
        let (&flags, rest) = rest.split_first().ok_or_else(truncated)?;
        let (trace_id, rest) = rest.split_first_chunk::<16>().ok_or_else(truncated)?;
        let (span_id, rest) = rest.split_first_chunk::<8>().ok_or_else(truncated)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(truncated)?;
        let trace_id = TraceId::from_bytes(*trace_id);
        let span_id = SpanId::from_bytes(*span_id);
        if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
            return Err(DecodeError::new(DecodeErrorKind::InvalidIds));
        }
        let declared = usize::from(u16::from_be_bytes(*len));
        if declared > MAX_TRACESTATE_LEN {
            return Err(DecodeError::new(DecodeErrorKind::TraceStateTooLong(
                declared,
            )));
        }
        if declared != rest.len() {
            return Err(DecodeError::new(DecodeErrorKind::LengthMismatch {
                declared,
                present: rest.len(),
            }));
        }
        let trace_state = if rest.is_empty() {
            TraceState::NONE
        } else {
            let text = std::str::from_utf8(rest)
                .map_err(|_| DecodeError::new(DecodeErrorKind::InvalidTraceState))?;
            text.parse::<TraceState>()
                .map_err(|_| DecodeError::new(DecodeErrorKind::InvalidTraceState))?
        };
        Ok(EntryContext {
            trace_id,
            span_id,
            flags: flags & KNOWN_FLAGS,
            trace_state,
        })
    }
}

/// `header` cut to at most [`MAX_TRACESTATE_LEN`] bytes by dropping whole members: first
/// those longer than 128 characters, then from the end.
fn bounded_trace_state(header: &str) -> String {
    if header.len() <= MAX_TRACESTATE_LEN {
        return header.to_owned();
    }
    let mut members: Vec<&str> = header.split(',').filter(|m| !m.is_empty()).collect();
    let total = |members: &[&str]| -> usize {
        members.iter().map(|m| m.len()).sum::<usize>() + members.len().saturating_sub(1)
    };
    while total(&members) > MAX_TRACESTATE_LEN {
        match members.iter().rposition(|m| m.len() > LONG_MEMBER) {
            Some(long) => {
                members.remove(long);
            }
            None => {
                members.pop();
            }
        }
    }
    members.join(",")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn context(trace_state: &str) -> EntryContext {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::new(0x03),
            false,
            trace_state.parse().unwrap(),
        );
        EntryContext::from_span_context(&sc).unwrap()
    }

    #[test]
    fn layout_is_as_documented() {
        let bytes = context("").encode();
        assert_eq!(bytes.len(), ENCODED_LEN);
        assert_eq!(bytes[0], VERSION);
        assert_eq!(bytes[1], 0x03);
        assert_eq!(
            &bytes[2..18],
            &TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736")
                .unwrap()
                .to_bytes()
        );
        assert_eq!(
            &bytes[18..26],
            &SpanId::from_hex("00f067aa0ba902b7").unwrap().to_bytes()
        );
        assert_eq!(&bytes[26..28], &[0, 0]);
        let with_state = context("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").encode();
        assert_eq!(&with_state[26..28], &[0, 39]);
        assert_eq!(
            &with_state[28..],
            b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
        assert_eq!(
            EntryContext::decode(&with_state).unwrap(),
            context("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
    }

    #[test]
    fn long_tracestate_drops_long_members_first_then_from_the_end() {
        let long = format!("long={}", "x".repeat(200));
        let mut members = vec![long.clone()];
        for i in 0..30 {
            members.push(format!("k{i:02}={}", "v".repeat(20)));
        }
        let ctx = context(&members.join(","));
        let bytes = ctx.encode();
        assert!(bytes.len() <= MAX_ENCODED_LEN);
        let back = EntryContext::decode(&bytes).unwrap();
        let header = back.trace_state().header();
        assert!(!header.contains("long="), "the long member goes first");
        assert!(header.starts_with("k00="));
        assert!(header.len() <= MAX_TRACESTATE_LEN);
    }

    #[test]
    fn errors_for_foreign_bytes() {
        assert!(EntryContext::decode(&[]).is_err());
        assert!(EntryContext::decode(&[2; 28])
            .unwrap_err()
            .is_unknown_version());
        assert!(EntryContext::decode(&[1; 10]).is_err());
        let mut zero = context("").encode();
        zero[2..18].fill(0);
        assert!(EntryContext::decode(&zero).is_err());
        let mut trailing = context("").encode();
        trailing.push(0);
        assert!(EntryContext::decode(&trailing).is_err());
    }
}
