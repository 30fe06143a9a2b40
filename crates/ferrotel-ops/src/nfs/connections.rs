//! Connection accounting: a listener wrapper for servers that run their own accept loop, and
//! mount tracking for `nfs3_server`, which accepts its sockets itself.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Connection, NfsInstruments};

/// A `tokio` listener whose accepted streams are counted as NFS connections: accepted,
/// active while the stream lives, closed when it is dropped, or force-closed. With
/// [`TrackedListener::with_max_connections`] it also holds them to a maximum.
#[derive(Debug)]
pub struct TrackedListener {
    inner: TcpListener,
    nfs: NfsInstruments,
    /// One permit per open connection, when there is a maximum.
    slots: Option<Arc<Semaphore>>,
}

impl TrackedListener {
    /// Wraps `listener`, counting through `nfs`.
    pub fn new(listener: TcpListener, nfs: NfsInstruments) -> Self {
        TrackedListener {
            inner: listener,
            nfs,
            slots: None,
        }
    }

    /// Serves at most `max` connections at once: a connection accepted while `max` are open
    /// is closed at once, never handed out nor counted. The maximum is reported
    /// (`nfs.server.connection.max`, `{prefix}_nfs_max_connections`), so alerts can compare
    /// the open connections with it.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.slots = Some(Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))));
        self.nfs
            .observe_max_connections(u64::try_from(max).unwrap_or(u64::MAX));
        self
    }

    /// Accepts the next connection (the next one under the maximum, when there is one).
    pub async fn accept(&self) -> io::Result<(TrackedStream, SocketAddr)> {
        loop {
            let (stream, peer) = self.inner.accept().await?;
            let slot = match &self.slots {
                None => None,
                Some(slots) => match Arc::clone(slots).try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    // At the maximum: closed unserved, as the server would refuse it.
                    Err(_) => continue,
                },
            };
            let connection = self.nfs.connection_opened();
            return Ok((
                TrackedStream {
                    stream,
                    connection,
                    _slot: slot,
                },
                peer,
            ));
        }
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted stream, counted as an active connection until dropped.
#[derive(Debug)]
pub struct TrackedStream {
    stream: TcpStream,
    connection: Connection,
    /// Its place under the listener's maximum, given back when the stream goes.
    _slot: Option<OwnedSemaphorePermit>,
}

impl TrackedStream {
    /// The stream.
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// Closes the connection on the server's initiative (shutdown): counted as force-closed.
    pub fn force_close(self) {
        self.connection.force_close();
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Counts the mounts of an `nfs3_server` listener as connections: `nfs3_server` accepts its
/// sockets itself, and its mount signal is the one session boundary it reports. A MOUNT is
/// counted as accepted, its UMNT as closed; the mounts still open when the listener goes away
/// are counted as force-closed. Must be called inside a tokio runtime.
#[cfg(feature = "nfs3_server")]
pub fn track_mounts<T>(
    listener: &mut nfs3_server::tcp::NFSTcpListener<T>,
    nfs: NfsInstruments,
) -> io::Result<()>
where
    T: nfs3_server::vfs::NfsFileSystem + 'static,
{
    use nfs3_server::tcp::NFSTcp as _;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("track_mounts needs a tokio runtime: {e}")))?;
    let (signal, mut mounts) = tokio::sync::mpsc::channel::<bool>(64);
    listener.set_mount_listener(signal);
    runtime.spawn(async move {
        let mut open: Vec<Connection> = Vec::new();
        while let Some(mounted) = mounts.recv().await {
            if mounted {
                open.push(nfs.connection_opened());
            } else {
                drop(open.pop());
            }
        }
        for connection in open {
            connection.force_close();
        }
    });
    Ok(())
}
