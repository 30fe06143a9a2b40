//! The storage-cluster demo: an NFS-style gateway in front of three storage nodes that
//! replicate writes through a small Raft log, five real processes talking real gRPC, traced
//! end to end with ferrotel.
//!
//! ```text
//! cargo run --release --bin storage-cluster -- --ops 200 --concurrency 8
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
//!     cargo run --release --bin storage-cluster            # to a collector or Jaeger
//! ```
//!
//! The parent process is the client (the driver). It re-executes itself once per role and
//! starts four children on loopback: `gateway` and `storage-node` × 3 (`node-1` is the Raft
//! leader, `node-2` and `node-3` its followers). Each operation — READ, WRITE, GETATTR or
//! LOOKUP — goes driver → gateway → leader; a WRITE is appended to the leader's log, sent to
//! both followers with `AppendEntries` and committed once a majority holds it. Every hop is
//! traced by `ferrotel-tower`'s layers, and the handlers add `storage.*` and `raft.*` spans.
//!
//! With no OTLP endpoint configured, the driver runs an in-process OTLP receiver, points all
//! five processes at it and prints the tree of one WRITE's trace at the end.

mod args;
mod cluster;
mod driver;
mod gateway;
mod node;
mod proto;
mod telemetry;
mod tree;

use std::process::ExitCode;

use args::{Command, Role};

fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("storage-cluster: {message}");
            eprintln!("{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Drive(options) => driver::run(options),
        Command::Serve(Role::Gateway(options)) => gateway::run(options),
        Command::Serve(Role::Node(options)) => node::run(options),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("storage-cluster: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The error type of the demo: a message is all a user needs.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;
