//! CPU time of a process (all its threads, living and exited), from `/proc/<pid>/stat`.
//!
//! On a shared 2-core machine throughput moves with whatever else runs; CPU time per request
//! moves much less, so the table shows it next to the rates.

use std::time::Duration;

/// Clock ticks per second of `utime`/`stime` (`getconf CLK_TCK`; 100 on Linux x86-64).
const TICKS_PER_SECOND: u64 = 100;

/// User + system CPU time of process `pid` (this process when `None`), if readable.
pub(crate) fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SECOND,
    ))
}
