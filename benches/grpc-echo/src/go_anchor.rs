//! `--go`: the second anchor. Builds `benches/go-echo` (Go's gRPC unary echo, bare and with
//! otelgrpc's stats handlers; see its main.go) with `benches/go-echo/build`, runs it with the
//! same in-flight count and timing, and prints Go's overhead ratio (otelgrpc ÷ bare) beside
//! ferrotel's over tonic (ferrotel 100% no-op ÷ bare), and ferrotel's ÷ Go's.
//!
//! Each is a peer's overhead on its own stack: compare the ratios, not the absolute speeds.

use std::path::PathBuf;
use std::process::Command;

use crate::load::Measurement;

/// What go-echo prints on its `ratio=` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GoRatio {
    pub(crate) throughput: f64,
    pub(crate) cpu_per_req: f64,
}

/// Parses go-echo's output: its last `go-echo ratio=otelgrpc/bare throughput=… cpu_per_req=…`.
pub(crate) fn parse(output: &str) -> Option<GoRatio> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with("go-echo ratio=otelgrpc/bare "))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(GoRatio {
        throughput: field("throughput")?,
        cpu_per_req: field("cpu_per_req")?,
    })
}

fn build_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../go-echo/build")
}

/// The go-echo binary, built when absent; `Ok(None)` when Go is not installed (exit 3).
fn binary() -> Result<Option<PathBuf>, String> {
    let script = build_script();
    let out = Command::new(&script)
        .output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if out.status.code() == Some(3) {
        return Ok(None);
    }
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(Some(PathBuf::from(path)))
}

/// Runs go-echo at each in-flight count and prints the comparison; `ferrotel(n)` gives the
/// medians of (bare, f100-noop) at that count when both ran.
pub(crate) fn run(
    in_flight: &[usize],
    warmup_s: f64,
    measure_s: f64,
    requests: Option<usize>,
    ferrotel: impl Fn(usize) -> Option<(Measurement, Measurement)>,
) -> Result<(), String> {
    let Some(bin) = binary()? else {
        println!("Go anchor skipped: `go` is not installed, so benches/go-echo cannot be built");
        return Ok(());
    };
    // go-echo's own lines go to stderr as they come, the table to stdout after them.
    let mut rows = Vec::new();
    for &n in in_flight {
        let mut cmd = Command::new(&bin);
        cmd.arg("-in-flight")
            .arg(n.to_string())
            .arg("-warmup")
            .arg(format!("{warmup_s}"))
            .arg("-seconds")
            .arg(format!("{measure_s}"));
        if let Some(r) = requests {
            cmd.arg("-requests").arg(r.to_string());
        }
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "go-echo x{n} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        for line in stdout.lines() {
            eprintln!("{line}");
        }
        let go =
            parse(&stdout).ok_or_else(|| format!("go-echo x{n}: no ratio line in {stdout:?}"))?;
        let ours = ferrotel(n).map(|(bare, f100)| {
            let cpu = match (f100.cpu_us, bare.cpu_us) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            (f100.throughput / bare.throughput, cpu)
        });
        let cell = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"));
        let rate = ours.map(|o| o.0);
        let cpu = ours.and_then(|o| o.1);
        // Overhead ratios compared: CPU ratios directly; for throughput, the slowdown factor
        // (bare ÷ instrumented), so that below 1.0 means ferrotel costs less than Go either way.
        rows.push(format!(
            "| {n} | {:.2} | {:.2} | {} | {} | {} | {} |",
            go.throughput,
            go.cpu_per_req,
            cell(rate),
            cell(cpu),
            cell(cpu.map(|c| c / go.cpu_per_req)),
            cell(rate.map(|r| go.throughput / r)),
        ));
    }
    println!();
    println!(
        "Go anchor ({}): overhead ratios, each peer on its own stack",
        bin.display()
    );
    println!(
        "| in flight | Go otelgrpc ÷ bare, req/s | Go CPU/req ratio | ferrotel 100% no-op ÷ \
         bare tonic, req/s | ferrotel CPU/req ratio | ferrotel ÷ Go, CPU/req | ferrotel ÷ Go, \
         req/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{row}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ratio_line() {
        let out = "go-echo mode=bare in_flight=16 requests=5 seconds=1.000 req_per_s=5 cpu_us_per_req=1.00\n\
                   go-echo ratio=otelgrpc/bare throughput=0.447 cpu_per_req=2.274\n";
        assert_eq!(
            parse(out),
            Some(GoRatio {
                throughput: 0.447,
                cpu_per_req: 2.274
            })
        );
        assert_eq!(parse("go-echo mode=bare\n"), None);
    }
}
