//! What a request is, read once from its head: gRPC or plain HTTP, the method, the server and
//! the peer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};

use http::request::Parts;
use http::{Method, Request};

use crate::intern::{Recent, NAMES, PEERS};
use crate::semconv::OTHER_METHOD;

/// gRPC or plain HTTP, decided by the `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    Http,
}

/// The parts of a request the span and the metrics are made of.
#[derive(Debug, Clone)]
pub(crate) struct RequestInfo {
    pub(crate) protocol: Protocol,
    /// `package.Service/Method`, or `_OTHER` when the path is not a gRPC method path.
    pub(crate) rpc_method: Cow<'static, str>,
    /// The path as received, when `rpc_method` is `_OTHER`.
    pub(crate) rpc_method_original: Option<String>,
    /// `package.Service`, for the old `rpc.service` attribute.
    pub(crate) rpc_service: Option<Cow<'static, str>>,
    /// The HTTP method, normalised (`_OTHER` for unknown methods).
    pub(crate) http_method: &'static str,
    /// The path, for plain HTTP requests only (`url.path`).
    pub(crate) path: String,
    /// The route template a server request matched (`http.route`), plain HTTP only.
    pub(crate) route: Option<Cow<'static, str>>,
    pub(crate) scheme: Option<&'static str>,
    pub(crate) server_address: Option<Cow<'static, str>>,
    pub(crate) server_port: Option<u16>,
    pub(crate) peer: Option<SocketAddr>,
}

/// A host and its port, as read from an authority.
type HostPort = (&'static str, Option<u16>);

thread_local! {
    /// Method path → (method, service), both interned.
    static METHODS: RefCell<Recent<Box<str>, (&'static str, &'static str), 8>> =
        const { RefCell::new(Recent::new()) };
    /// Authority → (host interned, port).
    static AUTHORITIES: RefCell<Recent<Box<str>, HostPort, 4>> =
        const { RefCell::new(Recent::new()) };
    /// Peer IP → its text, interned.
    static PEER_TEXT: RefCell<Recent<IpAddr, &'static str, 8>> =
        const { RefCell::new(Recent::new()) };
}

/// `f`'s answer for `key` through a per-thread memo; answers that are not interned (a bound
/// was reached) are not kept.
fn memo<K, V: Clone, const N: usize>(
    recent: &'static std::thread::LocalKey<RefCell<Recent<K, V, N>>>,
    is_key: impl Fn(&K) -> bool,
    key: impl FnOnce() -> K,
    f: impl FnOnce() -> Option<V>,
) -> Option<V> {
    if let Some(v) = recent
        .try_with(|r| r.try_borrow().ok().and_then(|r| r.get(&is_key)))
        .ok()
        .flatten()
    {
        return Some(v);
    }
    let v = f()?;
    let _ = recent.try_with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            r.put(key(), v.clone());
        }
    });
    Some(v)
}

fn interned(s: &str) -> Option<&'static str> {
    match NAMES.get(s) {
        Cow::Borrowed(s) => Some(s),
        Cow::Owned(_) => None,
    }
}

/// (host, port) of an authority.
fn host_port(a: &http::uri::Authority) -> (Cow<'static, str>, Option<u16>) {
    let text = a.as_str();
    match memo(
        &AUTHORITIES,
        |k| &**k == text,
        || text.into(),
        || Some((interned(a.host())?, a.port_u16())),
    ) {
        Some((host, port)) => (Cow::Borrowed(host), port),
        None => (NAMES.get(a.host()), a.port_u16()),
    }
}

/// A peer's IP as `network.peer.address`, formatted on the stack and interned.
pub(crate) fn peer_address(peer: &SocketAddr) -> Cow<'static, str> {
    let ip = peer.ip();
    memo(
        &PEER_TEXT,
        |k| *k == ip,
        || ip,
        || match format_peer(peer) {
            Cow::Borrowed(s) => Some(s),
            Cow::Owned(_) => None,
        },
    )
    .map_or_else(|| format_peer(peer), Cow::Borrowed)
}

fn format_peer(peer: &SocketAddr) -> Cow<'static, str> {
    use std::io::Write as _;
    // The longest IPv6 text form is 45 bytes.
    let mut buf = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{}", peer.ip()).is_err() {
        return Cow::Owned(peer.ip().to_string());
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]) {
        Ok(text) => PEERS.get(text),
        Err(_) => Cow::Owned(peer.ip().to_string()),
    }
}

impl RequestInfo {
    /// Reads a request head. `target` is the client's configured target, used when the
    /// request URI has no authority (tonic adds the origin inside the channel).
    pub(crate) fn read<B>(request: &Request<B>, target: Option<&http::Uri>) -> Self {
        Self::from_head(
            request.method(),
            request.uri(),
            request.headers(),
            request.extensions(),
            target,
        )
    }

    fn from_head(
        method: &Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        target: Option<&http::Uri>,
    ) -> Self {
        let protocol = match headers.get(http::header::CONTENT_TYPE) {
            Some(ct) if ct.as_bytes().starts_with(b"application/grpc") => Protocol::Grpc,
            _ => Protocol::Http,
        };
        let path = uri.path();
        let (rpc_method, rpc_method_original, rpc_service) = match grpc_method(path) {
            Some((service, _)) => {
                let method = &path[1..];
                match memo(
                    &METHODS,
                    |k| &**k == method,
                    || method.into(),
                    || Some((interned(method)?, interned(service)?)),
                ) {
                    Some((m, s)) => (Cow::Borrowed(m), None, Some(Cow::Borrowed(s))),
                    None => (NAMES.get(method), None, Some(NAMES.get(service))),
                }
            }
            None => (Cow::Borrowed(OTHER_METHOD), Some(path.to_string()), None),
        };
        let path = match protocol {
            Protocol::Http => path.to_string(),
            Protocol::Grpc => String::new(),
        };
        let authority = uri
            .authority()
            .map(host_port)
            .or_else(|| {
                headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.parse::<http::uri::Authority>().ok())
                    .map(|a| host_port(&a))
            })
            .or_else(|| target.and_then(http::Uri::authority).map(host_port));
        let scheme = uri
            .scheme_str()
            .or_else(|| target.and_then(http::Uri::scheme_str))
            .map(|s| if s == "https" { "https" } else { "http" });
        let (server_address, mut server_port) = match authority {
            Some((host, port)) => (Some(host), port),
            None => (None, None),
        };
        if server_port.is_none() && server_address.is_some() {
            server_port = match scheme {
                Some("https") => Some(443),
                Some(_) => Some(80),
                None => None,
            };
        }
        let peer = extensions
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(tonic::transport::server::TcpConnectInfo::remote_addr)
            .or_else(|| extensions.get::<SocketAddr>().copied());
        RequestInfo {
            protocol,
            rpc_method,
            rpc_method_original,
            rpc_service,
            http_method: known_method(method),
            path,
            route: None,
            scheme,
            server_address,
            server_port,
            peer,
        }
    }

    /// Reads from a request's parts (after `into_parts`).
    #[allow(dead_code)]
    pub(crate) fn from_parts(parts: &Parts, target: Option<&http::Uri>) -> Self {
        Self::from_head(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &parts.extensions,
            target,
        )
    }

    /// Whether the path names a gRPC method.
    pub(crate) fn method_known(&self) -> bool {
        self.rpc_method_original.is_none()
    }
}

/// `/package.Service/Method` → (`package.Service`, `Method`).
fn grpc_method(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((service, method))
}

fn known_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_method_paths() {
        assert_eq!(
            grpc_method("/ferrotel.echo.v1.Echo/Unary"),
            Some(("ferrotel.echo.v1.Echo", "Unary"))
        );
        for bad in ["", "/", "//x", "/svc/", "/svc", "svc/m", "/a/b/c"] {
            assert_eq!(grpc_method(bad), None, "{bad}");
        }
    }
}
