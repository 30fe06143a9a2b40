//! Raft spans and metrics, and trace context carried through the log.
