//! `ferrotel-doctor`: prints the effective OTEL_* configuration, the problems found and the
//! result of a real OTLP probe export; exits 0 when healthy, 1 otherwise. See the crate docs.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        println!("usage: ferrotel-doctor   (reads the OTEL_* variables of its environment)");
        return ExitCode::SUCCESS;
    }
    let env = ferrotel::config::Env::from_process();
    let report = ferrotel_doctor::diagnose(&env);
    print!("{}", report.text);
    if report.healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
