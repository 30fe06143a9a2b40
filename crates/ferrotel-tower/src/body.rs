//! The response body, watched to its end: a call is over when its last frame (for gRPC, the
//! trailers with the final status) has passed, not when the headers did. That is what makes
//! streaming calls' durations and trailer-borne errors right.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::call::{Call, Ending};

pin_project! {
    /// A response body that finishes its call when it ends or fails. A body dropped before its
    /// end finishes the call through the call's own drop: as abandoned (gRPC `CANCELLED`),
    /// unless the head already carried the final status (a trailers-only response, an empty
    /// HTTP body).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, call: Option<Call>) -> Self {
        ResponseBody { inner, call }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Data: Buf,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(call) = this.call.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    // Trailers are the last frame; readers such as tonic's `Streaming` stop
                    // polling after them, so the call ends here, not at a `None` that may
                    // never be asked for.
                    if let Some(trailers) = frame.trailers_ref() {
                        call.on_trailers(trailers);
                        call.finish(Ending::Complete);
                    } else if this.inner.is_end_stream() {
                        call.finish(Ending::Complete);
                    }
                }
                Some(Err(_)) => call.finish(Ending::Failed),
                None => call.finish(Ending::Complete),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
