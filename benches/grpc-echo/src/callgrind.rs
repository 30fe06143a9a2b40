//! `--callgrind`: marginal instructions per request, per case.
//!
//! On a shared 2-core machine wall-clock rates move by 2× between runs; an instruction count of
//! a fixed amount of work does not. Each case runs twice under `valgrind --tool=callgrind`,
//! this binary re-executed with `--requests SHORT` and `--requests LONG`, and the figure is
//! `(I(LONG) - I(SHORT)) / (LONG - SHORT)`: set-up, warm-up and shutdown cancel out, and what is
//! left is what one more request costs the whole process (client, server, batch processor).

use std::path::{Path, PathBuf};

use crate::telemetry::Case;

/// What `--callgrind` needs from the command line.
pub(crate) struct Options<'a> {
    pub(crate) cases: &'a [Case],
    pub(crate) in_flight: &'a [usize],
    /// The short and the long run's request counts.
    pub(crate) requests: (usize, usize),
}

/// One case's count.
struct Row {
    name: &'static str,
    id: &'static str,
    in_flight: usize,
    per_request: f64,
    files: [PathBuf; 2],
}

/// Runs every case twice under callgrind and prints the marginal instructions per request.
pub(crate) fn run(options: &Options<'_>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let dir = std::env::temp_dir().join(format!("ferrotel-bench-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let (short, long) = options.requests;
    if long <= short {
        return Err(format!(
            "--callgrind-requests needs SHORT,LONG with LONG > SHORT, not {short},{long}"
        ));
    }
    println!(
        "ferrotel-bench-grpc --callgrind: marginal instructions per request, \
         (I({long}) - I({short})) / {}, each run under valgrind --tool=callgrind",
        long - short
    );
    let mut rows = Vec::new();
    for &n in options.in_flight {
        for case in options.cases {
            if case.needs_receiver() {
                eprintln!(
                    "callgrind: skipping {} (the receiver process is not counted)",
                    case.name
                );
                continue;
            }
            let mut counts = [0u64; 2];
            let mut files = [PathBuf::new(), PathBuf::new()];
            for (i, requests) in [short, long].into_iter().enumerate() {
                let file = dir.join(format!("{}-x{n}-{requests}.out", case.id));
                counts[i] = count(&exe, case, n, requests, &file)?;
                files[i] = file;
            }
            let per_request = counts[1].saturating_sub(counts[0]) as f64 / (long - short) as f64;
            eprintln!(
                "callgrind: {:<44} x{n:<3} {:>10.0} instructions/request",
                case.name, per_request
            );
            rows.push(Row {
                name: case.name,
                id: case.id,
                in_flight: n,
                per_request,
                files,
            });
        }
    }
    println!();
    println!(
        "| case | in flight | instructions / request | ÷ bare | ÷ bare-header | added | \
         added above the floor | share of added above the floor | added ÷ davidB's added |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let find = |id: &str| {
            rows.iter()
                .find(|r| r.id == id && r.in_flight == row.in_flight)
                .map(|r| r.per_request)
        };
        let baseline = row.id == "bare" || row.id == "bare-header";
        let bare = find("bare");
        let floor = find("bare-header");
        let davidb = find("davidb-noop");
        let added = bare
            .map(|b| row.per_request - b)
            .filter(|_| row.id != "bare");
        let above = floor.map(|f| row.per_request - f).filter(|_| !baseline);
        let cell = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
        };
        let share = match (above, added) {
            (Some(a), Some(d)) if d > 0.0 => Some(a / d),
            _ => None,
        };
        let ratio_davidb = match (added, davidb, bare) {
            (Some(a), Some(d), Some(b)) if d - b > 0.0 && !baseline => Some(a / (d - b)),
            _ => None,
        };
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            row.name,
            row.in_flight,
            row.per_request,
            cell(bare.map(|b| row.per_request / b), 3),
            cell(floor.map(|f| row.per_request / f), 3),
            cell(added, 0),
            cell(above, 0),
            cell(share, 2),
            cell(ratio_davidb, 2),
        );
    }
    println!();
    println!("callgrind files (for callgrind_annotate; compare a case's long run with bare's):");
    for row in &rows {
        println!(
            "- {} x{}: {} {}",
            row.id,
            row.in_flight,
            row.files[0].display(),
            row.files[1].display()
        );
    }
    Ok(())
}

/// Runs `case` for exactly `requests` requests under callgrind; returns its instruction count.
fn count(
    exe: &Path,
    case: &Case,
    in_flight: usize,
    requests: usize,
    file: &Path,
) -> Result<u64, String> {
    let args = [
        "--cases".to_string(),
        case.id.to_string(),
        "--in-flight".to_string(),
        in_flight.to_string(),
        "--requests".to_string(),
        requests.to_string(),
    ];
    crate::instructions::count(exe, &args, file)
        .map_err(|e| format!("{} ({requests} requests): {e}", case.name))
}
