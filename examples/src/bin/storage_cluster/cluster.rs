//! The driver's side of the cluster: it re-executes this binary once per role, learns each
//! child's address from its ready line, and stops them all. A child also stops when its stdin
//! closes, so none outlives the driver even if the driver is killed; and dropping [`Cluster`]
//! (an error, a panic) kills whatever still runs.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::gateway::STATS;
use crate::telemetry::parse_ready;
use crate::Error;

/// How long a child may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What stopping the cluster found.
pub(crate) struct Stopped {
    /// The children that did not stop cleanly, and why.
    pub(crate) problems: Vec<String>,
    /// The gateway's `stats …` lines.
    pub(crate) gateway_stats: Vec<String>,
}

/// One storage node as the driver knows it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    /// Its `/metrics` page, if it serves one.
    pub(crate) metrics: Option<SocketAddr>,
}

/// The four children: three storage nodes and the NFS gateway.
pub(crate) struct Cluster {
    children: Vec<Proc>,
    /// The gateway's NFS address and `/metrics` page.
    pub(crate) gateway: SocketAddr,
    pub(crate) gateway_metrics: Option<SocketAddr>,
    pub(crate) nodes: Vec<Member>,
    /// How long a child may take to stop and flush its telemetry once asked: longer than the
    /// telemetry's own shutdown bound, so a slow collector is never mistaken for a hung child.
    stop_timeout: Duration,
    /// `(child, OTLP endpoint)` of the children that export elsewhere.
    endpoints: Vec<(String, String)>,
}

struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    ready: mpsc::Receiver<Option<(SocketAddr, Option<SocketAddr>)>>,
    /// The `stats …` lines the child wrote after its ready line.
    stats: Arc<Mutex<Vec<String>>>,
    /// Killed on purpose (`--kill-leader-after`): its exit is no problem.
    killed: bool,
    /// The thread reading its stdout.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Cluster {
    /// Starts the three storage nodes, then the gateway in front of them, each with the
    /// driver's environment plus `env` (and its own OTLP endpoint when `endpoints` names it);
    /// node files go under `data_dir`, on a disk that misbehaves every `disk_faults` puts.
    pub(crate) fn start(
        env: &[(String, String)],
        endpoints: &[(String, String)],
        data_dir: &Path,
        disk_faults: Option<u64>,
        telemetry_shutdown: Duration,
    ) -> Result<Cluster, Error> {
        let mut cluster = Cluster {
            children: Vec::new(),
            gateway: SocketAddr::from(([127, 0, 0, 1], 0)),
            gateway_metrics: None,
            nodes: Vec::new(),
            stop_timeout: stop_timeout(telemetry_shutdown),
            endpoints: endpoints.to_vec(),
        };
        let any = "127.0.0.1:0";
        let dir = data_dir.display().to_string();
        let mut slots = Vec::new();
        for id in 1..=3u64 {
            let name = format!("node-{id}");
            let id_arg = id.to_string();
            let mut args = vec![
                "--role".to_string(),
                "node".into(),
                "--id".into(),
                id_arg,
                "--listen".into(),
                any.into(),
                "--data-dir".into(),
                dir.clone(),
            ];
            if let Some(every) = disk_faults {
                args.extend(["--disk-faults".to_string(), every.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            slots.push((id, name.clone(), cluster.spawn(&name, &args, env)?));
        }
        for (id, name, slot) in slots {
            let (addr, metrics) = cluster.wait_ready(slot)?;
            cluster.nodes.push(Member {
                id,
                name,
                addr,
                metrics,
            });
        }
        let nodes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|m| format!("{}={}", m.id, m.addr))
            .collect();
        let nodes = nodes.join(",");
        let g = cluster.spawn(
            "gateway",
            &["--role", "gateway", "--listen", any, "--nodes", &nodes],
            env,
        )?;
        (cluster.gateway, cluster.gateway_metrics) = cluster.wait_ready(g)?;
        Ok(cluster)
    }

    /// Kills node `id` at once (SIGKILL: no flush, no goodbye), as a crash would.
    pub(crate) fn kill(&mut self, id: u64) -> Result<(), Error> {
        let name = format!("node-{id}");
        let proc = self
            .children
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| format!("no {name} to kill"))?;
        proc.killed = true;
        proc.child
            .kill()
            .map_err(|e| format!("cannot kill {name}: {e}"))?;
        let _ = proc.child.wait();
        Ok(())
    }

    /// The process id of the child called `name` (`gateway`, `node-N`), for an operator who
    /// wants to check that none outlives the driver.
    pub(crate) fn pid(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.child.id())
    }

    /// The `stats …` lines a child wrote (the gateway writes one as it stops).
    pub(crate) fn stats(&self, name: &str) -> Vec<String> {
        self.children
            .iter()
            .filter(|p| p.name == name)
            .flat_map(|p| p.stats.lock().map(|s| s.clone()).unwrap_or_default())
            .collect()
    }

    fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<usize, Error> {
        let exe = std::env::current_exe()?;
        let own = self
            .endpoints
            .iter()
            .filter(|(child, _)| child == name)
            .map(|(_, url)| {
                (
                    ferrotel::config::vars::OTEL_EXPORTER_OTLP_ENDPOINT,
                    url.as_str(),
                )
            });
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(own)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, ready) = mpsc::channel();
        let stats = Arc::new(Mutex::new(Vec::new()));
        let mut reader = None;
        if let Some(stdout) = stdout {
            let prefix = name.to_string();
            let kept = Arc::clone(&stats);
            // The first line is the ready line; what follows (a console exporter's output, say)
            // goes to our stderr, marked with the child's name.
            reader = std::thread::Builder::new()
                .name(format!("{name}-stdout"))
                .spawn(move || {
                    let mut lines = BufReader::new(stdout).lines();
                    let first = lines.next().and_then(Result::ok);
                    let _ = tx.send(first.as_deref().and_then(parse_ready));
                    for line in lines.map_while(Result::ok) {
                        if line.starts_with(STATS) {
                            if let Ok(mut kept) = kept.lock() {
                                kept.push(line);
                            }
                        } else {
                            let _ = writeln!(std::io::stderr().lock(), "[{prefix}] {line}");
                        }
                    }
                })
                .ok();
        }
        self.children.push(Proc {
            name: name.to_string(),
            child,
            stdin,
            ready,
            stats,
            killed: false,
            reader,
        });
        Ok(self.children.len() - 1)
    }

    fn wait_ready(&mut self, slot: usize) -> Result<(SocketAddr, Option<SocketAddr>), Error> {
        let proc = &mut self.children[slot];
        match proc.ready.recv_timeout(START_TIMEOUT) {
            Ok(Some(ready)) => Ok(ready),
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = wait_for_exit(&mut proc.child, Duration::from_secs(2));
                Err(format!("{} did not start ({})", proc.name, describe(status)).into())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("{} was not listening after {START_TIMEOUT:?}", proc.name).into())
            }
        }
    }

    /// Stops the children — the gateway first, so no call is left half-way, then the nodes —
    /// and waits for each to flush its telemetry and exit. Returns what went wrong; a node
    /// killed on purpose is not a problem.
    pub(crate) fn shutdown(mut self) -> Stopped {
        let mut problems = Vec::new();
        let (first, then): (Vec<usize>, Vec<usize>) =
            (0..self.children.len()).partition(|&i| self.children[i].name == "gateway");
        for group in [first, then] {
            for &i in &group {
                // Closing stdin is the child's signal to stop.
                drop(self.children[i].stdin.take());
            }
            for &i in &group {
                let timeout = self.stop_timeout;
                let proc = &mut self.children[i];
                if proc.killed {
                    continue;
                }
                match wait_for_exit(&mut proc.child, timeout) {
                    Some(status) if status.success() => {}
                    Some(status) => problems.push(format!("{} exited with {status}", proc.name)),
                    None => problems.push(format!(
                        "{} did not stop within {timeout:?} (its telemetry may not have been flushed) and was killed",
                        proc.name
                    )),
                }
            }
        }
        for proc in &mut self.children {
            // The reader thread ends at the child's end of output: its last lines are in.
            if let Some(reader) = proc.reader.take() {
                let _ = reader.join();
            }
        }
        Stopped {
            problems,
            gateway_stats: self.stats("gateway"),
        }
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

/// How long a child may take to stop: its telemetry's shutdown bound (the same variables set
/// it in every process) and a margin for the rest, so a slow collector is reported as such by
/// the child, never cut short by a fixed timeout and reported as a crash.
fn stop_timeout(telemetry_shutdown: Duration) -> Duration {
    telemetry_shutdown + Duration::from_secs(10)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_longer_than_its_telemetry_to_stop() {
        // An OTLP timeout of 15 s (or more) once met a fixed 15 s stop timeout: node-1 was
        // killed silently while still flushing.
        for secs in [0, 5, 15, 30, 120] {
            let bound = Duration::from_secs(secs);
            assert!(stop_timeout(bound) > bound + Duration::from_secs(5));
        }
    }
}
