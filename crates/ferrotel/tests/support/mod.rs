//! What every ferrotel integration test shares: a guard built from a variable map against the
//! one in-process receiver (`ferrotel_testkit::guard`), never touching the process environment
//! or the global subscriber, so tests run side by side, and readers of what it wrote.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use ferrotel::config::Env;
use ferrotel::Guard;
#[allow(unused_imports)] // each test file uses its own subset
pub(crate) use ferrotel_testkit::guard::{endpoint, guard, quick, sending_to, WAIT};

/// Runs `f` with the guard's tracing dispatcher as the default.
pub(crate) fn traced<R>(guard: &Guard, f: impl FnOnce() -> R) -> R {
    let dispatch = guard
        .dispatch()
        .expect("dispatch kept when not installed")
        .clone();
    tracing::dispatcher::with_default(&dispatch, f)
}

/// A log writer that keeps what it is given, for tests that read ferrotel's log lines.
#[derive(Clone, Default)]
pub(crate) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A guard from `env` with nothing installed globally, logging into `logs`.
pub(crate) fn guard_logging(env: Env, logs: &Captured, shutdown: Duration) -> Guard {
    let sink = logs.clone();
    ferrotel_testkit::guard::builder(env)
        .log_writer(move || sink.clone())
        .shutdown_timeout(shutdown)
        .try_init()
        .expect("ferrotel starts")
}

/// A collector that accepts connections and never answers: the listener is bound (the kernel
/// completes the handshakes) and never read. Dropping it closes the port.
pub(crate) fn black_hole() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
    (listener, endpoint)
}

/// Records one span named `name` (with one log line) through the guard's dispatcher.
pub(crate) fn one_span(guard: &Guard, name: &'static str) {
    traced(guard, || {
        let span = tracing::info_span!("work", otel.name = name, job = 7);
        let _entered = span.enter();
        tracing::info!("inside");
    });
}

/// Fails, naming `what` and showing the offending lines, when `text` holds the marker secret.
pub(crate) fn assert_no_secret(text: &str, what: &str) {
    let leaked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(ferrotel_testkit::SECRET_MARKER))
        .take(5)
        .collect();
    assert!(
        leaked.is_empty(),
        "{what}: a secret was written:\n{}",
        leaked.join("\n")
    );
}
