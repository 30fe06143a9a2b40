//! Whether a connection is waiting for a request head, and so may be evicted: idle (no byte
//! of a request read, the last response wholly written) or trickling one in (bytes read, the
//! head not yet complete). A client that sends its head a byte at a time must not hold a slot
//! any more than an idle one, or twenty such sockets deny `/health`. The first byte read makes
//! an idle connection "receiving"; the complete head makes it busy; a response handed to hyper
//! is not yet on the wire, so the connection is idle again only when the socket flush after it
//! succeeds. A scraper reading a large page slowly keeps its slot until the write-stall
//! timeout.
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
    /// A connection not yet serving (accepted, its task not started): busy.
    pub(crate) fn new() -> Idle {
        Idle(Arc::new(State {
            phase: AtomicU8::new(BUSY),
            waiting_since: AtomicU64::new(now()),
        }))
    }

    /// The task waits for the first request head.
    pub(crate) fn waiting(&self) {
        self.0.waiting_since.store(now(), Ordering::Release);
        self.0.phase.store(IDLE, Ordering::Release);
    }

    /// A complete request head arrived.
    pub(crate) fn busy(&self) {
        self.0.phase.store(BUSY, Ordering::Release);
    }

    /// The response went to hyper; idle once the socket flushes it.
    pub(crate) fn responded(&self) {
        self.0.phase.store(RESPONDED, Ordering::Release);
    }

    /// Since when it has been waiting for a request head (idle, or receiving one), or `None`
    /// while it serves a request.
    pub(crate) fn waiting_since(&self) -> Option<u64> {
        matches!(self.0.phase.load(Ordering::Acquire), IDLE | RECEIVING)
            .then(|| self.0.waiting_since.load(Ordering::Acquire))
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
        if self.idle.waiting_since().is_none() {
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
        if this.idle.waiting_since().is_some() {
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
mod tests {
    use super::*;

    #[test]
    fn a_response_is_idle_only_after_its_flush() {
        let idle = Idle::new();
        assert!(idle.waiting_since().is_none(), "accepted, not yet serving");
        idle.waiting();
        assert!(idle.waiting_since().is_some());
        idle.read();
        assert!(
            idle.waiting_since().is_some(),
            "a head arriving is still waited for"
        );
        idle.busy();
        assert!(idle.waiting_since().is_none(), "a request is served");
        idle.flushed();
        assert!(
            idle.waiting_since().is_none(),
            "a flush mid-request does not make it idle"
        );
        idle.responded();
        assert!(
            idle.waiting_since().is_none(),
            "handed to hyper, not yet written"
        );
        idle.flushed();
        assert!(idle.waiting_since().is_some());
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
