//! Starting a receiver: TLS setup, binding the listeners, and the background thread that runs
//! both servers on its own runtime.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

use crate::certs::ServerIdentity;
use crate::fault::{ActiveFault, Fault};
use crate::record::Signal;
use crate::store::Store;
use crate::{grpc, http, tls, Receiver};

/// Configures a [`Receiver`]: TLS, client-certificate checks, an initial fault.
#[derive(Debug, Clone, Default)]
pub struct ReceiverBuilder {
    identity: Option<ServerIdentity>,
    client_ca_pem: Option<String>,
    fault: Option<Fault>,
    span_limit: Option<usize>,
    serve_only: Option<Vec<Signal>>,
}

impl ReceiverBuilder {
    /// Serves both endpoints over TLS with this identity; `.tls(&certs)` takes a
    /// [`TestCerts`](crate::TestCerts)' server certificate.
    pub fn tls(mut self, identity: impl Into<ServerIdentity>) -> Self {
        self.identity = Some(identity.into());
        self
    }

    /// Requires clients to present a certificate signed by this CA (mTLS); needs
    /// [`ReceiverBuilder::tls`].
    pub fn require_client_cert(mut self, ca_pem: impl Into<String>) -> Self {
        self.client_ca_pem = Some(ca_pem.into());
        self
    }

    /// Serves only these signals and answers the others as a server that lacks them: gRPC
    /// `UNIMPLEMENTED` and HTTP 404, as a bare Jaeger answers metrics and logs.
    pub fn serve_only(mut self, signals: &[Signal]) -> Self {
        self.serve_only = Some(signals.to_vec());
        self
    }

    /// Starts with this fault active (see [`Receiver::set_fault`]).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// Keeps at most `limit` spans (the first to arrive); later ones are counted in
    /// [`Receiver::spans_dropped`] and answered as accepted, so a long run's memory stays
    /// bounded (about 1 KiB per span kept).
    pub fn span_limit(mut self, limit: usize) -> Self {
        self.span_limit = Some(limit);
        self
    }

    /// Binds both listeners on 127.0.0.1, starts the servers on a background thread and
    /// returns once they are ready to accept connections.
    pub fn start(self) -> io::Result<Receiver> {
        let tls = match &self.identity {
            Some(identity) => Some(tls::setup(identity, self.client_ca_pem.as_deref())?),
            None if self.client_ca_pem.is_some() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "ferrotel-testkit: require_client_cert needs tls(..) as well",
                ));
            }
            None => None,
        };
        let (grpc_tls, http_tls) = match tls {
            Some(setup) => (Some(setup.grpc), Some(setup.http)),
            None => (None, None),
        };
        let server = grpc::server(grpc_tls).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ferrotel-testkit: gRPC TLS: {e}"),
            )
        })?;

        let grpc_listener = bind_loopback()?;
        let http_listener = bind_loopback()?;
        let grpc_addr = grpc_listener.local_addr()?;
        let http_addr = http_listener.local_addr()?;

        let store = Arc::new(Store::default());
        store.update(|state| {
            state.fault = self.fault.map(ActiveFault::new);
            state.span_limit = self.span_limit;
            if let Some(served) = &self.serve_only {
                state.unserved = [Signal::Traces, Signal::Metrics, Signal::Logs]
                    .into_iter()
                    .filter(|s| !served.contains(s))
                    .collect();
            }
        });

        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let servers = Servers {
            grpc_listener,
            http_listener,
            grpc: server,
            http_tls,
            store: store.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("ferrotel-testkit-receiver".to_owned())
            .spawn(move || servers.run(ready_tx, stop_rx))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                let _ = thread.join();
                return Err(err);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(io::Error::other(
                    "ferrotel-testkit: receiver thread exited during startup",
                ));
            }
        }
        Ok(Receiver::running(
            store,
            (grpc_addr, http_addr),
            self.identity.is_some(),
            (stop_tx, thread),
        ))
    }
}

fn bind_loopback() -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Everything the background thread needs to run both servers.
struct Servers {
    grpc_listener: std::net::TcpListener,
    http_listener: std::net::TcpListener,
    grpc: tonic::transport::Server,
    http_tls: Option<TlsAcceptor>,
    store: Arc<Store>,
}

impl Servers {
    /// Runs both servers on a 2-worker runtime until `stop` fires (or its sender is dropped).
    fn run(self, ready: std::sync::mpsc::Sender<io::Result<()>>, stop: oneshot::Receiver<()>) {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferrotel-testkit-rt")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let listeners = {
            let _entered = runtime.enter();
            TcpListener::from_std(self.grpc_listener)
                .and_then(|grpc| Ok((grpc, TcpListener::from_std(self.http_listener)?)))
        };
        let (grpc_listener, http_listener) = match listeners {
            Ok(listeners) => listeners,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let store = self.store.clone();
        let grpc = self.grpc;
        runtime.spawn(async move {
            if let Err(err) = grpc::serve(grpc, grpc_listener, store).await {
                eprintln!("ferrotel-testkit: gRPC server stopped: {err}");
            }
        });
        runtime.spawn(http::serve(http_listener, self.http_tls, self.store));
        let _ = ready.send(Ok(()));
        runtime.block_on(async {
            let _ = stop.await;
        });
        // Dropping the tasks closes the listeners and every open connection.
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
