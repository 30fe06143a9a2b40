//! A slowloris attacker: sockets that each send a request head one byte at a time and never
//! finish it, re-opening as soon as the server closes them, for tests of an HTTP server that
//! must keep answering everyone else.

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a trickling socket waits between two bytes.
const BYTE_EVERY: Duration = Duration::from_millis(20);

/// The running attack; [`Trickle::stop`] ends it.
#[derive(Debug)]
pub struct Trickle {
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Trickle {
    /// `sockets` sockets to `addr`, spread over the loopback `sources` (e.g. `127.0.1.1`…),
    /// each trickling `GET path` with a 1 MiB header, one byte every 20 ms.
    pub fn start(
        addr: SocketAddr,
        path: &str,
        sources: &[Ipv4Addr],
        sockets: usize,
    ) -> io::Result<Trickle> {
        // Binding a source address before connecting is tokio's `TcpSocket`; a worker thread
        // drives its connects while the trickling threads block on them.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let sources: Vec<Ipv4Addr> = if sources.is_empty() {
            vec![Ipv4Addr::LOCALHOST]
        } else {
            sources.to_vec()
        };
        let head = Arc::new(format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nX-Pad: {}",
            "a".repeat(1 << 20)
        ));
        let threads = (0..sockets)
            .map(|n| {
                let (stop, bytes, head) =
                    (Arc::clone(&stop), Arc::clone(&bytes), Arc::clone(&head));
                let source = sources[n % sources.len()];
                let handle = runtime.handle().clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(mut socket) = connect_from(&handle, source, addr) else {
                            continue;
                        };
                        for byte in head.as_bytes() {
                            if stop.load(Ordering::Relaxed)
                                || socket.write_all(std::slice::from_ref(byte)).is_err()
                            {
                                break;
                            }
                            bytes.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(BYTE_EVERY);
                        }
                    }
                })
            })
            .collect();
        Ok(Trickle {
            stop,
            bytes,
            threads,
            runtime: Some(runtime),
        })
    }

    /// Bytes trickled so far: the attack holds its sockets once every socket has sent some.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Stops every socket and waits for their threads.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A blocking socket connected to `addr` from the loopback address `source`.
fn connect_from(
    runtime: &tokio::runtime::Handle,
    source: Ipv4Addr,
    addr: SocketAddr,
) -> io::Result<TcpStream> {
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        socket.connect(addr).await?.into_std()
    })?;
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
