use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use tower::Service;

use crate::body::ResponseBody;
use crate::call::Call;
use crate::future::ResponseFuture;
use crate::request::RequestInfo;
use crate::shared::Shared;

/// The service [`super::ClientLayer`] wraps around a channel or HTTP client.
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ClientService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        ClientService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for ClientService<S>
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
        let info = RequestInfo::read(&request, self.shared.target.as_ref());
        let (call, cx) = Call::start(Arc::clone(&self.shared), info, Context::current());
        self.shared.inject(&cx, request.headers_mut());
        use opentelemetry::context::FutureExt as _;
        let inner = self.inner.call(request);
        ResponseFuture::traced(inner.with_context(cx), call)
    }
}
