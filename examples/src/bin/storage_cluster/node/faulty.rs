//! A disk that misbehaves on purpose (`--disk-faults N`): every N-th put, alternately, fails
//! once or takes [`SLOW_PUT`] longer. It sits under ferrotel-ops' traced store, so a failed put
//! is a storage span with an error status and a slow put a long one, inside the WRITE's trace:
//! what a collector's tail sampler keeps by its error and latency policies.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// How much longer a slow put takes: longer than any put of the demo takes on its own.
pub(crate) const SLOW_PUT: Duration = Duration::from_millis(300);

/// What the `n`-th put (from 1) does with faults every `every` puts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Fail,
    Slow,
}

fn fault(n: u64, every: u64) -> Fault {
    if every == 0 || !n.is_multiple_of(every) {
        Fault::None
    } else if (n / every) % 2 == 1 {
        Fault::Fail
    } else {
        Fault::Slow
    }
}

/// Wraps a store; every operation but a faulty put is the inner store's.
#[derive(Debug)]
pub(crate) struct FaultyDisk<T> {
    inner: T,
    every: u64,
    puts: AtomicU64,
}

impl<T> FaultyDisk<T> {
    /// Faults on every `every`-th put; 0 means none.
    pub(crate) fn new(inner: T, every: u64) -> Self {
        FaultyDisk {
            inner,
            every,
            puts: AtomicU64::new(0),
        }
    }
}

impl<T: fmt::Display> fmt::Display for FaultyDisk<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyDisk({})", self.inner)
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for FaultyDisk<T> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let n = self.puts.fetch_add(1, Ordering::Relaxed) + 1;
        match fault(n, self.every) {
            Fault::None => {}
            Fault::Fail => {
                return Err(object_store::Error::Generic {
                    store: "FaultyDisk",
                    source: format!("put {n} of {location} failed on purpose (--disk-faults)")
                        .into(),
                })
            }
            Fault::Slow => tokio::time::sleep(SLOW_PUT).await,
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt as _;

    #[test]
    fn faults_alternate_every_n_puts() {
        let seen: Vec<Fault> = (1..=8).map(|n| fault(n, 2)).collect();
        use Fault::*;
        assert_eq!(seen, [None, Fail, None, Slow, None, Fail, None, Slow]);
        assert!((1..100).all(|n| fault(n, 0) == None));
    }

    #[tokio::test]
    async fn a_failed_put_stores_nothing_and_the_next_one_works() {
        let disk = FaultyDisk::new(InMemory::new(), 2);
        let path = Path::from("a");
        disk.put(&path, PutPayload::from(vec![1])).await.unwrap();
        assert!(disk.put(&path, PutPayload::from(vec![2])).await.is_err());
        let got = disk.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.as_ref(), [1]);
        disk.put(&path, PutPayload::from(vec![3])).await.unwrap();
        let got = disk.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.as_ref(), [3]);
    }
}
