//! The storage-cluster demo: a real NFSv3 gateway in front of a three-node openraft cluster
//! whose state machines keep the files in object_store, five real processes, traced end to end
//! with ferrotel and ferrotel-ops' adapters.
//!
//! ```text
//! cargo run --release --bin storage-cluster -- --ops 200 --concurrency 8
//! cargo run --release --bin storage-cluster -- --ops 400 --kill-leader-after 150
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
//!     cargo run --release --bin storage-cluster            # to a collector or Jaeger
//! ```
//!
//! The parent process is the client (the driver). It re-executes itself once per role and
//! starts four children on loopback: `storage-node` × 3, an openraft cluster that elects its
//! own leader, and the `gateway`, an NFSv3 server (`nfs3_server`) whose export lives in the
//! replicated store. The driver mounts the export with `nfs3_client` and runs READ, WRITE,
//! GETATTR, LOOKUP, CREATE, REMOVE and READDIR. A WRITE is proposed to the leader, appended and
//! replicated to both followers, committed, and applied by every node's state machine, which
//! stores file data through `object_store`'s local-filesystem store. Every hop is traced by
//! ferrotel-tower's layers and ferrotel-ops' adapters: none of the demo's code writes a span.
//!
//! `--kill-leader-after K` kills the leader's process after K operations: the survivors elect
//! a new leader, the gateway follows it, and every acknowledged write is read back at the end.
//!
//! With no OTLP endpoint configured, the driver runs an in-process OTLP receiver, points all
//! five processes at it and prints the tree of one WRITE's trace at the end.

mod api;
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
