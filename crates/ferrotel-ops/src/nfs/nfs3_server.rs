//! [`TracedFs`]: an `nfs3_server` filesystem that traces and measures every procedure of the
//! filesystem it wraps, with no change to that filesystem's code.
//!
//! Each filesystem method is the procedure whose handler calls it (`read` is READ, `lookup`
//! is LOOKUP, `create` and `create_exclusive` are CREATE, `remove` is REMOVE, …), and its
//! span is current while the wrapped method runs, so the storage and Raft work it does joins
//! the procedure's trace. `nfs3_server`'s handlers also call `getattr` to fetch the attributes
//! they send back with other procedures (READ, LOOKUP, CREATE, …); those calls are recorded as
//! GETATTR too, since a filesystem cannot tell them from a client's GETATTR.

use nfs3_server::nfs3_types::nfs3::{
    createverf3, fattr3, filename3, nfspath3, nfsstat3, sattr3, stable_how, FSINFO3resok,
};
use nfs3_server::nfs3_types::rpc::auth_unix;
use nfs3_server::vfs::{
    NfsFileSystem, NfsReadFileSystem, ReadDirIterator, ReadDirPlusIterator, VFSCapabilities,
};
use opentelemetry::trace::FutureExt as _;

use super::{NfsInstruments, NfsOp, NfsStatus, Procedure, Share};

/// Wraps any `nfs3_server` filesystem so that every procedure opens an `nfs.*` SERVER span
/// and records the NFS metrics.
///
/// ```no_run
/// # async fn serve(telemetry: ferrotel_ops::OpsTelemetry) -> std::io::Result<()> {
/// use ferrotel_ops::nfs::{NfsInstruments, NfsSide, Share, TracedFs};
/// use nfs3_server::memfs::{MemFs, MemFsConfig};
/// use nfs3_server::tcp::{NFSTcp as _, NFSTcpListener};
///
/// let nfs = NfsInstruments::new(&telemetry, NfsSide::Server, Default::default(), "ferrotel");
/// let fs = MemFs::new(MemFsConfig::default())
///     .map_err(|status| std::io::Error::other(format!("memfs: {status:?}")))?;
/// let listener = NFSTcpListener::bind("127.0.0.1:0", TracedFs::new(fs, nfs, Share::new("/"))).await?;
/// listener.handle_forever().await
/// # }
/// ```
#[derive(Debug)]
pub struct TracedFs<F> {
    inner: F,
    nfs: NfsInstruments,
    share: Share,
}

impl<F> TracedFs<F> {
    /// Wraps `inner`, the filesystem exported as `share`.
    pub fn new(inner: F, nfs: NfsInstruments, share: Share) -> Self {
        TracedFs { inner, nfs, share }
    }

    /// The wrapped filesystem.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    fn start(&self, procedure: Procedure) -> NfsOp {
        self.nfs.start(procedure, &self.share)
    }
}

fn status(stat: nfsstat3) -> NfsStatus {
    NfsStatus::from_code(stat as u32)
}

/// Ends `op` with the outcome of `result`, counting `bytes` on success.
fn end<T>(op: NfsOp, result: &Result<T, nfsstat3>, bytes: impl FnOnce(&T) -> u64) {
    match result {
        Ok(value) => {
            let moved = bytes(value);
            op.finish(NfsStatus::OK, moved);
        }
        Err(stat) => op.finish(status(*stat), 0),
    }
}

/// Runs one wrapped call as `procedure`.
macro_rules! traced {
    ($self:ident, $procedure:expr, $call:expr) => {
        traced!($self, $procedure, $call, |_| 0)
    };
    ($self:ident, $procedure:expr, $call:expr, $bytes:expr) => {{
        let op = $self.start($procedure);
        let result = $call.with_context(op.context().clone()).await;
        end(op, &result, $bytes);
        result
    }};
}

impl<F: NfsReadFileSystem> NfsReadFileSystem for TracedFs<F> {
    type Handle = F::Handle;

    fn root_dir(&self) -> Self::Handle {
        self.inner.root_dir()
    }

    fn authorize(&self, auth: Option<&auth_unix>) -> bool {
        self.inner.authorize(auth)
    }

    async fn lookup(
        &self,
        dirid: &Self::Handle,
        filename: &filename3<'_>,
    ) -> Result<Self::Handle, nfsstat3> {
        traced!(self, Procedure::Lookup, self.inner.lookup(dirid, filename))
    }

    async fn getattr(&self, id: &Self::Handle) -> Result<fattr3, nfsstat3> {
        traced!(self, Procedure::Getattr, self.inner.getattr(id))
    }

    async fn read(
        &self,
        id: &Self::Handle,
        offset: u64,
        count: u32,
    ) -> Result<(Vec<u8>, bool), nfsstat3> {
        traced!(
            self,
            Procedure::Read,
            self.inner.read(id, offset, count),
            |(data, _): &(Vec<u8>, bool)| data.len() as u64
        )
    }

    async fn readdir(
        &self,
        dirid: &Self::Handle,
        cookie: u64,
    ) -> Result<impl ReadDirIterator, nfsstat3> {
        traced!(self, Procedure::Readdir, self.inner.readdir(dirid, cookie))
    }

    async fn readdirplus(
        &self,
        dirid: &Self::Handle,
        cookie: u64,
    ) -> Result<impl ReadDirPlusIterator<Self::Handle>, nfsstat3> {
        traced!(
            self,
            Procedure::Readdirplus,
            self.inner.readdirplus(dirid, cookie)
        )
    }

    async fn readlink(&self, id: &Self::Handle) -> Result<nfspath3<'_>, nfsstat3> {
        traced!(
            self,
            Procedure::Readlink,
            self.inner.readlink(id),
            |path: &nfspath3<'_>| { path.0.len() as u64 }
        )
    }

    async fn fsinfo(&self, root_fileid: &Self::Handle) -> Result<FSINFO3resok, nfsstat3> {
        traced!(self, Procedure::Fsinfo, self.inner.fsinfo(root_fileid))
    }
}

impl<F: NfsFileSystem> NfsFileSystem for TracedFs<F> {
    fn capabilities(&self) -> VFSCapabilities {
        self.inner.capabilities()
    }

    async fn setattr(&self, id: &Self::Handle, setattr: sattr3) -> Result<fattr3, nfsstat3> {
        traced!(self, Procedure::Setattr, self.inner.setattr(id, setattr))
    }

    async fn write(
        &self,
        id: &Self::Handle,
        offset: u64,
        data: &[u8],
        stable: stable_how,
    ) -> Result<(fattr3, stable_how), nfsstat3> {
        let len = data.len() as u64;
        traced!(
            self,
            Procedure::Write,
            self.inner.write(id, offset, data, stable),
            |_| len
        )
    }

    async fn create(
        &self,
        dirid: &Self::Handle,
        filename: &filename3<'_>,
        attr: sattr3,
    ) -> Result<(Self::Handle, fattr3), nfsstat3> {
        traced!(
            self,
            Procedure::Create,
            self.inner.create(dirid, filename, attr)
        )
    }

    async fn create_exclusive(
        &self,
        dirid: &Self::Handle,
        filename: &filename3<'_>,
        createverf: createverf3,
    ) -> Result<Self::Handle, nfsstat3> {
        traced!(
            self,
            Procedure::Create,
            self.inner.create_exclusive(dirid, filename, createverf)
        )
    }

    async fn mkdir(
        &self,
        dirid: &Self::Handle,
        dirname: &filename3<'_>,
    ) -> Result<(Self::Handle, fattr3), nfsstat3> {
        traced!(self, Procedure::Mkdir, self.inner.mkdir(dirid, dirname))
    }

    async fn remove(&self, dirid: &Self::Handle, filename: &filename3<'_>) -> Result<(), nfsstat3> {
        traced!(self, Procedure::Remove, self.inner.remove(dirid, filename))
    }

    async fn rename<'a>(
        &self,
        from_dirid: &Self::Handle,
        from_filename: &filename3<'a>,
        to_dirid: &Self::Handle,
        to_filename: &filename3<'a>,
    ) -> Result<(), nfsstat3> {
        traced!(
            self,
            Procedure::Rename,
            self.inner
                .rename(from_dirid, from_filename, to_dirid, to_filename)
        )
    }

    async fn symlink<'a>(
        &self,
        dirid: &Self::Handle,
        linkname: &filename3<'a>,
        symlink: &nfspath3<'a>,
        attr: &sattr3,
    ) -> Result<(Self::Handle, fattr3), nfsstat3> {
        traced!(
            self,
            Procedure::Symlink,
            self.inner.symlink(dirid, linkname, symlink, attr)
        )
    }

    async fn commit(&self, id: &Self::Handle, offset: u64, count: u32) -> Result<(), nfsstat3> {
        traced!(
            self,
            Procedure::Commit,
            self.inner.commit(id, offset, count)
        )
    }
}
