//! The live stack for the tests that run it: `collector/run-local` on free loopback ports, the
//! Jaeger and Prometheus API calls and OTLP/HTTP JSON over ferrotel-testkit's raw HTTP client,
//! and the cached Go tools (skipped by ferrotel-testkit's rule when they are not built).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use ferrotel_testkit::raw_http::urlencode;
use serde_json::Value as Json;

pub mod demo;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ has a parent directory")
        .to_path_buf()
}

/// The `NAME=VALUE` lines of a versions file (`collector/versions.env`), relative to the
/// repository's root.
pub fn pinned_versions(rel: &str) -> BTreeMap<String, String> {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{rel}: not NAME=VALUE: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The cached binary `collector/build-tools` built for `tool`, or `None` after printing
/// `skipped: …` (a failure instead when FERROTEL_REQUIRE_EXTERNAL=1).
pub fn tool_or_skip(tool: &str) -> Option<PathBuf> {
    let output = Command::new("bash")
        .arg(repo_root().join("collector/build-tools"))
        .args(["--which", tool])
        .output()
        .expect("run collector/build-tools --which");
    if output.status.success() {
        return Some(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim(),
        ));
    }
    ferrotel_testkit::external::skip(&format!(
        "{tool} is not built (run collector/build-tools; needs Go)"
    ))
}

/// The whole stack's binaries, or `None` after a skip line.
pub fn stack_tools_or_skip() -> Option<()> {
    for tool in ["jaeger", "otelcol", "prometheus"] {
        tool_or_skip(tool)?;
    }
    Some(())
}

/// A running `collector/run-local` stack; stopped (by the pids run-local recorded) on drop.
pub struct Stack {
    dir: PathBuf,
    pub env: BTreeMap<String, String>,
}

impl Stack {
    /// Starts the stack on free ports with `env` passed to run-local (and so the collector).
    pub fn start(scaled: bool, env: &[(&str, &str)]) -> Stack {
        Stack::start_with(if scaled { &["--scaled"] } else { &[] }, env)
    }

    /// Starts the scaled variant with `gateways` gateways, each exporting to a Jaeger of its own
    /// (`run-local start --scaled --gateways N --jaeger-per-gateway`).
    pub fn start_tiers(gateways: usize, env: &[(&str, &str)]) -> Stack {
        let n = gateways.to_string();
        Stack::start_with(&["--scaled", "--gateways", &n, "--jaeger-per-gateway"], env)
    }

    /// Starts Jaeger alone (`run-local start --jaeger-only`).
    pub fn start_jaeger() -> Stack {
        Stack::start_with(&["--jaeger-only"], &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "ferrotel-stack-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("collector/run-local"))
            .arg("start")
            .arg("--dir")
            .arg(&dir)
            .env("FERROTEL_STACK_FREE_PORTS", "1");
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A port checked free can still be taken by another process before the peer binds it;
        // run-local stops what it started on failure, so such a start is retried on new ports.
        let mut output = cmd.output().expect("run collector/run-local");
        for _ in 0..2 {
            if output.status.success()
                || !String::from_utf8_lossy(&output.stderr).contains("address already in use")
            {
                break;
            }
            println!("run-local: a port was taken before its peer bound it; starting again");
            output = cmd.output().expect("run collector/run-local");
        }
        let mut stack = Stack {
            dir: dir.clone(),
            env: BTreeMap::new(),
        };
        assert!(
            output.status.success(),
            "run-local start failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(dir.join("stack.env")).unwrap();
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        stack.env = env;
        stack
    }

    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("stack.env has no {key}: {:?}", self.env))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// `GET {jaeger}/api/traces/{id}`: the trace's JSON, or `None` while Jaeger lacks it.
    pub fn jaeger_trace(&self, trace_id: &str) -> Option<Json> {
        let (status, body) = http(
            "GET",
            &format!(
                "{}/api/traces/{trace_id}",
                self.get("FERROTEL_STACK_JAEGER")
            ),
            None,
        );
        if status != 200 {
            return None;
        }
        let json: Json = serde_json::from_slice(&body).ok()?;
        json["data"].as_array()?.first().cloned()
    }

    /// An instant PromQL query's result vector.
    pub fn prom_query(&self, query: &str) -> Vec<Json> {
        let url = format!(
            "{}/api/v1/query?query={}",
            self.get("FERROTEL_STACK_PROMETHEUS"),
            urlencode(query)
        );
        let (status, body) = http("GET", &url, None);
        let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        assert_eq!(
            status,
            200,
            "Prometheus refused {query}: {}",
            String::from_utf8_lossy(&body)
        );
        json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Trace ids of the exemplars Prometheus holds for `query` over the last `minutes`.
    pub fn exemplar_trace_ids(&self, query: &str, minutes: u64) -> Vec<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let url = format!(
            "{}/api/v1/query_exemplars?query={}&start={}&end={}",
            self.get("FERROTEL_STACK_PROMETHEUS"),
            urlencode(query),
            now - minutes * 60,
            now + 60
        );
        let (_, body) = http("GET", &url, None);
        let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        let mut ids = Vec::new();
        for series in json["data"].as_array().into_iter().flatten() {
            for exemplar in series["exemplars"].as_array().into_iter().flatten() {
                if let Some(id) = exemplar["labels"]["trace_id"].as_str() {
                    ids.push(id.to_owned());
                }
            }
        }
        ids
    }

    /// Whether Jaeger's debug exporter, the end of the stack's logs pipeline, has counted a
    /// batch of log records.
    pub fn jaeger_counted_log_records(&self) -> bool {
        self.log("jaeger")
            .lines()
            .any(|l| l.contains("\"otelcol.signal\": \"logs\"") && l.contains("log records"))
    }

    /// Sends spans as one OTLP/HTTP JSON request to `http_addr` (`host:port`).
    pub fn send_otlp_json(http_addr: &str, request: &Json) {
        Stack::send_otlp_json_to(http_addr, "traces", request);
    }

    /// Sends one OTLP/HTTP JSON request of `signal` (`traces`, `logs`) to `http_addr`.
    pub fn send_otlp_json_to(http_addr: &str, signal: &str, request: &Json) {
        let (status, body) = http(
            "POST",
            &format!("http://{http_addr}/v1/{signal}"),
            Some(request.to_string().as_bytes()),
        );
        assert_eq!(
            status,
            200,
            "OTLP export refused: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("collector/run-local"))
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("stack logs kept in {}", self.dir.display());
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Every trace the Jaeger at `base` (`http://host:port`) holds with a span of `service` that
/// started after `since_us` (microseconds since the epoch), each with all its spans (at most
/// 50 000: Jaeger refuses a search deeper than its memory store, 100 000 traces).
pub fn jaeger_traces(base: &str, service: &str, since_us: u64) -> Vec<Json> {
    let end_us = since_us + 24 * 3600 * 1_000_000;
    let (status, body) = http(
        "GET",
        &format!(
            "{base}/api/traces?service={}&start={since_us}&end={end_us}&limit=50000",
            urlencode(service)
        ),
        None,
    );
    assert_eq!(
        status,
        200,
        "Jaeger refused the search for {service}: {}",
        String::from_utf8_lossy(&body)
    );
    let json: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
    json["data"].as_array().cloned().unwrap_or_default()
}

/// `(labels, value)` of every sample named `name` on a Prometheus text page.
pub fn samples<'a>(page: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once('}')?,
                None => ("", rest),
            };
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None; // a longer name with `name` as its prefix
            }
            let value = value.split_whitespace().next()?.parse().ok()?;
            Some((labels, value))
        })
        .collect()
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`).
fn clock_ticks() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// One request to a loopback `http://host:port/path` URL with a JSON body: `(status, body)`,
/// `(0, empty)` when nothing answered.
pub fn http(method: &str, url: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let headers = [("Content-Type", "application/json")];
    match ferrotel_testkit::raw_http::request(authority, method, &path, &headers, body) {
        Ok(response) => (response.status, response.body.into_bytes()),
        Err(_) => (0, Vec::new()),
    }
}

/// What a ferrotel process writes when telemetry is lost: the warning while it runs, and the
/// sentences of a shutdown report (`ferrotel-otlp`'s pipeline and metric problems).
const LOSS_MARKERS: &[&str] = &[
    "telemetry is being lost",
    "failed to export",
    "were rejected by the collector",
    "were dropped",
    "were lost in an export",
    "were still queued when shutdown",
    "what was not exported is lost",
];

/// The lines of a ferrotel process's stderr that report lost telemetry, of any signal, e.g.
/// "storage-cluster: gateway: telemetry: 7 of 7 log records failed to export …". The demo's
/// processes also put every problem of their shutdown report after ": telemetry: ".
pub fn lost_telemetry(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(": telemetry: ") || LOSS_MARKERS.iter().any(|m| l.contains(m)))
        .collect()
}

/// Fails when `stderr` (of `who`) reports lost telemetry.
pub fn assert_no_lost_telemetry(who: &str, stderr: &str) {
    let lost = lost_telemetry(stderr);
    assert!(
        lost.is_empty(),
        "{who} reported lost telemetry:\n{}",
        lost.join("\n")
    );
}

/// Polls `probe` until it returns `Some`, for at most `limit`; `None` at the deadline.
pub fn poll<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A 32-hex-digit trace id that no other test run produces: the process id, a salt and `n`.
pub fn trace_id(salt: u32, n: u32) -> String {
    format!(
        "{:08x}{:08x}{:016x}",
        std::process::id(),
        salt,
        mix(u64::from(n) ^ (u64::from(salt) << 32))
    )
}

pub fn span_id(n: u64) -> String {
    format!("{:016x}", mix(n) | 1)
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// An OTLP JSON span. `status` 2 is ERROR; `duration_ms` sets start..end.
pub fn span(trace: &str, id: &str, parent: &str, name: &str, duration_ms: u64, status: u8) -> Json {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let start = now - duration_ms * 1_000_000;
    serde_json::json!({
        "traceId": trace, "spanId": id, "parentSpanId": parent, "name": name, "kind": 2,
        "startTimeUnixNano": start.to_string(), "endTimeUnixNano": now.to_string(),
        "status": {"code": status}
    })
}

/// One OTLP/HTTP JSON export request for `service` holding `spans`.
pub fn otlp_request(service: &str, spans: Vec<Json>) -> Json {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "ferrotel-stack-test"}, "spans": spans}]
    }]})
}

/// Calls `visit(key, value)` for every object member anywhere inside `value`.
pub fn walk<'a>(value: &'a Json, visit: &mut impl FnMut(&'a str, &'a Json)) {
    match value {
        Json::Object(members) => {
            for (key, member) in members {
                visit(key, member);
                walk(member, visit);
            }
        }
        Json::Array(items) => items.iter().for_each(|item| walk(item, visit)),
        _ => {}
    }
}
