//! NFS spans and metrics.
