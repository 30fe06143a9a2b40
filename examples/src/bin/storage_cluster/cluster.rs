//! The driver's side of the cluster: it re-executes this binary once per role, learns each
//! child's address from its ready line, and stops them all. A child also stops when its stdin
//! closes, so none outlives the driver even if the driver is killed; and dropping [`Cluster`]
//! (an error, a panic) kills whatever still runs.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::telemetry::READY;
use crate::Error;

/// How long a child may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a child may take to stop and flush its telemetry once asked.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The four children: followers, leader, gateway.
pub(crate) struct Cluster {
    children: Vec<Proc>,
    /// The gateway's address.
    pub(crate) gateway: SocketAddr,
    /// Every node's name and address, in start order.
    pub(crate) nodes: Vec<(String, SocketAddr)>,
}

struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    ready: mpsc::Receiver<Option<SocketAddr>>,
}

impl Cluster {
    /// Starts node-2 and node-3 (followers), node-1 (the leader, replicating to them) and the
    /// gateway (in front of the leader), each with the driver's environment plus `env`.
    pub(crate) fn start(env: &[(String, String)]) -> Result<Cluster, Error> {
        let mut cluster = Cluster {
            children: Vec::new(),
            gateway: SocketAddr::from(([127, 0, 0, 1], 0)),
            nodes: Vec::new(),
        };
        let any = "127.0.0.1:0";
        let f2 = cluster.spawn(
            "node-2",
            &["--role", "node", "--id", "2", "--listen", any],
            env,
        )?;
        let f3 = cluster.spawn(
            "node-3",
            &["--role", "node", "--id", "3", "--listen", any],
            env,
        )?;
        let a2 = cluster.wait_ready(f2)?;
        let a3 = cluster.wait_ready(f3)?;
        let peers = format!("2={a2},3={a3}");
        let l1 = cluster.spawn(
            "node-1",
            &[
                "--role", "node", "--id", "1", "--listen", any, "--peers", &peers,
            ],
            env,
        )?;
        let a1 = cluster.wait_ready(l1)?;
        let leader = a1.to_string();
        let g = cluster.spawn(
            "gateway",
            &["--role", "gateway", "--listen", any, "--leader", &leader],
            env,
        )?;
        cluster.gateway = cluster.wait_ready(g)?;
        cluster.nodes = vec![
            ("node-1".to_string(), a1),
            ("node-2".to_string(), a2),
            ("node-3".to_string(), a3),
        ];
        Ok(cluster)
    }

    fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<usize, Error> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, ready) = mpsc::channel();
        if let Some(stdout) = stdout {
            let prefix = name.to_string();
            // The first line is the ready line; what follows (a console exporter's output, say)
            // goes to our stderr, marked with the child's name.
            let _ = std::thread::Builder::new()
                .name(format!("{name}-stdout"))
                .spawn(move || {
                    let mut lines = BufReader::new(stdout).lines();
                    let first = lines.next().and_then(Result::ok);
                    let addr = first
                        .as_deref()
                        .and_then(|l| l.strip_prefix(READY))
                        .and_then(|a| a.trim().parse().ok());
                    let _ = tx.send(addr);
                    for line in lines.map_while(Result::ok) {
                        let _ = writeln!(std::io::stderr().lock(), "[{prefix}] {line}");
                    }
                });
        }
        self.children.push(Proc {
            name: name.to_string(),
            child,
            stdin,
            ready,
        });
        Ok(self.children.len() - 1)
    }

    fn wait_ready(&mut self, slot: usize) -> Result<SocketAddr, Error> {
        let proc = &mut self.children[slot];
        match proc.ready.recv_timeout(START_TIMEOUT) {
            Ok(Some(addr)) => Ok(addr),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = wait_for_exit(&mut proc.child, Duration::from_secs(2));
                Err(format!("{} did not start ({})", proc.name, describe(status)).into())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("{} was not listening after {START_TIMEOUT:?}", proc.name).into())
            }
        }
    }

    /// Stops the children — the gateway and the leader first, so replication still on the wire
    /// reaches the followers — and waits for each to flush its telemetry and exit. Returns what
    /// went wrong.
    pub(crate) fn shutdown(mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let (first, then): (Vec<usize>, Vec<usize>) = (0..self.children.len())
            .partition(|&i| matches!(self.children[i].name.as_str(), "gateway" | "node-1"));
        for group in [first, then] {
            for &i in &group {
                // Closing stdin is the child's signal to stop.
                drop(self.children[i].stdin.take());
            }
            for &i in &group {
                let proc = &mut self.children[i];
                match wait_for_exit(&mut proc.child, STOP_TIMEOUT) {
                    Some(status) if status.success() => {}
                    status => problems.push(format!("{} {}", proc.name, describe(status))),
                }
            }
        }
        problems
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for proc in &mut self.children {
            if matches!(proc.child.try_wait(), Ok(None)) {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
            }
        }
    }
}

/// Waits up to `timeout` for `child` to exit; kills it past that. `None` if it had to be killed.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn describe(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => format!("exited with {status}"),
        None => "did not exit in time and was killed".to_string(),
    }
}
