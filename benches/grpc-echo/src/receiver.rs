//! The OTLP receiver in another process: this binary started again with `--receiver`.
//!
//! The child runs a `ferrotel_testkit::Receiver`, prints its OTLP/gRPC endpoint on stdout and
//! lives until its stdin closes. It forgets what it received once a second, so an export of
//! tens of thousands of spans a second does not pile up in its memory.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ferrotel_testkit::Receiver;

/// Runs the receiver until stdin closes (the `--receiver` mode).
pub(crate) fn serve() -> Result<(), String> {
    let receiver = Receiver::try_start().map_err(|e| format!("cannot start the receiver: {e}"))?;
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", receiver.grpc_endpoint())
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write the endpoint: {e}"))?;
    }
    let (closed_tx, closed) = mpsc::channel::<()>();
    thread::spawn(move || {
        // Returns at end of file: the parent dropped its end of the pipe (or died).
        let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
        let _ = closed_tx.send(());
    });
    let mut requests = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = closed.recv_timeout(Duration::from_secs(1)) {
        requests += receiver.request_count();
        receiver.clear();
    }
    requests += receiver.request_count();
    eprintln!("receiver: {requests} OTLP export requests received");
    receiver.shutdown();
    Ok(())
}

/// The receiver child, seen from the benchmark. Dropping it closes the child's stdin and
/// waits for it to exit.
pub(crate) struct ReceiverProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    endpoint: String,
}

impl ReceiverProcess {
    /// Starts `<this executable> --receiver` and reads the endpoint it prints.
    pub(crate) fn spawn() -> Result<ReceiverProcess, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this executable to start the receiver: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--receiver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the receiver process: {e}"))?;
        let stdin = child.stdin.take();
        let endpoint = match child.stdout.take() {
            Some(stdout) => {
                let mut line = String::new();
                BufReader::new(stdout)
                    .read_line(&mut line)
                    .map_err(|e| format!("cannot read the receiver's endpoint: {e}"))?;
                line.trim().to_string()
            }
            None => String::new(),
        };
        let process = ReceiverProcess {
            child,
            stdin,
            endpoint,
        };
        if !process.endpoint.starts_with("http://") {
            return Err(format!(
                "the receiver process printed {:?} instead of its endpoint",
                process.endpoint
            ));
        }
        Ok(process)
    }

    /// The child's OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The child's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
