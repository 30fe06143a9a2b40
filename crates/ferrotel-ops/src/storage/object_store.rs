//! [`TracedStore`]: an `object_store::ObjectStore` that traces and measures every operation
//! of the store it wraps.
//!
//! Like `object_store`'s own `LimitStore`, it implements the trait by delegating each method
//! and adds one concern around it. A `get`'s span lives as long as its body: a streamed
//! payload is wrapped, and the operation ends, with the bytes actually delivered, when the
//! stream finishes, fails or is dropped.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use async_trait::async_trait;
use futures_util::stream::{BoxStream, Stream, StreamExt as _};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use opentelemetry::trace::FutureExt as _;

use super::{StorageInstruments, StorageOp, StorageOperation};

/// Wraps any [`ObjectStore`] so that every operation opens a `storage.*` span and records the
/// storage metrics, with no change to the code that uses the store.
///
/// ```
/// # async fn demo() -> object_store::Result<()> {
/// use object_store::{memory::InMemory, path::Path, ObjectStoreExt as _};
/// use ferrotel_ops::storage::{StorageInstruments, TracedStore};
/// use ferrotel_ops::OpsTelemetry;
///
/// let telemetry = OpsTelemetry::new(None, None, ferrotel_metrics::Exemplars::default());
/// let instruments = StorageInstruments::new(&telemetry, "memory", Default::default());
/// let store = TracedStore::new(InMemory::new(), instruments);
/// store.put(&Path::from("a/b"), "hello".into()).await?; // a storage.put span
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TracedStore<T: ObjectStore> {
    inner: T,
    instruments: StorageInstruments,
}

impl<T: ObjectStore> TracedStore<T> {
    /// Wraps `inner`, recording through `instruments`.
    pub fn new(inner: T, instruments: StorageInstruments) -> Self {
        TracedStore { inner, instruments }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn start(&self, operation: StorageOperation, location: &Path) -> StorageOp {
        self.instruments.start(operation, location.as_ref())
    }
}

impl<T: ObjectStore> fmt::Display for TracedStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TracedStore({})", self.inner)
    }
}

/// The `error.type` of an object-store error.
fn error_type(error: &object_store::Error) -> &'static str {
    match error {
        object_store::Error::NotFound { .. } => "not_found",
        object_store::Error::AlreadyExists { .. } => "already_exists",
        object_store::Error::Precondition { .. } => "precondition",
        object_store::Error::NotModified { .. } => "not_modified",
        object_store::Error::NotImplemented { .. } => "not_implemented",
        object_store::Error::NotSupported { .. } => "not_supported",
        object_store::Error::InvalidPath { .. } => "invalid_path",
        object_store::Error::Generic { .. } => "generic",
        _ => "_OTHER",
    }
}

fn finish<V>(op: StorageOp, result: &Result<V>, bytes: impl FnOnce(&V) -> u64) {
    match result {
        Ok(value) => op.finish(Ok(bytes(value))),
        Err(error) => op.finish(Err(error_type(error))),
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for TracedStore<T> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let op = self.start(StorageOperation::Put, location);
        let size = payload.content_length() as u64;
        let result = self
            .inner
            .put_opts(location, payload, opts)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |_| size);
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        // Starting an upload is recorded; its parts are the uploader's own calls.
        let op = self.start(StorageOperation::Put, location);
        let result = self
            .inner
            .put_multipart_opts(location, opts)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |_| 0);
        result
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let operation = if options.head {
            StorageOperation::Head
        } else {
            StorageOperation::Get
        };
        let op = self.start(operation, location);
        let result = self
            .inner
            .get_opts(location, options)
            .with_context(op.context().clone())
            .await;
        match result {
            Err(error) => {
                op.finish(Err(error_type(&error)));
                Err(error)
            }
            Ok(mut got) => {
                got.payload = match got.payload {
                    GetResultPayload::Stream(stream) if operation == StorageOperation::Get => {
                        // The operation ends with the body.
                        GetResultPayload::Stream(
                            TracedBody {
                                inner: stream,
                                op: Some(op),
                                bytes: 0,
                            }
                            .boxed(),
                        )
                    }
                    other => {
                        let bytes = if operation == StorageOperation::Get {
                            got.range.end.saturating_sub(got.range.start)
                        } else {
                            0
                        };
                        op.finish(Ok(bytes));
                        other
                    }
                };
                Ok(got)
            }
        }
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        let op = self.start(StorageOperation::Get, location);
        let result = self
            .inner
            .get_ranges(location, ranges)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |parts| {
            parts.iter().map(|b| b.len() as u64).sum()
        });
        result
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        // One operation per deleted path, ended as the inner stream reports it.
        let instruments = self.instruments.clone();
        self.inner
            .delete_stream(locations)
            .map(move |result| {
                let key = match &result {
                    Ok(path) => path.as_ref().to_owned(),
                    Err(_) => String::new(),
                };
                let op = instruments.start(StorageOperation::Delete, &key);
                finish(op, &result, |_| 0);
                result
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let key = prefix.map(|p| p.as_ref()).unwrap_or("");
        let op = self.start(StorageOperation::List, &Path::from(key));
        ListStream {
            inner: self.inner.list(prefix),
            op: Some(op),
        }
        .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let key = prefix.map(|p| p.as_ref()).unwrap_or("");
        let op = self.start(StorageOperation::List, &Path::from(key));
        ListStream {
            inner: self.inner.list_with_offset(prefix, offset),
            op: Some(op),
        }
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let key = prefix.map(|p| p.as_ref().to_owned()).unwrap_or_default();
        let op = self.start(StorageOperation::List, &Path::from(key));
        let result = self
            .inner
            .list_with_delimiter(prefix)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |_| 0);
        result
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let op = self.start(StorageOperation::Copy, from);
        let result = self
            .inner
            .copy_opts(from, to, options)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |_| 0);
        result
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        // A rename is a copy then a delete in object stores; it is recorded as a copy.
        let op = self.start(StorageOperation::Copy, from);
        let result = self
            .inner
            .rename_opts(from, to, options)
            .with_context(op.context().clone())
            .await;
        finish(op, &result, |_| 0);
        result
    }
}

/// A `get` body that ends its operation when it finishes, fails or is dropped.
struct TracedBody {
    inner: BoxStream<'static, Result<bytes::Bytes>>,
    op: Option<StorageOp>,
    bytes: u64,
}

impl Stream for TracedBody {
    type Item = Result<bytes::Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => self.bytes += chunk.len() as u64,
            Poll::Ready(Some(Err(error))) => {
                if let Some(op) = self.op.take() {
                    op.finish(Err(error_type(error)));
                }
            }
            Poll::Ready(None) => {
                let bytes = self.bytes;
                if let Some(op) = self.op.take() {
                    op.finish(Ok(bytes));
                }
            }
            Poll::Pending => {}
        }
        polled
    }
}

/// A listing that ends its operation with the stream.
struct ListStream {
    inner: BoxStream<'static, Result<ObjectMeta>>,
    op: Option<StorageOp>,
}

impl Stream for ListStream {
    type Item = Result<ObjectMeta>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Err(error))) => {
                if let Some(op) = self.op.take() {
                    op.finish(Err(error_type(error)));
                }
            }
            Poll::Ready(None) => {
                if let Some(op) = self.op.take() {
                    op.finish(Ok(0));
                }
            }
            _ => {}
        }
        polled
    }
}
