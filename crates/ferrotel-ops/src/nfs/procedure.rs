//! NFSv3 procedures and status codes (RFC 1813), with the names the spans and metrics use.

/// An NFSv3 procedure (RFC 1813 §3.3), numbered as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variants are the RFC's procedure names
pub enum Procedure {
    Null,
    Getattr,
    Setattr,
    Lookup,
    Access,
    Readlink,
    Read,
    Write,
    Create,
    Mkdir,
    Symlink,
    Mknod,
    Remove,
    Rmdir,
    Rename,
    Link,
    Readdir,
    Readdirplus,
    Fsstat,
    Fsinfo,
    Pathconf,
    Commit,
}

/// Every procedure, in wire order: `ALL[n]` is procedure number `n`.
pub(crate) const ALL: [Procedure; 22] = [
    Procedure::Null,
    Procedure::Getattr,
    Procedure::Setattr,
    Procedure::Lookup,
    Procedure::Access,
    Procedure::Readlink,
    Procedure::Read,
    Procedure::Write,
    Procedure::Create,
    Procedure::Mkdir,
    Procedure::Symlink,
    Procedure::Mknod,
    Procedure::Remove,
    Procedure::Rmdir,
    Procedure::Rename,
    Procedure::Link,
    Procedure::Readdir,
    Procedure::Readdirplus,
    Procedure::Fsstat,
    Procedure::Fsinfo,
    Procedure::Pathconf,
    Procedure::Commit,
];

const NAMES: [&str; 22] = [
    "NULL",
    "GETATTR",
    "SETATTR",
    "LOOKUP",
    "ACCESS",
    "READLINK",
    "READ",
    "WRITE",
    "CREATE",
    "MKDIR",
    "SYMLINK",
    "MKNOD",
    "REMOVE",
    "RMDIR",
    "RENAME",
    "LINK",
    "READDIR",
    "READDIRPLUS",
    "FSSTAT",
    "FSINFO",
    "PATHCONF",
    "COMMIT",
];

const SPAN_NAMES: [&str; 22] = [
    "nfs.NULL",
    "nfs.GETATTR",
    "nfs.SETATTR",
    "nfs.LOOKUP",
    "nfs.ACCESS",
    "nfs.READLINK",
    "nfs.READ",
    "nfs.WRITE",
    "nfs.CREATE",
    "nfs.MKDIR",
    "nfs.SYMLINK",
    "nfs.MKNOD",
    "nfs.REMOVE",
    "nfs.RMDIR",
    "nfs.RENAME",
    "nfs.LINK",
    "nfs.READDIR",
    "nfs.READDIRPLUS",
    "nfs.FSSTAT",
    "nfs.FSINFO",
    "nfs.PATHCONF",
    "nfs.COMMIT",
];

impl Procedure {
    /// The procedure number on the wire (READ is 6).
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The procedure of a wire number, `None` beyond COMMIT (21).
    pub fn from_number(number: u32) -> Option<Procedure> {
        ALL.get(number as usize).copied()
    }

    /// The upper-case name, as in RFC 1813 (`READ`).
    pub const fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// The span name, `nfs.{NAME}`.
    pub const fn span_name(self) -> &'static str {
        SPAN_NAMES[self as usize]
    }

    /// Which way the procedure's payload moves, for the byte counters: READ and READLINK
    /// send data to the client, WRITE receives it.
    pub(crate) const fn direction(self) -> Option<Direction> {
        match self {
            Procedure::Read | Procedure::Readlink => Some(Direction::Read),
            Procedure::Write => Some(Direction::Write),
            _ => None,
        }
    }
}

/// Which way data moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the server to the client.
    Read,
    /// From the client to the server.
    Write,
}

/// The outcome of an NFS procedure: `NFS3_OK` or one of RFC 1813's `nfsstat3` errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NfsStatus(u32);

impl NfsStatus {
    /// `NFS3_OK`.
    pub const OK: NfsStatus = NfsStatus(0);
    /// `NFS3ERR_NOENT`: no such file or directory.
    pub const NOENT: NfsStatus = NfsStatus(2);
    /// `NFS3ERR_IO`: a hard error.
    pub const IO: NfsStatus = NfsStatus(5);
    /// `NFS3ERR_ACCES`: permission denied.
    pub const ACCES: NfsStatus = NfsStatus(13);
    /// `NFS3ERR_EXIST`: the file exists.
    pub const EXIST: NfsStatus = NfsStatus(17);
    /// `NFS3ERR_NOTDIR`: not a directory.
    pub const NOTDIR: NfsStatus = NfsStatus(20);
    /// `NFS3ERR_ISDIR`: is a directory.
    pub const ISDIR: NfsStatus = NfsStatus(21);
    /// `NFS3ERR_INVAL`: an invalid argument.
    pub const INVAL: NfsStatus = NfsStatus(22);
    /// `NFS3ERR_FBIG`: the file would be too large.
    pub const FBIG: NfsStatus = NfsStatus(27);
    /// `NFS3ERR_NOSPC`: no space left.
    pub const NOSPC: NfsStatus = NfsStatus(28);
    /// `NFS3ERR_ROFS`: a read-only file system.
    pub const ROFS: NfsStatus = NfsStatus(30);
    /// `NFS3ERR_STALE`: the file handle is stale.
    pub const STALE: NfsStatus = NfsStatus(70);
    /// `NFS3ERR_BADHANDLE`: the file handle is not valid.
    pub const BADHANDLE: NfsStatus = NfsStatus(10001);
    /// `NFS3ERR_NOTSUPP`: not supported.
    pub const NOTSUPP: NfsStatus = NfsStatus(10004);
    /// `NFS3ERR_SERVERFAULT`: an error the server could not map.
    pub const SERVERFAULT: NfsStatus = NfsStatus(10006);
    /// `NFS3ERR_JUKEBOX`: try again later.
    pub const JUKEBOX: NfsStatus = NfsStatus(10008);

    /// The status of a wire code. Unknown codes keep their number and are named
    /// `NFS3ERR_UNKNOWN`.
    pub const fn from_code(code: u32) -> NfsStatus {
        NfsStatus(code)
    }

    /// The wire code.
    pub const fn code(self) -> u32 {
        self.0
    }

    /// Whether this is `NFS3_OK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Whether this status is the server's fault (`NFS3ERR_IO`, `NXIO`, `NODEV`, `NOSPC`,
    /// `DQUOT`, `SERVERFAULT`, `BADTYPE`, `JUKEBOX`): only these mark a server span as an
    /// error, and only these count in the `NfsErrorRatioHigh` alert. `NOENT`, `ACCES` and the
    /// like are the client's business, as `NOT_FOUND` is for gRPC.
    pub const fn is_server_fault(self) -> bool {
        matches!(self.0, 5 | 6 | 19 | 28 | 69 | 10006 | 10007 | 10008)
    }

    /// The RFC 1813 name (`NFS3_OK`, `NFS3ERR_NOENT`, …); `NFS3ERR_UNKNOWN` for a code RFC 1813
    /// does not define.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0 => "NFS3_OK",
            1 => "NFS3ERR_PERM",
            2 => "NFS3ERR_NOENT",
            5 => "NFS3ERR_IO",
            6 => "NFS3ERR_NXIO",
            13 => "NFS3ERR_ACCES",
            17 => "NFS3ERR_EXIST",
            18 => "NFS3ERR_XDEV",
            19 => "NFS3ERR_NODEV",
            20 => "NFS3ERR_NOTDIR",
            21 => "NFS3ERR_ISDIR",
            22 => "NFS3ERR_INVAL",
            27 => "NFS3ERR_FBIG",
            28 => "NFS3ERR_NOSPC",
            30 => "NFS3ERR_ROFS",
            31 => "NFS3ERR_MLINK",
            63 => "NFS3ERR_NAMETOOLONG",
            66 => "NFS3ERR_NOTEMPTY",
            69 => "NFS3ERR_DQUOT",
            70 => "NFS3ERR_STALE",
            71 => "NFS3ERR_REMOTE",
            10001 => "NFS3ERR_BADHANDLE",
            10002 => "NFS3ERR_NOT_SYNC",
            10003 => "NFS3ERR_BAD_COOKIE",
            10004 => "NFS3ERR_NOTSUPP",
            10005 => "NFS3ERR_TOOSMALL",
            10006 => "NFS3ERR_SERVERFAULT",
            10007 => "NFS3ERR_BADTYPE",
            10008 => "NFS3ERR_JUKEBOX",
            _ => "NFS3ERR_UNKNOWN",
        }
    }
}

impl std::fmt::Display for NfsStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_follow_rfc_1813() {
        for (n, p) in ALL.iter().enumerate() {
            assert_eq!(p.number() as usize, n);
            assert_eq!(Procedure::from_number(n as u32), Some(*p));
            assert_eq!(p.span_name(), format!("nfs.{}", p.name()));
        }
        assert_eq!(Procedure::Read.number(), 6);
        assert_eq!(Procedure::Commit.number(), 21);
        assert_eq!(Procedure::from_number(22), None);
        assert_eq!(NfsStatus::from_code(70).name(), "NFS3ERR_STALE");
        assert_eq!(NfsStatus::from_code(12345).name(), "NFS3ERR_UNKNOWN");
        assert!(NfsStatus::OK.is_ok());
    }
}
