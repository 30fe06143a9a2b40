//! Helpers shared by this crate's test files: a metric reader both a provider and a source
//! hold, and a real Prometheus process.
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers fail by panicking

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotel_testkit::raw_http::request;
use serde_json::Value;

/// How long a wait on Prometheus may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Prometheus 3 as `collector/build-tools` built it, or [`ferrotel_testkit::external::skip`].
pub fn prometheus3() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../collector/build-tools");
    let out = Command::new("bash")
        .arg(script)
        .args(["--which", "prometheus"])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if path.is_file() {
                return Some(path);
            }
            ferrotel_testkit::external::skip(&format!("{} is not a file", path.display()))
        }
        _ => {
            ferrotel_testkit::external::skip("Prometheus 3 not built (bash collector/build-tools)")
        }
    }
}

/// The Prometheus child process and its scratch directory; killed and removed on drop, also
/// when the test panics.
pub struct PrometheusGuard {
    child: Child,
    dir: PathBuf,
    /// Where its HTTP API listens.
    pub api: SocketAddr,
}

impl Drop for PrometheusGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl PrometheusGuard {
    /// Starts `binary` with `config` (a prometheus.yml) and `flags`, in a scratch directory.
    pub fn start(binary: &Path, config: &str, flags: &[&str]) -> PrometheusGuard {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-prometheus-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let api = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={api}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        PrometheusGuard { child, dir, api }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Polls `f` (with a short pause) until it gives `Some`, failing with the Prometheus log
    /// at the deadline or if Prometheus exits.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&PrometheusGuard) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(value) = f(self) {
                return value;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "prometheus exited ({status}) while waiting for {what}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; prometheus log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `GET path` on the API as JSON; `None` unless it answers 200 with JSON.
    pub fn api_json(&self, path: &str) -> Option<Value> {
        let response = request(self.api, "GET", path, &[], None).ok()?;
        if response.status != 200 {
            return None;
        }
        serde_json::from_str(&response.body).ok()
    }
}

/// A free loopback port.
pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// A `ManualReader` that the meter provider and a metrics source can both hold.
#[derive(Debug, Clone, Default)]
pub struct SharedReader(std::sync::Arc<opentelemetry_sdk::metrics::ManualReader>);

impl SharedReader {
    /// Collects now and converts to the OTLP request a source returns.
    pub fn collect_request(
        &self,
    ) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
        use opentelemetry_sdk::metrics::reader::MetricReader as _;
        let mut rm = opentelemetry_sdk::metrics::data::ResourceMetrics::default();
        self.0.collect(&mut rm).expect("collect the manual reader");
        (&rm).into()
    }
}

impl opentelemetry_sdk::metrics::reader::MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<opentelemetry_sdk::metrics::Pipeline>) {
        self.0.register_pipeline(pipeline)
    }

    fn collect(
        &self,
        rm: &mut opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(
        &self,
        kind: opentelemetry_sdk::metrics::InstrumentKind,
    ) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality(kind)
    }
}
