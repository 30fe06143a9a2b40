//! The HTTP server: binding, the accept loop with its connection limit, per-connection
//! timeouts, and shutdown.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::rate_limit::TokenBucket;
use crate::routes::{handle, Shared};
use crate::write_timeout::WriteTimeout;
use crate::MetricsSource;

/// How long a client may take to send a request head, counted from when the server starts
/// waiting for it — on a fresh connection and between keep-alive requests alike.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response write may make no progress before the connection is dropped.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection may live; then it finishes its current response and closes
/// (scrapers reconnect), which bounds even a client that reads a byte at a time.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(120);
/// How long a closing connection may take to finish its response before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// How long [`MetricsEndpoint::shutdown`] waits, outside a runtime, for the listener to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// Where and how the endpoint serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The address to bind; default `127.0.0.1:9464` (loopback only: exposing the page is a
    /// deliberate choice).
    pub addr: SocketAddr,
    /// Scrapes of `/metrics` admitted per second, also the burst size (token bucket); more get
    /// `429 Too Many Requests` with `Retry-After: 1`. `/health` is not limited. `0` turns the
    /// limit off. Default 10.
    pub max_requests_per_second: u32,
    /// Connections served at once; further connections are closed as soon as they are
    /// accepted (so `0` serves nothing). Default 16.
    pub max_connections: usize,
    /// How long a scrape waits for the source (and for a previous collection still running)
    /// before answering `503 Service Unavailable`. Default 5 s.
    pub collect_timeout: Duration,
}

impl Default for EndpointConfig {
    fn default() -> EndpointConfig {
        EndpointConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 9464)),
            max_requests_per_second: 10,
            max_connections: 16,
            collect_timeout: Duration::from_secs(5),
        }
    }
}

/// A running `/metrics` endpoint. Dropping it (or [`MetricsEndpoint::shutdown`]) stops the
/// server: the listener closes and open connections finish their current response.
#[derive(Debug)]
pub struct MetricsEndpoint {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    closed: mpsc::Receiver<()>,
}

impl MetricsEndpoint {
    /// Binds `config.addr` now (so a taken port or a bad address is returned here, as an
    /// error), then serves on `runtime`. Collections run on the runtime's blocking pool.
    pub fn start(
        config: EndpointConfig,
        source: MetricsSource,
        runtime: &tokio::runtime::Handle,
    ) -> io::Result<MetricsEndpoint> {
        let listener = std::net::TcpListener::bind(config.addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared {
            source,
            limiter: TokenBucket::new(config.max_requests_per_second),
            collect_timeout: config.collect_timeout,
            collecting: Arc::new(Semaphore::new(1)),
        });
        let connections = Arc::new(Semaphore::new(config.max_connections));
        let (stop, stop_rx) = watch::channel(false);
        let (closed_tx, closed) = mpsc::channel();
        runtime.spawn(async move {
            accept_loop(listener, shared, connections, stop_rx).await;
            let _ = closed_tx.send(());
        });
        Ok(MetricsEndpoint {
            local_addr,
            stop,
            closed,
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server. Called outside a tokio runtime it also waits (briefly, bounded) until
    /// the listener is closed, so the port is free when it returns; inside a runtime it only
    /// signals, since blocking there could stall the very runtime that has to do the work.
    pub fn shutdown(self) {
        let _ = self.stop.send(true);
        if tokio::runtime::Handle::try_current().is_err() {
            let _ = self.closed.recv_timeout(SHUTDOWN_WAIT);
        }
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the handle is gone, which also means stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    connections: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => match connections.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tokio::spawn(serve_connection(stream, shared.clone(), stop.clone(), permit));
                    }
                    // Over the limit: close at once rather than queue without bound.
                    Err(_) => drop(stream),
                },
                Err(_) => tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await,
            },
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteTimeout::new(stream, WRITE_STALL_TIMEOUT));
    let service = service_fn(move |request| handle(shared.clone(), request));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut connection = pin!(builder.serve_connection(io, service));
    tokio::select! {
        _ = connection.as_mut() => return,
        () = stopped(&mut stop) => {}
        () = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
}
