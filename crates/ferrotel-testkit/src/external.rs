//! Tests that need a program from outside Cargo (prometheus, promtool, Jaeger, Python packages,
//! libnfs) skip when it is missing, unless [`REQUIRE_EXTERNAL`] makes that a failure.

use std::path::PathBuf;

/// Set to `1` to make a missing external program a failure instead of a skip (`.ci/run` sets
/// it after installing the programs).
pub const REQUIRE_EXTERNAL: &str = "FERROTEL_REQUIRE_EXTERNAL";

/// The one rule for a missing program: prints `skipped: {why}` and returns `None`, or panics
/// when [`REQUIRE_EXTERNAL`] is `1`. A test returns early on the `None`:
/// `let Some(tool) = program(..) else { return };`.
pub fn skip<T>(why: &str) -> Option<T> {
    if std::env::var(REQUIRE_EXTERNAL).as_deref() == Ok("1") {
        panic!("skipped: {why}, and {REQUIRE_EXTERNAL}=1 makes that a failure");
    }
    println!("skipped: {why}");
    None
}

/// `program` from `PATH`, or [`skip`] with `program not found (hint)`.
pub fn program(program: &str, hint: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => Some(path),
        None => skip(&format!("{program} not found ({hint})")),
    }
}

/// Runs `program` with `args` and returns its standard output; panics with both outputs when
/// it cannot start or exits unsuccessfully.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
