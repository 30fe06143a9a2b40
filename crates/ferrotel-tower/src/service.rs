//! The one service both layers wrap around their inner service. The layer's side decides the
//! single difference: a server extracts the caller's context, a client starts under the
//! current one and injects it.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::context::FutureExt as _;
use opentelemetry::Context;
use tower::Service;

use crate::body::ResponseBody;
use crate::call::Call;
use crate::future::ResponseFuture;
use crate::request::{Protocol, RequestInfo};
use crate::shared::{Shared, Side};

/// The service [`crate::ServerLayer`] and [`crate::ClientLayer`] wrap around theirs.
#[derive(Clone, Debug)]
pub struct InstrumentedService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// What [`crate::ServerLayer`] makes of a server's routes.
pub type ServerService<S> = InstrumentedService<S>;

/// What [`crate::ClientLayer`] makes of a channel or HTTP client.
pub type ClientService<S> = InstrumentedService<S>;

impl<S> InstrumentedService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        InstrumentedService { inner, shared }
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for InstrumentedService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        if self.shared.skips(&request) {
            return ResponseFuture::untraced(self.inner.call(request));
        }
        let shared = Arc::clone(&self.shared);
        let (call, cx) = match shared.side {
            Side::Server => {
                let mut info = RequestInfo::read(&request, None);
                if info.protocol == Protocol::Http {
                    info.route = shared.route(&request);
                }
                let parent = shared.extract(request.headers());
                Call::start(Arc::clone(&shared), info, parent)
            }
            Side::Client => {
                let info = RequestInfo::read(&request, shared.target.as_ref());
                let started = Call::start(Arc::clone(&shared), info, Context::current());
                shared.inject(&started.1, request.headers_mut());
                started
            }
        };
        // The inner service runs with the call's span current, so a handler's own spans
        // (tracing or OpenTelemetry) and outgoing calls are children of it.
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture::traced(inner.with_context(cx), call)
    }
}
