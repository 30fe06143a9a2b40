//! Self-tests of the OTLP receiver, driven by raw clients: the generated tonic clients for
//! gRPC and a bare hyper HTTP/1.1 connection for OTLP/HTTP.

// Tests fail by panicking; unwrap/expect are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod faults;
mod grpc;
mod http;
mod lifecycle;
mod support;
mod tls;
