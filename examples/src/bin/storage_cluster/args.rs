//! Command-line arguments: the driver's (`--ops`, `--concurrency`, `--kill-leader-after`, …) and
//! the roles the driver starts its children with (`--role gateway|node …`).

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) const USAGE: &str = "\
usage: storage-cluster [--ops N] [--concurrency C] [--kill-leader-after K]
                       [--nfs-metrics semconv|dittofs] [--data-dir DIR] [--serve]
                       [--disk-faults N] [--otlp-endpoints PROCESS=URL,...]
  --ops N                 NFS operations to run (default 200)
  --concurrency C         operations in flight at once, one NFS connection each (default 8)
  --kill-leader-after K   kill the Raft leader's process after K operations; the cluster
                          elects a new one and the run goes on
  --nfs-metrics PROFILE   NFS metric names: semconv (default) or dittofs
                          (the same as FERROTEL_NFS_METRICS)
  --data-dir DIR          keep each node's object_store files under DIR/node-N
                          (default: a temporary directory, removed at the end)
  --serve                 after the run, keep the cluster serving (NFS export and every
                          /metrics page) until stdin closes, Ctrl-C or SIGTERM, for another
                          client
  --disk-faults N         every N-th object_store put on each node (N >= 2) fails once,
                          and the node tries it again, or, in turn, takes 300 ms longer:
                          error and slow traces in a run that succeeds, for a collector's
                          tail sampling policies to keep
  --otlp-endpoints LIST   PROCESS=URL,...: the named processes (driver, gateway, node-1,
                          node-2, node-3) export to URL instead of OTEL_EXPORTER_OTLP_ENDPOINT,
                          as with one collector agent per host (signal-specific endpoint
                          variables still win)
  -h, --help              this text

Ctrl-C (SIGINT) or SIGTERM during the operations stops them: the children flush their
telemetry, the temporary files are removed, the summary is printed, and the exit status is
130 (SIGINT) or 143 (SIGTERM). Otherwise: 0 when every operation succeeded and every
acknowledged write read back, 1 when not, 2 for bad arguments.

The driver starts its own cluster; the roles below are how it starts the children:
  storage-cluster --role gateway --listen ADDR --nodes ID=HOST:PORT,... [--initialize]
  storage-cluster --role node --id N --listen ADDR --data-dir DIR [--disk-faults N]
Started on their own (one per pod, say), the roles stop on SIGTERM or when their stdin closes;
the gateway with --initialize makes the nodes one Raft cluster, as the driver otherwise does.

Telemetry is configured with the standard OTEL_* variables. With no OTLP endpoint set, an
in-process OTLP receiver collects the spans and one WRITE's trace is printed as a tree.";

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
    pub(crate) kill_leader_after: Option<usize>,
    /// `semconv` or `dittofs`, when given on the command line.
    pub(crate) nfs_metrics: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
    /// Keep serving after the run (`--serve`).
    pub(crate) serve: bool,
    /// Every N-th put on each node misbehaves (`--disk-faults`).
    pub(crate) disk_faults: Option<u64>,
    /// `(process, OTLP endpoint)` of the processes that export elsewhere (`--otlp-endpoints`).
    pub(crate) endpoints: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Gateway(GatewayOptions),
    Node(NodeOptions),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayOptions {
    pub(crate) listen: SocketAddr,
    /// The storage nodes: id and address (`IP:PORT` or `HOST:PORT`).
    pub(crate) nodes: Vec<(u64, String)>,
    /// Initialize the Raft cluster (`--initialize`): no driver does it.
    pub(crate) initialize: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeOptions {
    pub(crate) id: u64,
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    /// Every N-th put misbehaves (`--disk-faults`).
    pub(crate) disk_faults: Option<u64>,
}

/// The most operations in flight the driver allows (each is an NFS connection).
const MAX_CONCURRENCY: usize = 256;

#[derive(Default)]
struct Given {
    ops: Option<String>,
    concurrency: Option<String>,
    kill_leader_after: Option<String>,
    nfs_metrics: Option<String>,
    data_dir: Option<String>,
    role: Option<String>,
    id: Option<String>,
    listen: Option<String>,
    nodes: Option<String>,
    disk_faults: Option<String>,
    otlp_endpoints: Option<String>,
    serve: bool,
    initialize: bool,
}

/// Parses the arguments after the program name.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut given = Given::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        if arg == "--serve" {
            given.serve = true;
            continue;
        }
        if arg == "--initialize" {
            given.initialize = true;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "--ops" => &mut given.ops,
            "--concurrency" => &mut given.concurrency,
            "--kill-leader-after" => &mut given.kill_leader_after,
            "--nfs-metrics" => &mut given.nfs_metrics,
            "--data-dir" => &mut given.data_dir,
            "--role" => &mut given.role,
            "--id" => &mut given.id,
            "--listen" => &mut given.listen,
            "--nodes" => &mut given.nodes,
            "--disk-faults" => &mut given.disk_faults,
            "--otlp-endpoints" => &mut given.otlp_endpoints,
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
    match given.role.take() {
        None => drive(given),
        Some(role) => serve(&role, given),
    }
}

fn drive(given: Given) -> Result<Command, String> {
    for (name, value) in [
        ("--id", &given.id),
        ("--listen", &given.listen),
        ("--nodes", &given.nodes),
    ] {
        if value.is_some() {
            return Err(format!("{name} is only for --role gateway|node"));
        }
    }
    if given.initialize {
        return Err("--initialize is only for --role gateway".to_string());
    }
    let ops = count("--ops", given.ops.as_deref(), 200, usize::MAX)?;
    let concurrency = count(
        "--concurrency",
        given.concurrency.as_deref(),
        8,
        MAX_CONCURRENCY,
    )?;
    let kill_leader_after = match given.kill_leader_after.as_deref() {
        None => None,
        Some(k) => {
            let k = count("--kill-leader-after", Some(k), 0, usize::MAX)?;
            if k >= ops {
                return Err(format!(
                    "--kill-leader-after {k} must be less than --ops {ops}, or the run ends first"
                ));
            }
            Some(k)
        }
    };
    let nfs_metrics = match given.nfs_metrics.as_deref() {
        None => None,
        Some(p @ ("semconv" | "dittofs")) => Some(p.to_string()),
        Some(other) => {
            return Err(format!(
                "--nfs-metrics {other:?}: expected \"semconv\" or \"dittofs\""
            ))
        }
    };
    let disk_faults = disk_faults(given.disk_faults.as_deref())?;
    let endpoints = match given.otlp_endpoints.as_deref() {
        None => Vec::new(),
        Some(list) => endpoints(list)?,
    };
    Ok(Command::Drive(DriveOptions {
        ops,
        concurrency,
        kill_leader_after,
        nfs_metrics,
        data_dir: given.data_dir.map(PathBuf::from),
        serve: given.serve,
        disk_faults,
        endpoints,
    }))
}

fn serve(role: &str, given: Given) -> Result<Command, String> {
    for (name, value) in [
        ("--ops", &given.ops),
        ("--concurrency", &given.concurrency),
        ("--kill-leader-after", &given.kill_leader_after),
        ("--nfs-metrics", &given.nfs_metrics),
        ("--otlp-endpoints", &given.otlp_endpoints),
    ] {
        if value.is_some() {
            return Err(format!("{name} is for the driver, not a --role"));
        }
    }
    if given.serve {
        return Err("--serve is for the driver, not a --role".to_string());
    }
    let listen = addr("--listen", given.listen.as_deref())?;
    match role {
        "gateway" => {
            if given.id.is_some() || given.data_dir.is_some() || given.disk_faults.is_some() {
                return Err("--id, --data-dir and --disk-faults are for --role node".to_string());
            }
            let nodes = given
                .nodes
                .as_deref()
                .ok_or("--nodes is required")?
                .split(',')
                .map(node)
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Command::Serve(Role::Gateway(GatewayOptions {
                listen,
                nodes,
                initialize: given.initialize,
            })))
        }
        "node" => {
            if given.nodes.is_some() || given.initialize {
                return Err("--nodes and --initialize are for --role gateway".to_string());
            }
            // Any u64, 0 included: a StatefulSet numbers its pods from 0.
            let id = given.id.as_deref().ok_or("--id is required")?;
            let id = id
                .parse::<u64>()
                .map_err(|_| format!("--id expects a node number, got {id:?}"))?;
            let data_dir = given
                .data_dir
                .map(PathBuf::from)
                .ok_or("--data-dir is required")?;
            let disk_faults = disk_faults(given.disk_faults.as_deref())?;
            Ok(Command::Serve(Role::Node(NodeOptions {
                id,
                listen,
                data_dir,
                disk_faults,
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

/// `--disk-faults N`: at least 2, so the retry of a failed put is never a faulty put itself.
fn disk_faults(value: Option<&str>) -> Result<Option<u64>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(n) if n >= 2 => Ok(Some(n)),
        _ => Err(format!(
            "--disk-faults expects an integer of at least 2, got {value:?}"
        )),
    }
}

/// The processes `--otlp-endpoints` can name.
pub(crate) const PROCESSES: [&str; 5] = ["driver", "gateway", "node-1", "node-2", "node-3"];

/// `--otlp-endpoints PROCESS=URL,...`: each process at most once, each URL http(s).
fn endpoints(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in list.split(',') {
        let (process, url) = item
            .split_once('=')
            .ok_or_else(|| format!("--otlp-endpoints expects PROCESS=URL items, got {item:?}"))?;
        if !PROCESSES.contains(&process) {
            return Err(format!(
                "--otlp-endpoints: {process:?} is not one of {}",
                PROCESSES.join(", ")
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
            return Err(format!(
                "--otlp-endpoints: {process}={url:?} is not an http:// or https:// URL"
            ));
        }
        if out.iter().any(|(p, _)| p == process) {
            return Err(format!("--otlp-endpoints names {process} twice"));
        }
        out.push((process.to_string(), url.to_string()));
    }
    Ok(out)
}

fn addr(name: &str, value: Option<&str>) -> Result<SocketAddr, String> {
    let value = value.ok_or_else(|| format!("{name} is required"))?;
    value
        .parse()
        .map_err(|_| format!("{name} expects IP:PORT, got {value:?}"))
}

/// `ID=IP:PORT` or `ID=HOST:PORT` (a host name is resolved at each connection attempt, so a
/// node that moves keeps its name).
fn node(item: &str) -> Result<(u64, String), String> {
    let (id, address) = item
        .split_once('=')
        .ok_or_else(|| format!("--nodes expects ID=HOST:PORT items, got {item:?}"))?;
    let id = id
        .parse::<u64>()
        .map_err(|_| format!("--nodes: {id:?} is not a node id"))?;
    if address.parse::<SocketAddr>().is_ok() {
        return Ok((id, address.to_string()));
    }
    let bad = || format!("--nodes: {address:?} is not IP:PORT or HOST:PORT");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !host_ok || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok((id, address.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(String::from))
    }

    fn drive(ops: usize, concurrency: usize) -> DriveOptions {
        DriveOptions {
            ops,
            concurrency,
            kill_leader_after: None,
            nfs_metrics: None,
            data_dir: None,
            serve: false,
            disk_faults: None,
            endpoints: Vec::new(),
        }
    }

    #[test]
    fn driver_defaults_and_overrides() {
        assert_eq!(parse_str(""), Ok(Command::Drive(drive(200, 8))));
        assert_eq!(
            parse_str("--ops 20 --concurrency=3"),
            Ok(Command::Drive(drive(20, 3)))
        );
        assert_eq!(
            parse_str("--ops 50 --kill-leader-after 10 --nfs-metrics dittofs --data-dir /tmp/d"),
            Ok(Command::Drive(DriveOptions {
                kill_leader_after: Some(10),
                nfs_metrics: Some("dittofs".into()),
                data_dir: Some(PathBuf::from("/tmp/d")),
                ..drive(50, 8)
            }))
        );
        assert_eq!(
            parse_str("--disk-faults 7 --otlp-endpoints gateway=http://a:4317,node-2=https://b:1"),
            Ok(Command::Drive(DriveOptions {
                disk_faults: Some(7),
                endpoints: vec![
                    ("gateway".into(), "http://a:4317".into()),
                    ("node-2".into(), "https://b:1".into()),
                ],
                ..drive(200, 8)
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
            "--ops 10 --kill-leader-after 10",
            "--kill-leader-after 0",
            "--nfs-metrics prometheus",
            "--role gateway --listen 127.0.0.1:0",
            "--role gateway --listen 127.0.0.1:0 --nodes 1",
            "--role node --listen 127.0.0.1:0 --data-dir /tmp",
            "--role node --id 1 --listen 127.0.0.1:0",
            "--role node --id 1 --listen nowhere --data-dir /tmp",
            "--role node --id 1 --listen 127.0.0.1:0 --data-dir /tmp --ops 3",
            "--role node --id -1 --listen 127.0.0.1:0 --data-dir /tmp",
            "--role node --id 1 --listen 127.0.0.1:0 --data-dir /tmp --initialize",
            "--role gateway --listen 127.0.0.1:0 --nodes 1=node-1",
            "--role gateway --listen 127.0.0.1:0 --nodes 1=node/1:7000",
            "--role gateway --listen 127.0.0.1:0 --nodes 1=:7000",
            "--ops 3 --initialize",
            "--role db --listen 127.0.0.1:0",
            "--disk-faults 1",
            "--disk-faults many",
            "--otlp-endpoints gateway",
            "--otlp-endpoints node-4=http://a:1",
            "--otlp-endpoints gateway=a:4317",
            "--otlp-endpoints gateway=http://a:1,gateway=http://b:1",
            "--role gateway --listen 127.0.0.1:0 --nodes 1=127.0.0.1:7 --disk-faults 3",
            "--role node --id 1 --listen 127.0.0.1:0 --data-dir /tmp --otlp-endpoints driver=http://a:1",
        ] {
            assert!(parse_str(line).is_err(), "{line:?} was accepted");
        }
    }

    #[test]
    fn roles() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap_or_else(|_| unreachable!());
        assert_eq!(
            parse_str("--role node --id 2 --listen 127.0.0.1:0 --data-dir /tmp/x"),
            Ok(Command::Serve(Role::Node(NodeOptions {
                id: 2,
                listen: addr("127.0.0.1:0"),
                data_dir: PathBuf::from("/tmp/x"),
                disk_faults: None,
            })))
        );
        assert_eq!(
            parse_str("--role gateway --listen 127.0.0.1:0 --nodes 1=127.0.0.1:7,2=127.0.0.1:8"),
            Ok(Command::Serve(Role::Gateway(GatewayOptions {
                listen: addr("127.0.0.1:0"),
                nodes: vec![(1, "127.0.0.1:7".into()), (2, "127.0.0.1:8".into())],
                initialize: false,
            })))
        );
        // As the Kubernetes manifests start them: host names, ids from 0, --initialize.
        assert_eq!(
            parse_str(
                "--role gateway --listen 0.0.0.0:20490 --initialize --nodes 0=storage-node-0.storage-node:7000,1=[::1]:7000"
            ),
            Ok(Command::Serve(Role::Gateway(GatewayOptions {
                listen: addr("0.0.0.0:20490"),
                nodes: vec![
                    (0, "storage-node-0.storage-node:7000".into()),
                    (1, "[::1]:7000".into())
                ],
                initialize: true,
            })))
        );
        assert_eq!(
            parse_str("--role node --id 0 --listen 0.0.0.0:7000 --data-dir /data"),
            Ok(Command::Serve(Role::Node(NodeOptions {
                id: 0,
                listen: addr("0.0.0.0:7000"),
                data_dir: PathBuf::from("/data"),
                disk_faults: None,
            })))
        );
    }
}
