//! Helpers shared by this crate's test files: finding external programs (with the
//! `FERROTEL_REQUIRE_EXTERNAL` convention) and a minimal HTTP/1.1 client over a raw socket.
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// Set to `1` to make a missing external program a failure instead of a skip.
pub const REQUIRE_EXTERNAL: &str = "FERROTEL_REQUIRE_EXTERNAL";

/// `program` from `PATH`; otherwise prints `skipped: <program> not found (<hint>)` and returns
/// `None`, or panics when [`REQUIRE_EXTERNAL`] is `1`.
pub fn external(program: &str, hint: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let message = format!("skipped: {program} not found ({hint})");
        if std::env::var(REQUIRE_EXTERNAL).as_deref() == Ok("1") {
            panic!("{message}, and {REQUIRE_EXTERNAL}=1 makes that a failure");
        }
        println!("{message}");
    }
    found
}

/// One HTTP response, as read until the server closed the connection.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole answer. `Err` when the
/// server closed the connection without answering (or the socket failed).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

/// Sends `bytes` as they are (a malformed or oversized head, say) and reads the whole answer.
pub fn raw_request(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

/// `GET path` with optional `Accept`; panics unless answered.
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    request(addr, "GET", path, &headers).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn parse(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no complete response head"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
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
