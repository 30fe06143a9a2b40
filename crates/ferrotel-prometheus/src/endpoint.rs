//! The HTTP server: binding, the accept loop with its connection limit, per-connection
//! timeouts, and shutdown.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::idle::{Idle, TrackIdle};
use crate::rate_limit::TokenBucket;
use crate::routes::{handle, Shared};
use crate::write_timeout::WriteTimeout;
use crate::MetricsSource;

/// How long a client may take to send a request head, counted from when the server starts
/// waiting for it — on a fresh connection and between keep-alive requests alike. Short, so
/// idle sockets cannot hold slots for long (a scraper sends its head at once); within it, a
/// connection still waiting for its head gives its slot up to a new one when none is free.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How much of a new connection's first bytes is looked at for a whole request head.
const HEAD_PEEK: usize = 2048;
/// How long a new connection waits for the slot of an idle connection it evicted.
const EVICTION_WAIT: Duration = Duration::from_millis(500);
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
    /// Scrapes of `/metrics` admitted per second on average (a token bucket refilled at this
    /// rate); more get `429 Too Many Requests` with `Retry-After: 1`. `/health` and `/` are
    /// not limited. `0` turns the limit off. Default 10.
    pub max_requests_per_second: u32,
    /// Scrapes of `/metrics` admitted back to back before the rate applies (the bucket's
    /// size), at least 1. Default 20.
    pub burst: u32,
    /// Connections served at once. When all are taken, a new connection evicts the one that
    /// has waited longest for a request head (idle, or receiving one a byte at a time), so
    /// idle and trickling sockets cannot deny `/metrics` and `/health`; when every connection
    /// is serving a request it is closed as soon as it is accepted (so `0` serves nothing).
    /// Default 16.
    pub max_connections: usize,
    /// Connections one peer (IP address) may hold at once, so that one client cannot take
    /// every slot. A new connection past it evicts that peer's own connection that has waited
    /// longest for a request head, or is closed as soon as it is accepted when all of them
    /// are serving. `0` turns the bound off. Default 4.
    pub max_connections_per_peer: usize,
    /// How long a scrape waits for the source (and for a previous collection still running)
    /// before answering `503 Service Unavailable`. Default 5 s.
    pub collect_timeout: Duration,
}

impl Default for EndpointConfig {
    fn default() -> EndpointConfig {
        EndpointConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 9464)),
            max_requests_per_second: 10,
            burst: 20,
            max_connections: 16,
            max_connections_per_peer: 4,
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
            limiter: TokenBucket::new(config.max_requests_per_second, config.burst),
            collect_timeout: config.collect_timeout,
            collecting: Arc::new(Semaphore::new(1)),
        });
        let connections = Connections {
            slots: Arc::new(Semaphore::new(config.max_connections)),
            per_peer: config.max_connections_per_peer,
            open: OpenConnections::default(),
        };
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

/// The connection limits and the open connections they are applied to.
struct Connections {
    /// One permit per connection served (`max_connections`).
    slots: Arc<Semaphore>,
    /// `max_connections_per_peer` (`0`: no bound).
    per_peer: usize,
    open: OpenConnections,
}

impl Connections {
    /// A slot for a connection from `peer`, or `None` when it must be closed at once: its
    /// peer holds its share and all of that peer's connections are serving, or every slot
    /// is. A connection waiting for a request head gives its slot up: the peer's own when the
    /// peer is at its bound, otherwise the one that has waited longest.
    async fn admit(&self, peer: IpAddr) -> Option<OwnedSemaphorePermit> {
        let mut evicted = false;
        if self.per_peer > 0 && self.open.count(peer) >= self.per_peer {
            if !self.open.evict_longest_waiting(Some(peer)) {
                return None;
            }
            evicted = true;
        }
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if evicted || self.open.evict_longest_waiting(None) => {
                tokio::time::timeout(EVICTION_WAIT, self.slots.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        }
    }
}

/// The open connections, oldest first, each with its peer, whether (and since when) it waits
/// for a request head, and how to evict it.
#[derive(Clone, Default)]
struct OpenConnections(Arc<std::sync::Mutex<Vec<Tracked>>>);

struct Tracked {
    id: u64,
    peer: IpAddr,
    idle: Idle,
    evict: Arc<tokio::sync::Notify>,
}

/// One registered connection; unregisters it when dropped.
struct Registered {
    open: OpenConnections,
    id: u64,
    idle: Idle,
    evict: Arc<tokio::sync::Notify>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.remove(self.id);
    }
}

impl OpenConnections {
    /// Registers a connection at accept time, so the next accept already counts it.
    fn register(&self, id: u64, peer: IpAddr, head_arrived: bool) -> Registered {
        let idle = Idle::accepted(head_arrived);
        let evict = Arc::new(tokio::sync::Notify::new());
        if let Ok(mut list) = self.0.lock() {
            list.push(Tracked {
                id,
                peer,
                idle: idle.clone(),
                evict: evict.clone(),
            });
        }
        Registered {
            open: self.clone(),
            id,
            idle,
            evict,
        }
    }

    fn remove(&self, id: u64) {
        if let Ok(mut list) = self.0.lock() {
            list.retain(|t| t.id != id);
        }
    }

    /// Connections open from `peer`.
    fn count(&self, peer: IpAddr) -> usize {
        self.0
            .lock()
            .map_or(0, |list| list.iter().filter(|t| t.peer == peer).count())
    }

    /// Evicts the connection (of `peer` only, when given) first in [`Idle::eviction_order`]:
    /// the one trickling a head the longest, else the one idle the longest; whether there was
    /// one. The longest wait, not the oldest connection: a connection just accepted waits for
    /// its head too, and must not be the one to go.
    fn evict_longest_waiting(&self, peer: Option<IpAddr>) -> bool {
        let Ok(mut list) = self.0.lock() else {
            return false;
        };
        let Some((at, _)) = list
            .iter()
            .enumerate()
            .filter(|(_, t)| peer.is_none_or(|p| p == t.peer))
            .filter_map(|(at, t)| Some((at, t.idle.eviction_order()?)))
            .min_by_key(|(_, order)| *order)
        else {
            return false;
        };
        let tracked = list.remove(at);
        tracked.evict.notify_one();
        true
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    connections: Connections,
    mut stop: watch::Receiver<bool>,
) {
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some((stream, head_arrived)) = head_arrived(stream) else {
                        continue;
                    };
                    match connections.admit(peer.ip()).await {
                    Some(permit) => {
                        next_id += 1;
                        let registered =
                            connections.open.register(next_id, peer.ip(), head_arrived);
                        tokio::spawn(serve_connection(
                            stream,
                            shared.clone(),
                            stop.clone(),
                            permit,
                            registered,
                        ));
                    }
                    // Over a limit with nothing idle to give way: close at once rather than
                    // queue without bound.
                    None => drop(stream),
                }
                }
                Err(_) => tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await,
            },
        }
    }
}

/// Whether a whole request head already waits in the socket of a connection just accepted
/// (its first [`HEAD_PEEK`] bytes end one), read without taking it. `None` when the socket
/// failed: the connection is closed.
fn head_arrived(stream: TcpStream) -> Option<(TcpStream, bool)> {
    let socket = stream.into_std().ok()?;
    let mut buf = [0u8; HEAD_PEEK];
    // Non-blocking: an empty socket answers `WouldBlock`, which is "not yet".
    let arrived = socket.peek(&mut buf).is_ok_and(|n| {
        buf.get(..n)
            .is_some_and(|head| head.windows(4).any(|w| w == b"\r\n\r\n"))
    });
    Some((TcpStream::from_std(socket).ok()?, arrived))
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    registered: Registered,
) {
    let idle = registered.idle.clone();
    let evict = registered.evict.clone();
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(TrackIdle::new(
        WriteTimeout::new(stream, WRITE_STALL_TIMEOUT),
        idle.clone(),
    ));
    let service = service_fn(move |request| {
        let shared = shared.clone();
        let idle = idle.clone();
        async move {
            // Busy from the request head until the response is written; idle again while
            // keep-alive waits.
            idle.busy();
            let response = handle(shared, request).await;
            idle.responded();
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut connection = pin!(builder.serve_connection(io, service));
    tokio::select! {
        _ = connection.as_mut() => return,
        // Evicted while waiting for a head: nothing is in flight, close now.
        () = evict.notified() => return,
        () = stopped(&mut stop) => {}
        () = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
}
