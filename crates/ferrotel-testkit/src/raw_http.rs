//! A minimal blocking HTTP/1.1 client over a plain socket, for tests that read a `/metrics`
//! page or an HTTP API (Prometheus, Jaeger) and must see the exact status and headers.
//!
//! Each request opens its own connection with `Connection: close` and reads until the server
//! closes it; a chunked body is decoded.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a read may wait for the server.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunks, as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `addr` (`127.0.0.1:9464`) and reads the whole answer. `Err` when the
/// connection fails or the server closed it without a complete answer.
pub fn request<A>(
    addr: A,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response>
where
    A: ToSocketAddrs + fmt::Display,
{
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.unwrap_or_default())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

/// Sends `bytes` as they are (a malformed or oversized head, say) and reads the whole answer.
pub fn raw<A>(addr: A, bytes: &[u8]) -> io::Result<Response>
where
    A: ToSocketAddrs,
{
    let mut stream = TcpStream::connect(&addr)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.write_all(bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

/// `GET path` with an optional `Accept`; panics unless answered.
pub fn get<A>(addr: A, path: &str, accept: Option<&str>) -> Response
where
    A: ToSocketAddrs + fmt::Display,
{
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
    request(addr, "GET", path, &headers, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn parse(raw: &[u8]) -> io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no complete response head"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: String::new(),
    };
    let rest = &raw[split + 4..];
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    response.body = String::from_utf8_lossy(&body).into_owned();
    Ok(response)
}

/// The data of a chunked body.
fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("chunk size line"))?;
        let size_text = std::str::from_utf8(&rest[..line_end])
            .map_err(|_| invalid("chunk size is not UTF-8"))?;
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| invalid("chunk size is not hex"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or_else(|| invalid("truncated chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size + 2..)
            .ok_or_else(|| invalid("truncated chunk"))?;
    }
}

/// Percent-encodes a query-string value: every byte but ASCII letters, digits and `-_.~`.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_plain_and_a_chunked_answer() {
        let plain = parse(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello").unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-type"), Some("text/plain"));
        assert_eq!(plain.body, "hello");
        let chunked = parse(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.status, 404);
        assert_eq!(chunked.body, "abcde");
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
