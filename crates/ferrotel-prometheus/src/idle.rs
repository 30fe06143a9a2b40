//! Whether a connection is idle, and so may be evicted: no byte of a request read, the last
//! response wholly written. The first byte read makes it busy (before hyper has a whole head);
//! a response handed to hyper is not yet on the wire, so the connection turns idle only when
//! the socket flush after it succeeds. A scraper reading a large page slowly keeps its slot
//! until the write-stall timeout.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const BUSY: u8 = 0;
const RESPONDED: u8 = 1;
const IDLE: u8 = 2;

/// A connection's state, shared by its task, its socket and the accept loop.
#[derive(Clone, Debug)]
pub(crate) struct Idle(Arc<AtomicU8>);

impl Idle {
    /// A connection not yet serving (accepted, its task not started): busy.
    pub(crate) fn new() -> Idle {
        Idle(Arc::new(AtomicU8::new(BUSY)))
    }

    /// The task waits for the first request head.
    pub(crate) fn waiting(&self) {
        self.0.store(IDLE, Ordering::Release);
    }

    /// A request head arrived.
    pub(crate) fn busy(&self) {
        self.0.store(BUSY, Ordering::Release);
    }

    /// The response went to hyper; idle once the socket flushes it.
    pub(crate) fn responded(&self) {
        self.0.store(RESPONDED, Ordering::Release);
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == IDLE
    }

    fn read(&self) {
        let _ = self
            .0
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire);
    }

    fn flushed(&self) {
        let _ = self
            .0
            .compare_exchange(RESPONDED, IDLE, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// `T` that marks its connection busy when request bytes arrive, and idle when the flush
/// after a response completes.
pub(crate) struct TrackIdle<T> {
    inner: T,
    idle: Idle,
}

impl<T> TrackIdle<T> {
    pub(crate) fn new(inner: T, idle: Idle) -> TrackIdle<T> {
        TrackIdle { inner, idle }
    }
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
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = poll {
            self.idle.flushed();
        }
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_idle_only_after_its_flush() {
        let idle = Idle::new();
        assert!(!idle.is_idle(), "accepted, not yet serving");
        idle.waiting();
        assert!(idle.is_idle());
        idle.read();
        assert!(!idle.is_idle(), "request bytes arrived");
        idle.busy();
        idle.flushed();
        assert!(!idle.is_idle(), "a flush mid-request does not make it idle");
        idle.responded();
        assert!(!idle.is_idle(), "handed to hyper, not yet written");
        idle.flushed();
        assert!(idle.is_idle());
    }
}
