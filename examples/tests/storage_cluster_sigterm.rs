//! SIGTERM stops the storage-cluster demo as Ctrl-C does: sent to the driver mid-run (after
//! its first progress line), the children flush into the driver's embedded receiver before it
//! stops, every span is received or counted as dropped, the exit status is 143, the temporary
//! directory is gone and no child process survives.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

/// `name=N` in a `storage-cluster: WHO: spans exported=E dropped=D failed=F` line.
fn count(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

/// Whether `pid` is a storage-cluster child still alive (a pid reused by something else is
/// not one).
fn child_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("--role"))
        .unwrap_or(false)
}

#[test]
fn sigterm_mid_run_flushes_every_process_and_leaves_nothing_behind() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_storage-cluster"));
    for (key, _) in std::env::vars() {
        // No endpoint: the driver runs its embedded receiver, the one the children must reach
        // before it stops.
        if key.starts_with("OTEL_") || key.starts_with("FERROTEL_") {
            command.env_remove(key);
        }
    }
    let mut driver = command
        .args(["--ops", "3000", "--concurrency", "4"])
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start storage-cluster");
    let mut stdout = driver.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let stderr = driver.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // Ready: the children's pids and the data directory are printed, then progress lines.
    let mut seen = Vec::new();
    let mut pids = Vec::new();
    let mut data_dir = None;
    for line in lines.iter() {
        if let Some(pid) = line
            .split("pid ")
            .nth(1)
            .and_then(|rest| rest.trim_end_matches(')').parse::<u32>().ok())
        {
            pids.push(pid);
        }
        if let Some(rest) = line.strip_prefix("storage-cluster: node files under ") {
            data_dir = rest.split(" (").next().map(PathBuf::from);
        }
        let mid_run = line.contains(" ops (");
        seen.push(line);
        if mid_run {
            break;
        }
    }
    assert_eq!(
        pids.len(),
        4,
        "gateway and three nodes:\n{}",
        seen.join("\n")
    );
    let data_dir = data_dir.unwrap_or_else(|| panic!("no data directory:\n{}", seen.join("\n")));
    assert!(data_dir.exists(), "{}", data_dir.display());

    let killed = Command::new("kill")
        .args(["-TERM", &driver.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let status = driver.wait().expect("wait for the driver");
    seen.extend(lines.iter());
    let stderr = seen.join("\n");
    let stdout = stdout.join().unwrap();

    assert_eq!(status.code(), Some(143), "{status:?}\n{stderr}\n{stdout}");
    assert!(
        stderr.contains("storage-cluster: interrupted (SIGTERM)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("NFS operations"),
        "the summary is printed:\n{stdout}"
    );

    // Every process's spans: exported (and so at the receiver) or counted as dropped.
    let accounts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": spans exported="))
        .collect();
    assert_eq!(accounts.len(), 5, "driver, gateway, three nodes:\n{stderr}");
    let mut exported = 0;
    for line in &accounts {
        assert_eq!(
            count(line, "failed"),
            0,
            "no export failed: {line}\n{stderr}"
        );
        exported += count(line, "exported");
    }
    let received = stderr
        .lines()
        .find_map(|l| l.strip_prefix("storage-cluster: embedded receiver: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no receiver count:\n{stderr}"));
    assert!(exported > 0, "{stderr}");
    assert_eq!(received, exported, "every exported span arrived:\n{stderr}");
    support::assert_no_lost_telemetry("storage-cluster", &stderr);
    assert!(
        !stderr.contains("did not stop"),
        "every child stopped when asked:\n{stderr}"
    );

    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
    for pid in pids {
        assert!(!child_alive(pid), "child {pid} survived the driver");
    }
}
