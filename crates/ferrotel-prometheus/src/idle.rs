//! Whether a connection is waiting for a request head, and so may be evicted: idle (no byte
//! of a request read, the last response wholly written) or trickling one in (bytes read, the
//! head not yet complete). A client that sends its head a byte at a time must not hold a slot
//! any more than an idle one, or twenty such sockets deny `/health`. The first byte read makes
//! an idle connection "receiving"; the complete head makes it busy; a response handed to hyper
//! is not yet on the wire, so the connection is idle again only when the socket flush after it
//! succeeds. A scraper reading a large page slowly keeps its slot until the write-stall
//! timeout.
//!
//! A connection whose whole request head was already in the socket when it was accepted
//! ([`Idle::accepted`]) is not evictable until that request is answered: a scraper sends its
//! head at once, a slowloris client never completes one. Among the evictable, one trickling a
//! head goes before one that has sent nothing, so a client just accepted (whose head the
//! server has not read yet) outlives the tricklers.
//!
//! Answers hyper writes itself (400 for a malformed head, 431 for an oversized one) are
//! written while no request is being served; [`TrackIdle`] adds the security headers to them.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::routes::SECURITY_HEADERS;

const BUSY: u8 = 0;
const RESPONDED: u8 = 1;
const IDLE: u8 = 2;
const RECEIVING: u8 = 3;
/// Accepted with a complete request head already waiting in the socket.
const ARRIVED: u8 = 4;

/// A connection's state, shared by its task, its socket and the accept loop.
#[derive(Clone, Debug)]
pub(crate) struct Idle(Arc<State>);

#[derive(Debug)]
struct State {
    phase: AtomicU8,
    /// When it began waiting for the current request head (see [`now`]).
    waiting_since: AtomicU64,
}

/// Milliseconds since the first call, for ordering connections by how long they have waited.
fn now() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Idle {
    /// A connection just accepted: waiting for its first request head, or, when the whole
    /// head had arrived already, holding its slot until that request is answered.
    pub(crate) fn accepted(head_arrived: bool) -> Idle {
        Idle(Arc::new(State {
            phase: AtomicU8::new(if head_arrived { ARRIVED } else { IDLE }),
            waiting_since: AtomicU64::new(now()),
        }))
    }

    /// A complete request head arrived.
    pub(crate) fn busy(&self) {
        self.0.phase.store(BUSY, Ordering::Release);
    }

    /// The response went to hyper; idle once the socket flushes it.
    pub(crate) fn responded(&self) {
        self.0.phase.store(RESPONDED, Ordering::Release);
    }

    /// The order in which evictable connections go, lowest first: one trickling a head
    /// before one that has sent nothing, each the longest waiting first; `None` while it
    /// serves a request or holds a complete head.
    pub(crate) fn eviction_order(&self) -> Option<(u8, u64)> {
        let rank = match self.0.phase.load(Ordering::Acquire) {
            RECEIVING => 0,
            IDLE => 1,
            _ => return None,
        };
        Some((rank, self.0.waiting_since.load(Ordering::Acquire)))
    }

    /// Whether no request is being served: hyper's own answers are written only then.
    fn between_requests(&self) -> bool {
        matches!(
            self.0.phase.load(Ordering::Acquire),
            IDLE | RECEIVING | ARRIVED
        )
    }

    fn read(&self) {
        let _ = self
            .0
            .phase
            .compare_exchange(IDLE, RECEIVING, Ordering::AcqRel, Ordering::Acquire);
    }

    fn flushed(&self) {
        if self
            .0
            .phase
            .compare_exchange(RESPONDED, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.0.waiting_since.store(now(), Ordering::Release);
        }
    }
}

/// `T` that tracks its connection's [`Idle`] state from the bytes that pass, and adds the
/// security headers to the answers hyper writes on its own.
pub(crate) struct TrackIdle<T> {
    inner: T,
    idle: Idle,
    /// Bytes of a rewritten answer still owed to the socket.
    pending: Vec<u8>,
}

impl<T> TrackIdle<T> {
    pub(crate) fn new(inner: T, idle: Idle) -> TrackIdle<T> {
        TrackIdle {
            inner,
            idle,
            pending: Vec::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> TrackIdle<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending)) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `bytes` into `pending` with the security headers added, when they are an answer
    /// hyper writes while no request is being served; whether it did.
    fn rewrite(&mut self, bytes: &[u8]) -> bool {
        if !self.idle.between_requests() {
            return false;
        }
        match with_security_headers(bytes) {
            Some(rewritten) => {
                self.pending = rewritten;
                true
            }
            None => false,
        }
    }
}

/// `head` with the security headers after its status line, when it starts an HTTP/1 answer.
fn with_security_headers(head: &[u8]) -> Option<Vec<u8>> {
    if !head.starts_with(b"HTTP/1.") {
        return None;
    }
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let mut out = Vec::with_capacity(head.len() + 96);
    out.extend_from_slice(&head[..line_end]);
    for (name, value) in SECURITY_HEADERS {
        out.extend_from_slice(format!("\r\n{name}: {value}").as_bytes());
    }
    out.extend_from_slice(&head[line_end..]);
    Some(out)
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackIdle<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.idle.read();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackIdle<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        if this.rewrite(buf) {
            // Taken whole; `poll_flush` (which hyper calls next) writes what is left.
            let _ = this.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        if this.idle.between_requests() {
            let flat: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if this.rewrite(&flat) {
                let _ = this.drain(cx)?;
                return Poll::Ready(Ok(flat.len()));
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = poll {
            this.idle.flushed();
        }
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a test reports failure by panicking
mod tests {
    use super::*;

    #[test]
    fn a_response_is_idle_only_after_its_flush() {
        let idle = Idle::accepted(false);
        let (rank, _) = idle.eviction_order().expect("accepted, waiting for a head");
        idle.read();
        let (trickling, _) = idle
            .eviction_order()
            .expect("a head arriving is still waited for");
        assert!(
            trickling < rank,
            "a trickling head goes before an idle connection"
        );
        idle.busy();
        assert!(idle.eviction_order().is_none(), "a request is served");
        idle.flushed();
        assert!(
            idle.eviction_order().is_none(),
            "a flush mid-request does not make it idle"
        );
        idle.responded();
        assert!(
            idle.eviction_order().is_none(),
            "handed to hyper, not yet written"
        );
        idle.flushed();
        assert!(idle.eviction_order().is_some());
    }

    #[test]
    fn a_connection_accepted_with_its_whole_head_is_kept_until_answered() {
        let idle = Idle::accepted(true);
        assert!(idle.eviction_order().is_none());
        assert!(
            idle.between_requests(),
            "hyper's own answers still get the headers"
        );
        idle.read();
        assert!(idle.eviction_order().is_none());
        idle.busy();
        idle.responded();
        idle.flushed();
        assert!(
            idle.eviction_order().is_some(),
            "idle on keep-alive afterwards"
        );
    }

    #[test]
    fn hypers_own_answers_get_the_security_headers() {
        let rewritten =
            with_security_headers(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        let text = String::from_utf8(rewritten.unwrap_or_default()).unwrap_or_default();
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\nx-content-type-options: nosniff\r\n"),
            "{text}"
        );
        assert!(text.ends_with("content-length: 0\r\n\r\n"), "{text}");
        assert_eq!(with_security_headers(b"body bytes"), None);
    }
}
