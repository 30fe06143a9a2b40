//! Instruction counts from `valgrind --tool=callgrind`, shared by both benchmarks' callgrind
//! modes.

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `exe` with `args` under callgrind, writing `file`; returns the run's instruction count.
pub(crate) fn count(exe: &Path, args: &[String], file: &Path) -> Result<u64, String> {
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(exe)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run valgrind (is it installed?): {e}"))?;
    if !status.success() {
        return Err(format!(
            "{} {} under callgrind failed: {status}",
            exe.display(),
            args.join(" ")
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    total_instructions(&text).ok_or_else(|| format!("no instruction total in {}", file.display()))
}

/// The `summary:` (or `totals:`) line of a callgrind output file: Ir over the whole run.
fn total_instructions(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::total_instructions;

    #[test]
    fn reads_the_summary_line() {
        let text = "events: Ir\nsummary: 123456\nfn=main\n";
        assert_eq!(total_instructions(text), Some(123_456));
        assert_eq!(total_instructions("totals: 7\n"), Some(7));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }
}
