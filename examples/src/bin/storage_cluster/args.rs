//! Command-line arguments: the driver's (`--ops`, `--concurrency`) and the roles the driver
//! starts its children with (`--role gateway|node …`).

use std::net::SocketAddr;

pub(crate) const USAGE: &str = "\
usage: storage-cluster [--ops N] [--concurrency C]
  --ops N          client operations to run (default 200)
  --concurrency C  operations in flight at once (default 8)
  -h, --help       this text

The driver starts its own cluster; the roles below are how it starts the children:
  storage-cluster --role gateway --listen ADDR --leader ADDR
  storage-cluster --role node --id N --listen ADDR [--peers ID=ADDR,ID=ADDR]

Telemetry is configured with the standard OTEL_* variables. With no OTLP endpoint set, an
in-process OTLP receiver collects every span and one WRITE's trace is printed as a tree.";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Help,
    Drive(DriveOptions),
    Serve(Role),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DriveOptions {
    pub(crate) ops: usize,
    pub(crate) concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Gateway(GatewayOptions),
    Node(NodeOptions),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayOptions {
    pub(crate) listen: SocketAddr,
    pub(crate) leader: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeOptions {
    pub(crate) id: u32,
    pub(crate) listen: SocketAddr,
    /// The other nodes, for the leader: it replicates to them.
    pub(crate) peers: Vec<(u32, SocketAddr)>,
}

/// The most operations in flight the driver allows.
const MAX_CONCURRENCY: usize = 1024;

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut ops = None;
    let mut concurrency = None;
    let mut role = None;
    let mut id = None;
    let mut listen = None;
    let mut leader = None;
    let mut peers = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "--ops" => &mut ops,
            "--concurrency" => &mut concurrency,
            "--role" => &mut role,
            "--id" => &mut id,
            "--listen" => &mut listen,
            "--leader" => &mut leader,
            "--peers" => &mut peers,
            _ => return Err(format!("unknown argument {arg:?}")),
        };
        let value = match inline {
            Some(value) => value.to_string(),
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        if slot.replace(value).is_some() {
            return Err(format!("{name} given twice"));
        }
    }

    let Some(role) = role else {
        for (name, given) in [
            ("--id", &id),
            ("--listen", &listen),
            ("--leader", &leader),
            ("--peers", &peers),
        ] {
            if given.is_some() {
                return Err(format!("{name} is only for --role gateway|node"));
            }
        }
        let ops = count("--ops", ops.as_deref(), 200, usize::MAX)?;
        let concurrency = count("--concurrency", concurrency.as_deref(), 8, MAX_CONCURRENCY)?;
        return Ok(Command::Drive(DriveOptions { ops, concurrency }));
    };
    if ops.is_some() || concurrency.is_some() {
        return Err("--ops and --concurrency are for the driver, not a --role".to_string());
    }
    let listen = addr("--listen", listen.as_deref())?;
    match role.as_str() {
        "gateway" => {
            if id.is_some() || peers.is_some() {
                return Err("--id and --peers are for --role node".to_string());
            }
            let leader = addr("--leader", leader.as_deref())?;
            Ok(Command::Serve(Role::Gateway(GatewayOptions {
                listen,
                leader,
            })))
        }
        "node" => {
            if leader.is_some() {
                return Err("--leader is for --role gateway".to_string());
            }
            let id = count("--id", id.as_deref(), 0, u32::MAX as usize)?;
            let id = u32::try_from(id).map_err(|_| format!("--id {id} is too large"))?;
            let peers = match peers.as_deref() {
                None | Some("") => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(peer)
                    .collect::<Result<Vec<_>, String>>()?,
            };
            Ok(Command::Serve(Role::Node(NodeOptions {
                id,
                listen,
                peers,
            })))
        }
        other => Err(format!(
            "--role {other:?}: expected \"gateway\" or \"node\""
        )),
    }
}

/// A positive count; `default` when absent (0 means "required").
fn count(name: &str, value: Option<&str>, default: usize, max: usize) -> Result<usize, String> {
    let Some(value) = value else {
        return if default == 0 {
            Err(format!("{name} is required"))
        } else {
            Ok(default)
        };
    };
    match value.parse::<usize>() {
        Ok(0) => Err(format!("{name} must be at least 1, got 0")),
        Ok(n) if n > max => Err(format!("{name} must be at most {max}, got {n}")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{name} expects a positive integer, got {value:?}")),
    }
}

fn addr(name: &str, value: Option<&str>) -> Result<SocketAddr, String> {
    let value = value.ok_or_else(|| format!("{name} is required"))?;
    value
        .parse()
        .map_err(|_| format!("{name} expects IP:PORT, got {value:?}"))
}

fn peer(item: &str) -> Result<(u32, SocketAddr), String> {
    let (id, address) = item
        .split_once('=')
        .ok_or_else(|| format!("--peers expects ID=IP:PORT items, got {item:?}"))?;
    let id = id
        .parse::<u32>()
        .map_err(|_| format!("--peers: {id:?} is not a node id"))?;
    let address = address
        .parse()
        .map_err(|_| format!("--peers: {address:?} is not IP:PORT"))?;
    Ok((id, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn driver_defaults_and_overrides() {
        assert_eq!(
            parse_str(""),
            Ok(Command::Drive(DriveOptions {
                ops: 200,
                concurrency: 8
            }))
        );
        assert_eq!(
            parse_str("--ops 20 --concurrency=3"),
            Ok(Command::Drive(DriveOptions {
                ops: 20,
                concurrency: 3
            }))
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        for line in [
            "--ops",
            "--ops 0",
            "--ops -3",
            "--ops lots",
            "--concurrency 100000",
            "--frobnicate",
            "--ops 1 --ops 2",
            "--role gateway --listen 127.0.0.1:0",
            "--role node --listen 127.0.0.1:0",
            "--role node --id 1 --listen nowhere",
            "--role node --id 1 --listen 127.0.0.1:0 --peers 2",
            "--role db --listen 127.0.0.1:0",
        ] {
            assert!(parse_str(line).is_err(), "{line:?} was accepted");
        }
    }

    #[test]
    fn roles() {
        assert_eq!(
            parse_str(
                "--role node --id 1 --listen 127.0.0.1:0 --peers 2=127.0.0.1:7,3=127.0.0.1:8"
            ),
            Ok(Command::Serve(Role::Node(NodeOptions {
                id: 1,
                listen: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
                peers: vec![
                    (2, "127.0.0.1:7".parse().unwrap_or_else(|_| unreachable!())),
                    (3, "127.0.0.1:8".parse().unwrap_or_else(|_| unreachable!())),
                ],
            })))
        );
        assert!(matches!(
            parse_str("--role gateway --listen 127.0.0.1:0 --leader 127.0.0.1:9"),
            Ok(Command::Serve(Role::Gateway(_)))
        ));
    }
}
