//! Stopping on SIGTERM as on Ctrl-C.

use std::fmt;
use std::future::Future;

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
    /// SIGTERM: what Kubernetes, systemd and `docker stop` send (Unix only).
    Terminate,
}

impl StopSignal {
    /// The exit code a shell reports for a process that this signal killed (130 for SIGINT,
    /// 143 for SIGTERM), for a program that wants to say how it stopped.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

/// A future that resolves when the process is asked to stop: on SIGINT (Ctrl-C) or SIGTERM
/// (what Kubernetes sends a pod before its grace period runs out). On other platforms, on
/// Ctrl-C only.
///
/// `select!` on it next to the service's work, then drop (or
/// [`shutdown`](crate::Guard::shutdown)) the guard: everything recorded is flushed, within the
/// guard's shutdown timeout, before the process exits. Keep the grace period of the
/// deployment longer than that timeout.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ferrotel::InitError> {
/// # let env = ferrotel::config::Env::from_pairs([("OTEL_SDK_DISABLED", "true")]);
/// // In a service: `let telemetry = ferrotel::init();`
/// let telemetry = ferrotel::builder().env(env).try_init()?;
/// tokio::select! {
///     () = serve() => {}
///     signal = ferrotel::shutdown_signal() => tracing::info!(%signal, "stopping"),
/// }
/// // Flushes every signal, bounded by the shutdown timeout.
/// drop(telemetry);
/// # Ok(())
/// # }
/// # async fn serve() {}
/// ```
///
/// The handlers are installed when this function is called, not when the future is first
/// polled, so a signal that arrives in between is not lost; from then on neither signal stops
/// the process by itself. It needs no runtime of the caller's: the signals are watched on a
/// thread of their own. Should that thread not start, the future never resolves and the
/// signals keep their default action (a `tracing` warning says so).
pub fn shutdown_signal() -> impl Future<Output = StopSignal> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel();
    if let Err(err) = watch(tx) {
        tracing::warn!(target: "ferrotel", "cannot watch SIGINT and SIGTERM: {err}");
    }
    async move {
        match rx.await {
            Ok(signal) => signal,
            Err(_) => std::future::pending().await,
        }
    }
}

/// Registers the handlers now, on a small runtime of their own, and hands the first signal to
/// `tx` from that runtime's thread.
fn watch(tx: tokio::sync::oneshot::Sender<StopSignal>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    #[cfg(unix)]
    let stop = {
        use tokio::signal::unix::{signal, SignalKind};
        let _entered = runtime.enter();
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        async move {
            tokio::select! {
                _ = terminate.recv() => StopSignal::Terminate,
                _ = interrupt.recv() => StopSignal::Interrupt,
            }
        }
    };
    #[cfg(not(unix))]
    let stop = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => StopSignal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    };
    std::thread::Builder::new()
        .name("ferrotel-signals".into())
        .spawn(move || {
            let _ = tx.send(runtime.block_on(stop));
        })?;
    Ok(())
}
