use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::context::FutureExt as _;
use tower::Service;

use crate::body::ResponseBody;
use crate::call::Call;
use crate::future::ResponseFuture;
use crate::request::RequestInfo;
use crate::shared::Shared;

/// The service [`super::ServerLayer`] wraps around a server's routes.
#[derive(Clone, Debug)]
pub struct ServerService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ServerService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        ServerService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ServerService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if self.shared.skips(&request) {
            return ResponseFuture::untraced(self.inner.call(request));
        }
        let info = RequestInfo::read(&request, None);
        let parent = self.shared.extract(request.headers());
        let (call, cx) = Call::start(Arc::clone(&self.shared), info, parent);
        // The handler runs with the server span current, so its own spans (tracing or
        // OpenTelemetry) and outgoing calls are children of it.
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture::traced(inner.with_context(cx), call)
    }
}
