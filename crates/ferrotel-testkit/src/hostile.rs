//! A collector that misbehaves on purpose: a real HTTP/1.1 and HTTP/2 (gRPC) server on
//! loopback that answers every request the hostile way it was started with, and records what
//! reached it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// How a [`HostilePeer`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostility {
    /// A redirect (`status` 301, 302, 303, 307 or 308) to `location`.
    Redirect {
        /// The status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// `status` with a body that never ends: 64 KiB chunks, forever.
    EndlessBody {
        /// The status.
        status: u16,
    },
    /// `status` with a body that repeats every request header's value and the request path,
    /// as a careless collector's error page does.
    Echo {
        /// The status.
        status: u16,
    },
    /// `status` with exactly this body: an error text that tries to forge log lines or drive
    /// the terminal (CR, LF, ESC, BEL, BS), or is very long.
    Text {
        /// The status.
        status: u16,
        /// The body.
        body: String,
    },
    /// A gRPC answer with no message: HTTP 200, `grpc-status` `code` and `grpc-message`
    /// `message`, percent-encoded as gRPC requires (so it can carry any byte).
    GrpcStatus {
        /// The gRPC status code.
        code: u16,
        /// The status message, before percent-encoding.
        message: String,
    },
}

/// One request a [`HostilePeer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostileRequest {
    /// The path and query.
    pub path: String,
    /// Every header, name lowercased.
    pub headers: Vec<(String, String)>,
}

/// A misbehaving HTTP server on loopback; stops when dropped.
#[derive(Debug)]
pub struct HostilePeer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<HostileRequest>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HostilePeer {
    /// Starts the server on an ephemeral loopback port.
    pub fn start(hostility: Hostility) -> io::Result<HostilePeer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (hostility, seen) = (hostility.clone(), Arc::clone(&seen));
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (hostility, seen) = (hostility.clone(), Arc::clone(&seen));
                        async move { Ok::<_, Infallible>(answer(request, &hostility, &seen).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(HostilePeer {
            addr,
            requests,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<HostileRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    hostility: &Hostility,
    seen: &Mutex<Vec<HostileRequest>>,
) -> Response<HostileBody> {
    let path = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // Read the request whole, as a collector would, before answering.
    let _ = request.into_body().collect().await;
    if let Ok(mut seen) = seen.lock() {
        seen.push(HostileRequest {
            path: path.clone(),
            headers: headers.clone(),
        });
    }
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(HostileBody::Once(None));
    match hostility {
        Hostility::Redirect {
            status: code,
            location,
        } => {
            *response.status_mut() = status(*code);
            if let Ok(value) = location.parse() {
                response.headers_mut().insert(http::header::LOCATION, value);
            }
        }
        Hostility::EndlessBody { status: code } => {
            *response.status_mut() = status(*code);
            *response.body_mut() = HostileBody::Endless;
        }
        Hostility::Echo { status: code } => {
            *response.status_mut() = status(*code);
            let mut text = format!("rejected {path}:");
            for (name, value) in &headers {
                text.push_str(&format!(" {name}={value}"));
            }
            *response.body_mut() = HostileBody::Once(Some(Bytes::from(text)));
        }
        Hostility::Text { status: code, body } => {
            *response.status_mut() = status(*code);
            *response.body_mut() = HostileBody::Once(Some(Bytes::from(body.clone())));
        }
        Hostility::GrpcStatus { code, message } => {
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            if let Ok(value) = code.to_string().parse() {
                headers.insert("grpc-status", value);
            }
            if let Ok(value) = percent_encode(message).parse() {
                headers.insert("grpc-message", value);
            }
        }
    }
    response
}

/// gRPC's encoding of `grpc-message`: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'%' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A body sent once, or one that never ends.
#[derive(Debug)]
pub enum HostileBody {
    /// The whole body, once.
    Once(Option<Bytes>),
    /// 64 KiB of zeros, again and again.
    Endless,
}

static CHUNK: [u8; 64 * 1024] = [0; 64 * 1024];

impl Body for HostileBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            HostileBody::Once(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            HostileBody::Endless => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK))))),
        }
    }
}
