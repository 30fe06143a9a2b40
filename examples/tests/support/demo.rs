//! The storage-cluster binary under test: run to completion, or kept serving (`--serve`) for
//! another client and for scraping every process's `/metrics` page; always exporting to a
//! test receiver, with the marker secret in its headers.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ferrotel_testkit::{ReceivedSpan, Receiver};

/// How long a demo may take to be ready to serve (a debug build, a loaded machine).
const SERVE_WAIT: Duration = Duration::from_secs(180);

/// A demo command exporting to `receiver` over OTLP/gRPC, the environment cleared of
/// anything that would send its telemetry elsewhere.
pub fn command(receiver: &Receiver, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storage-cluster"));
    command
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        // The marker secret `.ci/run` scans the test output for.
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-test-secret={}", ferrotel_testkit::secret("demo")),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_TRACES_EXPORTER")
        .env_remove("OTEL_METRICS_EXPORTER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("FERROTEL_METRICS_ADDR")
        .env_remove("FERROTEL_NFS_METRICS");
    command
}

/// What a finished run printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Panics with both streams unless the run exited 0 and no process reported lost
    /// telemetry.
    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        super::assert_no_lost_telemetry("storage-cluster", &self.stderr);
    }

    /// The trace id the summary printed.
    pub fn trace_id(&self) -> String {
        let id = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("trace id: "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no trace id in:\n{}", self.stdout))
            .to_string();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id:?}"
        );
        id
    }
}

/// Runs `command` to the end.
pub fn run(mut command: Command) -> Finished {
    let output = command.output().expect("run storage-cluster");
    Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A demo kept serving with `--serve`: its export and its processes' `/metrics` pages.
pub struct Serving {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Everything printed before the serving line (the run's summary).
    pub summary: String,
    /// The gateway's NFS address.
    pub nfs: SocketAddr,
    /// `(process, address)` of every `/metrics` page.
    pub pages: Vec<(String, SocketAddr)>,
}

/// Starts `command` with `--serve` added and waits for its serving line.
pub fn serve(mut command: Command) -> Serving {
    let mut child = command
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start storage-cluster --serve");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut summary = String::new();
    let serving = loop {
        let line = lines
            .recv_timeout(SERVE_WAIT)
            .unwrap_or_else(|_| panic!("no serving line within {SERVE_WAIT:?}:\n{summary}"));
        if let Some(rest) = line.strip_prefix("serving ") {
            break rest.to_string();
        }
        summary.push_str(&line);
        summary.push('\n');
    };
    let mut words = serving.split_whitespace();
    let nfs = words
        .next()
        .and_then(|u| u.strip_prefix("nfs://"))
        .and_then(|u| u.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad serving line {serving:?}"));
    let pages = words
        .filter_map(|w| {
            let (name, url) = w.split_once('=')?;
            let addr = url.strip_prefix("http://")?.strip_suffix("/metrics")?;
            Some((name.to_string(), addr.parse().ok()?))
        })
        .collect();
    Serving {
        child,
        stdin,
        lines,
        summary,
        nfs,
        pages,
    }
}

impl Serving {
    /// Closes stdin (the demo's signal to stop) and waits for it to flush and exit.
    pub fn stop(mut self) -> Finished {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for storage-cluster");
        let mut stdout = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Finished {
            status,
            stdout,
            stderr: String::new(),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One `/metrics` page in OpenMetrics.
pub fn metrics_page(addr: SocketAddr) -> String {
    let response =
        ferrotel_testkit::raw_http::get(addr, "/metrics", Some("application/openmetrics-text"));
    assert_eq!(response.status, 200, "{response:?}");
    response.body
}

/// The spans of one trace at the receiver.
pub fn trace_spans(receiver: &Receiver, trace_id: &str) -> Vec<ReceivedSpan> {
    receiver
        .spans()
        .into_iter()
        .filter(|s| s.trace_id_hex() == trace_id)
        .collect()
}

/// The `service.instance.id` of a span's process.
pub fn instance(span: &ReceivedSpan) -> String {
    span.resource_attr("service.instance.id")
        .unwrap_or_default()
}

/// One role process (`--role node|gateway`) started on its own, as a pod starts it: stdin
/// kept open (the manifests' `stdin: true`), stopped by SIGTERM.
pub struct RoleProcess {
    pub child: Child,
    /// Held open: a role stops when its stdin closes.
    pub stdin: Option<ChildStdin>,
    /// The address its ready line announced.
    pub addr: SocketAddr,
}

/// Starts `command` (a `--role` command line) and waits for its ready line.
pub fn start_role(mut command: Command) -> RoleProcess {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start storage-cluster --role");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("stdout");
    let (tx, ready) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(Result::ok));
        // Keep draining, so the role never blocks on a full pipe.
        for _ in lines.map_while(Result::ok) {}
    });
    let line = ready
        .recv_timeout(SERVE_WAIT)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no ready line within {SERVE_WAIT:?}"));
    let addr = line
        .strip_prefix("ready ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad ready line {line:?}"));
    RoleProcess { child, stdin, addr }
}

impl RoleProcess {
    /// Sends SIGTERM (what the kubelet sends) and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {}", self.child.id());
        let status = self.child.wait().expect("wait for the role");
        drop(self.stdin.take());
        status
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
