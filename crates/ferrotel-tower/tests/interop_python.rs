//! Interop with a second, independent implementation: the Python OpenTelemetry SDK with
//! `opentelemetry-instrumentation-grpc`. A Python client calls a Rust echo server wrapped in
//! `ServerLayer`, and a Rust client wrapped in `ClientLayer` calls a Python echo server; both
//! sides export to the in-process receiver, which must see one trace with the right parents
//! (and the W3C baggage each side sent).
//!
//! Needs a Python with `pip install -r crates/ferrotel-tower/tests/python/requirements.txt`
//! (`python3`, or the interpreter in `FERROTEL_PYTHON`); without one the tests print
//! `skipped: …` and pass, unless `FERROTEL_REQUIRE_EXTERNAL=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test reports failure by panicking

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod support;

use ferrotel_testkit::echo::{EchoClient, EchoRequest, EchoService};
use ferrotel_testkit::{ReceivedSpan, Receiver};
use ferrotel_tower::{ClientLayer, ServerLayer};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use support::{propagator, tracer_provider};
use tonic::transport::{Endpoint, Server};
use tower::ServiceBuilder;

const WAIT: Duration = Duration::from_secs(30);
const PYTHON_MISSING: &str =
    "python packages missing (pip install -r crates/ferrotel-tower/tests/python/requirements.txt)";
const IMPORTS: &str = "import grpc, grpc_tools, opentelemetry.instrumentation.grpc, \
                       opentelemetry.exporter.otlp.proto.grpc";
const SPAN_KIND_INTERNAL: i32 = 1;
const SPAN_KIND_SERVER: i32 = 2;
const SPAN_KIND_CLIENT: i32 = 3;
const METHOD: &str = "ferrotel.echo.v1.Echo/Unary";

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn proto_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrotel-testkit/proto")
}

/// A child process that is killed on drop, with its stdout read line by line and its stderr
/// collected by threads, so every wait on it has a deadline.
struct Script {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Script {
    fn spawn(python: &Path, args: &[OsString], env: &[(&str, String)]) -> std::io::Result<Script> {
        let mut command = Command::new(python);
        command
            .args(args)
            .current_dir(python_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only the settings given here: nothing inherited may redirect or sample the spans.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }),
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = stderr_pipe.read_to_end(&mut buf);
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf));
            }),
        ];
        Ok(Script {
            name: args
                .first()
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default(),
            child,
            stdin,
            lines,
            stderr,
            readers,
        })
    }

    /// The next stdout line, waiting at most `timeout`.
    fn line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(e) => {
                let status = self.child.try_wait().ok().flatten();
                self.kill();
                panic!(
                    "{}: no stdout line ({e}); exit status {status:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                )
            }
        }
    }

    /// Waits at most `timeout` for the process to exit, after closing its stdin; kills it
    /// otherwise. Returns the exit status and every stdout line not read yet.
    fn finish(&mut self, timeout: Duration) -> (Option<ExitStatus>, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    self.kill();
                    break None;
                }
            }
        };
        // The process is gone: the pipes close and the reader threads end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status, self.lines.try_iter().collect())
    }

    /// Like [`Script::finish`], panicking unless the process exited successfully.
    fn expect_success(&mut self, timeout: Duration) -> Vec<String> {
        let (status, lines) = self.finish(timeout);
        assert!(
            status.is_some_and(|s| s.success()),
            "{}: exit status {status:?} (None: killed after {timeout:?}); stdout: {lines:?}; stderr:\n{}",
            self.name,
            self.stderr()
        );
        lines
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// A temporary directory holding the Python echo stubs, removed on drop.
struct Stubs(PathBuf);

impl Drop for Stubs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Python interpreter with the required packages, and the echo stubs generated for it.
struct Python {
    exe: PathBuf,
    stubs: Stubs,
}

impl Python {
    /// Finds the interpreter and generates the stubs; `None` (after printing why) when the
    /// packages are missing, unless `FERROTEL_REQUIRE_EXTERNAL=1`.
    fn find(test: &str) -> Option<Python> {
        let exe = PathBuf::from(std::env::var_os("FERROTEL_PYTHON").unwrap_or("python3".into()));
        let usable = Script::spawn(&exe, &["-c".into(), IMPORTS.into()], &[])
            .map(|mut check| check.finish(WAIT).0.is_some_and(|s| s.success()))
            .unwrap_or(false);
        if !usable {
            return ferrotel_testkit::external::skip(&format!(
                "{PYTHON_MISSING} for {}",
                exe.display()
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-interop-python-{}-{test}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let stubs = Stubs(dir);
        let mut out = OsString::from("--python_out=");
        out.push(&stubs.0);
        let mut grpc_out = OsString::from("--grpc_python_out=");
        grpc_out.push(&stubs.0);
        let mut include = OsString::from("-I");
        include.push(proto_dir());
        let args = [
            "-m".into(),
            "grpc_tools.protoc".into(),
            include,
            out,
            grpc_out,
            "echo.proto".into(),
        ];
        Script::spawn(&exe, &args, &[])
            .unwrap()
            .expect_success(WAIT);
        Some(Python { exe, stubs })
    }

    /// Runs `script` (in tests/python) with the stubs directory as its first argument, as
    /// `service` exporting to `receiver`.
    fn spawn(&self, script: &str, args: &[&str], service: &str, receiver: &Receiver) -> Script {
        let mut argv: Vec<OsString> = vec![script.into(), self.stubs.0.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let env = [
            ("OTEL_SERVICE_NAME", service.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.grpc_endpoint()),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true".to_owned()),
            ("OTEL_PROPAGATORS", "tracecontext,baggage".to_owned()),
            ("PYTHONUNBUFFERED", "1".to_owned()),
            // No __pycache__ left in the source tree.
            ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
        ];
        Script::spawn(&self.exe, &argv, &env).unwrap()
    }
}

/// The one span of `service` with `kind` (and `name`, when given).
fn span<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    kind: i32,
    name: Option<&str>,
) -> &'a ReceivedSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.resource_attr("service.name").as_deref() == Some(service)
                && s.span.kind == kind
                && name.is_none_or(|n| s.name() == n)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one span of kind {kind} from {service} expected: {spans:#?}"
    );
    found[0]
}

fn value<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= line in {lines:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_calls_rust_server() {
    let Some(python) = Python::find("to-rust") else {
        return;
    };
    let receiver = Receiver::start();
    let provider = tracer_provider(&receiver, "rust-server");

    // The handler's view of the context: the baggage the server layer extracted.
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let layers = ServiceBuilder::new()
        .layer(
            ServerLayer::new()
                .tracer_provider(&provider)
                .propagator(propagator()),
        )
        .map_request(move |request: http::Request<tonic::body::Body>| {
            let cx = Context::current();
            record.lock().unwrap().extend(
                cx.baggage()
                    .iter()
                    .map(|(k, (v, _))| (k.to_string(), v.to_string())),
            );
            request
        })
        .into_inner();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        Server::builder()
            .layer(layers)
            .add_service(EchoService::new().into_server())
            .serve_with_incoming(incoming),
    );

    let mut client = python.spawn(
        "echo_client.py",
        &[&addr.to_string(), "from python"],
        "python-client",
        &receiver,
    );
    let lines = tokio::task::spawn_blocking(move || client.expect_success(WAIT))
        .await
        .unwrap();
    assert_eq!(value(&lines, "reply"), "from python");
    let trace_id = value(&lines, "trace_id");
    let root_id = value(&lines, "root_span_id");

    provider.force_flush().unwrap();
    let spans = receiver.wait_for_spans(3, WAIT).unwrap();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let py_root = span(&spans, "python-client", SPAN_KIND_INTERNAL, None);
    let py_client = span(&spans, "python-client", SPAN_KIND_CLIENT, None);
    let rust_server = span(&spans, "rust-server", SPAN_KIND_SERVER, None);
    println!(
        "python root {}/{} → python CLIENT {} ({:?}) → rust SERVER {} ({:?})",
        py_root.trace_id_hex(),
        py_root.span_id_hex(),
        py_client.span_id_hex(),
        py_client.name(),
        rust_server.span_id_hex(),
        rust_server.name(),
    );

    // The ids the Python SDK reported are the ones that arrived.
    assert_eq!(py_root.name(), "interop-client");
    assert_eq!(py_root.trace_id_hex(), trace_id);
    assert_eq!(py_root.span_id_hex(), root_id);
    assert_eq!(py_root.parent_span_id_hex(), None);
    // Python names its spans after the full method path, leading slash included.
    assert_eq!(py_client.name(), format!("/{METHOD}"));
    assert_eq!(py_client.trace_id_hex(), trace_id);
    assert_eq!(py_client.parent_span_id_hex().as_deref(), Some(root_id));
    // The Rust server continued the Python client's span.
    assert_eq!(rust_server.name(), METHOD);
    assert_eq!(rust_server.trace_id_hex(), trace_id);
    assert_eq!(
        rust_server.parent_span_id_hex(),
        Some(py_client.span_id_hex())
    );
    // Python sends flags 03 (sampled + random trace id); Level 2 keeps the random flag when
    // continuing a trace, so the Rust span carries both (OTLP span flags, low byte).
    assert_eq!(
        rust_server.span.flags & 0xff,
        0x03,
        "flags {:#x}",
        rust_server.span.flags
    );
    assert_eq!(
        rust_server.attr("rpc.response.status_code").as_deref(),
        Some("OK")
    );
    // And saw the Python baggage.
    assert_eq!(
        *seen.lock().unwrap(),
        [("interop.from".to_owned(), "python".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_calls_python_server() {
    let Some(python) = Python::find("to-python") else {
        return;
    };
    let receiver = Receiver::start();
    let provider = tracer_provider(&receiver, "rust-client");

    let mut server = python.spawn("echo_server.py", &[], "python-server", &receiver);
    let port = server.line(WAIT);
    let port: u16 = port
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("echo_server.py printed {port:?} as its port: {e}"));
    let target: http::Uri = format!("http://127.0.0.1:{port}").parse().unwrap();
    let channel = Endpoint::from_shared(target.to_string())
        .unwrap()
        .connect_lazy();
    let mut client = EchoClient::new(
        ServiceBuilder::new()
            .layer(
                ClientLayer::new()
                    .target(&target)
                    .tracer_provider(&provider)
                    .propagator(propagator()),
            )
            .service(channel),
    );

    let tracer = provider.tracer("ferrotel.interop");
    let cx = Context::current_with_span(tracer.start("interop-client"))
        .with_baggage([KeyValue::new("interop.from", "rust")]);
    let request = EchoRequest {
        message: "from rust".into(),
        ..Default::default()
    };
    let reply = client
        .unary(request)
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "from rust");
    cx.span().end();
    let root_trace = cx.span().span_context().trace_id().to_string();
    let root_id = cx.span().span_context().span_id().to_string();

    provider.force_flush().unwrap();
    tokio::task::spawn_blocking(move || server.expect_success(WAIT))
        .await
        .unwrap();
    let spans = receiver.wait_for_spans(3, WAIT).unwrap();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let rust_root = span(&spans, "rust-client", SPAN_KIND_INTERNAL, None);
    let rust_client = span(&spans, "rust-client", SPAN_KIND_CLIENT, Some(METHOD));
    let py_server = span(&spans, "python-server", SPAN_KIND_SERVER, None);
    println!(
        "rust root {}/{} → rust CLIENT {} ({:?}) → python SERVER {} ({:?})",
        rust_root.trace_id_hex(),
        rust_root.span_id_hex(),
        rust_client.span_id_hex(),
        rust_client.name(),
        py_server.span_id_hex(),
        py_server.name(),
    );

    assert_eq!(rust_root.trace_id_hex(), root_trace);
    assert_eq!(rust_root.span_id_hex(), root_id);
    assert_eq!(rust_root.parent_span_id_hex(), None);
    assert_eq!(rust_client.trace_id_hex(), root_trace);
    assert_eq!(rust_client.parent_span_id_hex(), Some(root_id));
    // The Python server continued the Rust client's span.
    assert_eq!(py_server.name(), format!("/{METHOD}"));
    assert_eq!(py_server.trace_id_hex(), root_trace);
    assert_eq!(
        py_server.parent_span_id_hex(),
        Some(rust_client.span_id_hex())
    );
    // And its handler saw the Rust baggage.
    assert_eq!(
        py_server.attr("baggage.interop.from").as_deref(),
        Some("rust")
    );
}
