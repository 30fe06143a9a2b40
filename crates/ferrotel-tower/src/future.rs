use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use opentelemetry::context::WithContext;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::call::{Call, Ending};

pin_project! {
    /// The response future of the server and client services: hands the call to the response
    /// body once the head arrives, or finishes it when the inner service fails.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Traced {
            #[pin]
            inner: WithContext<F>,
            call: Option<Call>,
        },
        Untraced {
            #[pin]
            inner: F,
        },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn traced(inner: WithContext<F>, call: Call) -> Self {
        ResponseFuture {
            state: State::Traced {
                inner,
                call: Some(call),
            },
        }
    }

    pub(crate) fn untraced(inner: F) -> Self {
        ResponseFuture {
            state: State::Untraced { inner },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Untraced { inner } => {
                let result = ready!(inner.poll(cx));
                Poll::Ready(result.map(|res| res.map(|body| ResponseBody::new(body, None))))
            }
            StateProj::Traced { inner, call } => {
                let result = ready!(inner.poll(cx));
                let mut call = call.take();
                Poll::Ready(match result {
                    Ok(response) => {
                        if let Some(call) = call.as_mut() {
                            call.on_response_head(response.status(), response.headers());
                        }
                        Ok(response.map(|body| ResponseBody::new(body, call)))
                    }
                    Err(err) => {
                        if let Some(call) = call.as_mut() {
                            call.finish(Ending::Failed);
                        }
                        Err(err)
                    }
                })
            }
        }
    }
}
