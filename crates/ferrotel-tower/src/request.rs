//! What a request is, read once from its head: gRPC or plain HTTP, the method, the server and
//! the peer.

use std::borrow::Cow;
use std::net::SocketAddr;

use http::request::Parts;
use http::{Method, Request};

use crate::intern::{NAMES, PEERS};
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
    pub(crate) scheme: Option<&'static str>,
    pub(crate) server_address: Option<Cow<'static, str>>,
    pub(crate) server_port: Option<u16>,
    pub(crate) peer: Option<SocketAddr>,
}

/// A peer's IP as `network.peer.address`, formatted on the stack and interned.
pub(crate) fn peer_address(peer: &SocketAddr) -> Cow<'static, str> {
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
            Some((service, _)) => (NAMES.get(&path[1..]), None, Some(NAMES.get(service))),
            None => (Cow::Borrowed(OTHER_METHOD), Some(path.to_string()), None),
        };
        let path = match protocol {
            Protocol::Http => path.to_string(),
            Protocol::Grpc => String::new(),
        };
        let authority = uri
            .authority()
            .map(|a| (NAMES.get(a.host()), a.port_u16()))
            .or_else(|| {
                headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.parse::<http::uri::Authority>().ok())
                    .map(|a| (NAMES.get(a.host()), a.port_u16()))
            })
            .or_else(|| {
                target
                    .and_then(http::Uri::authority)
                    .map(|a| (NAMES.get(a.host()), a.port_u16()))
            });
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
